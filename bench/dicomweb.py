"""`python -m bench dicomweb`: the portal's DICOMweb next to Orthanc's DICOMweb plugin, same data.

Measures, for both servers in the same run:
- WADO-RS frame throughput: every frame of the 500-slice 512×512 CT, one request per frame as
  Cornerstone's image loader asks (`transfer-syntax=*`), from several client threads;
- series metadata of that CT, the first answer and a repeated one (what a viewer waits for);
- `rendered` latency of a 3000×2500 DR image (JPEG, full size and a 1024 viewport);
- QIDO-RS study search latency with 10,000 studies (the first page as OHIF asks it, by
  Patient ID, by name prefix, by a month of study dates).
The CT and DR go to both by DCMTK `storescu`. The 10,000 studies are rows created in bulk in
the portal's database, and real small instances stored into Orthanc with `storescu`.
"""

from __future__ import annotations

import calendar
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench import data, ingest, peers
from bench.processes import Processes, ProcessFailed
from bench.studies import portal_rows, small_studies

BASE_DIR = Path(__file__).resolve().parent.parent
DICOMWEB_PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"
VIEWER_ACCEPT = "multipart/related; type=application/octet-stream; transfer-syntax=*"
PLAIN_ACCEPT = 'multipart/related; type="application/octet-stream"'


@dataclass
class Server:
    """One DICOMweb root to measure, and the headers it needs."""

    name: str
    root: str
    headers: dict[str, str] = field(default_factory=dict)
    figures: dict[str, float | str] = field(default_factory=dict)


def run(
    *,
    ct_slices: int,
    studies: int,
    repeat: int,
    concurrency: int,
    skip_orthanc: bool,
    data_dir: Path,
    keep: bool,
) -> int:
    missing = [tool for tool in ("storescu", "echoscu") if not shutil.which(tool)]
    if missing:
        print("DCMTK is needed (apt-get install dcmtk)", file=sys.stderr)
        return 2
    compare = not skip_orthanc and peers.orthanc_available() and Path(DICOMWEB_PLUGIN).exists()
    if not skip_orthanc and not compare:
        print("Orthanc or its DICOMweb plugin is missing (apt-get install orthanc "
              "orthanc-dicomweb): measuring the portal alone.", file=sys.stderr)  # fmt: skip
    ct = data.ct_series(data_dir, slices=ct_slices)
    dr = data.dr_views(data_dir, images=1)
    small = small_studies(data_dir, count=studies)
    work = Path(tempfile.mkdtemp(prefix="vetportal-bench-dicomweb-"))
    (work / "logs").mkdir()
    failed = True
    try:
        servers = _measure(ct, dr, small, work, repeat=repeat, concurrency=concurrency,
                           compare=compare)  # fmt: skip
        _report(servers, ct=ct, studies=studies, repeat=repeat, concurrency=concurrency)
        failed = False
        return 0
    except (ProcessFailed, RuntimeError) as exc:
        print(f"\nThe benchmark could not run: {exc}", file=sys.stderr)
        return 1
    finally:
        if keep or failed:
            print(f"Kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def _measure(ct, dr, small, work: Path, *, repeat, concurrency, compare) -> list[Server]:
    from bench.database import scratch_database
    from bench.portal import AE_TITLE, Portal

    redis_url = os.environ.get("REDIS_URL") or None
    with scratch_database(os.environ.get("DATABASE_URL") or None) as database_url:
        env = ingest.environment(
            data_dir=work / "portal-data", database_url=database_url, redis_url=redis_url
        )
        os.environ.clear()
        os.environ.update(env)
        import django

        django.setup()
        from django.db import connections

        try:
            with Processes(work / "logs", env, BASE_DIR) as procs:
                portal = Portal(procs, redis_url=redis_url)
                portal.prepare()
                print("Sending the CT and the DR image to the portal …", flush=True)
                listener, worker, port = portal.start_receivers("dicomweb")
                for dataset in (ct, dr):
                    peers.storescu_send(procs, dataset.directory, port, AE_TITLE,
                                        tag=f"portal-{dataset.name}")  # fmt: skip
                    _wait_indexed(dataset)
                for process in (worker, listener):
                    if process:
                        procs.stop(process)
                print(f"Creating {len(small)} studies in the portal's database …", flush=True)
                portal_rows(small)
                url = f"http://127.0.0.1:{portal.http_port}/dicomweb"
                servers = [Server("portal", url, {"Authorization": f"Token {portal.token}"})]
                if compare:
                    servers.append(_orthanc(procs, work, ct, dr, small))
                for server in servers:
                    print(f"Measuring {server.name} …", flush=True)
                    _run_requests(server, ct, dr, small, repeat=repeat, concurrency=concurrency)
                return servers
        finally:
            connections.close_all()


def _wait_indexed(dataset, timeout: float = 600) -> None:
    from imaging.models import Instance

    deadline = time.monotonic() + timeout
    rows = Instance.objects.filter(series__study__study_instance_uid=dataset.study_uid)
    while rows.count() < dataset.instances:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{dataset.label} was not indexed within {timeout:.0f} s")
        time.sleep(0.2)


def _orthanc(procs: Processes, work: Path, ct, dr, small) -> Server:
    orthanc = peers.Orthanc(
        procs,
        work / "orthanc",
        extra_config={
            "Plugins": [DICOMWEB_PLUGIN],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
        },
    )
    for dataset in (ct, dr):
        print(f"Sending the {dataset.label} to Orthanc …", flush=True)
        peers.storescu_send(procs, dataset.directory, orthanc.dicom_port,
                            peers.ORTHANC_AE_TITLE, tag=f"orthanc-{dataset.name}")  # fmt: skip
    print(f"Sending {len(small)} small studies to Orthanc …", flush=True)
    peers.storescu_send(procs, small.directory, orthanc.dicom_port, peers.ORTHANC_AE_TITLE,
                        tag="orthanc-studies")  # fmt: skip
    return Server(f"{peers.orthanc_version()} + DICOMweb plugin",
                  f"http://127.0.0.1:{orthanc.http_port}/dicom-web")  # fmt: skip


# --- the requests -----------------------------------------------------------------------------


_local = threading.local()


def _session():
    import requests

    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def _get(server: Server, path: str, accept: str, params: dict | None = None) -> bytes:
    from urllib.parse import urlencode

    # Commas stay literal: Orthanc's plugin does not decode %2C in `viewport` or `includefield`.
    query = ("?" + urlencode(params, safe=",*")) if params else ""
    response = _session().get(
        server.root + path + query, headers={**server.headers, "Accept": accept}, timeout=120
    )
    if response.status_code != 200:
        raise RuntimeError(f"{server.name}: GET {path} answered {response.status_code}")
    return response.content


def _timed(function, repeat: int) -> tuple[float, float]:
    """(first, median of the rest) in seconds."""
    times = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times[0], statistics.median(times[1:])


def _run_requests(server: Server, ct, dr, small, *, repeat: int, concurrency: int) -> None:
    from imaging.models import Instance

    figures = server.figures
    # Warm up: a first search and a header read load the server's code, as in daily use.
    _get(server, "/studies", "application/dicom+json", {"limit": "1"})
    dr_sop = Instance.objects.filter(series__study__study_instance_uid=dr.study_uid).values_list(
        "series__series_instance_uid", "sop_instance_uid"
    )[0]
    dr_instance = f"/studies/{dr.study_uid}/series/{dr_sop[0]}/instances/{dr_sop[1]}"
    _get(server, dr_instance + "/metadata", "application/dicom+json")
    ct_sops = list(
        Instance.objects.filter(series__study__study_instance_uid=ct.study_uid)
        .order_by("instance_number")
        .values_list("series__series_instance_uid", "sop_instance_uid")
    )
    series_uid = ct_sops[0][0]
    series_path = f"/studies/{ct.study_uid}/series/{series_uid}"
    first, again = _timed(
        lambda: _get(server, series_path + "/metadata", "application/dicom+json"), 3
    )
    figures["metadata first s"], figures["metadata again s"] = first, again

    accept = VIEWER_ACCEPT
    probe = f"{series_path}/instances/{ct_sops[0][1]}/frames/1"
    try:
        _get(server, probe, accept)
    except RuntimeError:
        accept = PLAIN_ACCEPT  # a server that does not take transfer-syntax=*
        _get(server, probe, accept)
    figures["frames accept"] = accept
    paths = [f"{series_path}/instances/{sop}/frames/1" for _, sop in ct_sops]
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        sizes = list(pool.map(lambda path: len(_get(server, path, accept)), paths))
    seconds = time.perf_counter() - started
    figures["frames/s"] = len(paths) / seconds
    figures["MB/s"] = sum(sizes) / seconds / 1e6

    rendered = dr_instance + "/rendered"
    first, median = _timed(lambda: _get(server, rendered, "image/jpeg"), repeat)
    figures["rendered first s"], figures["rendered s"] = first, median
    first, median = _timed(
        lambda: _get(server, rendered, "image/jpeg", {"viewport": "1024,1024"}), repeat
    )
    figures["rendered 1024 s"] = median

    middle = small.rows[len(small.rows) // 2]
    month = middle["date"][:6]
    last_day = calendar.monthrange(int(month[:4]), int(month[4:]))[1]
    queries = {
        "first page": {"limit": "101", "offset": "0", "fuzzymatching": "false",
                       "includefield": "00081030,00080060"},
        "PatientID": {"PatientID": middle["patient_id"]},
        "name prefix": {"PatientName": middle["owner"][:-1] + "*", "limit": "101"},
        "a month": {"StudyDate": f"{month}01-{month}{last_day:02d}", "limit": "101"},
    }  # fmt: skip
    for label, params in queries.items():
        found = len(json.loads(_get(server, "/studies", "application/dicom+json", params)))
        _, median = _timed(lambda p=params: _get(server, "/studies", "application/dicom+json", p),
                           repeat)  # fmt: skip
        figures[f"QIDO {label} s"] = median
        figures[f"QIDO {label} n"] = found


def _report(servers: list[Server], *, ct, studies: int, repeat: int, concurrency: int) -> None:
    print()
    print(f"DICOMweb benchmark on {os.cpu_count()} cores, loopback; {ct.label}; {studies} studies "
          f"for QIDO; medians of {repeat} repeats; frames from {concurrency} client threads.")  # fmt: skip
    portal = servers[0]
    other = servers[1] if len(servers) > 1 else None
    rows = [
        ("frames, all of the CT", "frames/s", "{:.0f} frames/s", True),
        ("frames, all of the CT", "MB/s", "{:.0f} MB/s", True),
        ("series metadata, first", "metadata first s", "{:.3f} s", False),
        ("series metadata, again", "metadata again s", "{:.3f} s", False),
        ("rendered DR, first", "rendered first s", "{:.3f} s", False),
        ("rendered DR 3000×2500 JPEG", "rendered s", "{:.3f} s", False),
        ("rendered DR, viewport 1024", "rendered 1024 s", "{:.3f} s", False),
        ("QIDO first page (OHIF)", "QIDO first page s", "{:.4f} s", False),
        ("QIDO by PatientID", "QIDO PatientID s", "{:.4f} s", False),
        ("QIDO by name prefix", "QIDO name prefix s", "{:.4f} s", False),
        ("QIDO a month of dates", "QIDO a month s", "{:.4f} s", False),
    ]
    header = f"{'':<28} {'portal':>16}"
    if other:
        header += f" {'Orthanc':>16} {'speed ratio':>12}"
    print(header)
    for label, key, fmt, higher_better in rows:
        line = f"{label:<28} {fmt.format(portal.figures[key]):>16}"
        if other:
            mine, theirs = portal.figures[key], other.figures[key]
            ratio = mine / theirs if higher_better else theirs / mine
            line += f" {fmt.format(theirs):>16} {ratio:>11.2f}×"
        print(line)
    for server in servers:
        counts = ", ".join(
            f"{label} {server.figures[f'QIDO {label} n']}"
            for label in ("first page", "PatientID", "name prefix", "a month")
        )
        print(f"QIDO results on {server.name}: {counts}")
    if other:
        print(f"speed ratio > 1: the portal is faster. Orthanc: {other.name}; frames asked "
              f"with: {other.figures['frames accept']}")  # fmt: skip
