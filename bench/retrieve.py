"""`python -m bench retrieve`: C-MOVE of a CT with DCMTK `movescu` to DCMTK `storescp`, from
the portal and from Orthanc holding the same files, in the same run.

The CT is received into a scratch portal (SQLite, temporary folder) and sent to Orthanc by
`storescu`. Each round then starts a fresh storescp per server and times `movescu` from its
start to its exit (the same process overhead on both sides); the move counts only once
storescp holds every instance. The portal's listener runs in this process, its move going
through a send job as any workstation's would.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import data, ingest, peers
from bench.processes import Processes, free_port

BASE_DIR = Path(__file__).resolve().parent.parent
WORKSTATION = "BENCHWS"


def run(*, slices: int, rounds: int, data_dir: Path, keep: bool = False) -> int:
    missing = [t for t in ("storescu", "movescu", "storescp", "echoscu") if not shutil.which(t)]
    if missing or not peers.orthanc_available():
        print("DCMTK and Orthanc are needed (apt-get install dcmtk orthanc)", file=sys.stderr)
        return 2
    ct = data.ct_series(data_dir, slices=slices)
    work = Path(tempfile.mkdtemp(prefix="vetportal-bench-retrieve-"))
    (work / "logs").mkdir()
    try:
        with ingest.django_portal(work) as env, Processes(work / "logs", env, BASE_DIR) as procs:
            figures = _measure(procs, ct, work, rounds=rounds)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(
        f"C-MOVE benchmark: {ct.label}, {ct.instances} instances, {ct.megabytes:.0f} MB, loopback"
    )
    print(f"movescu → storescp, best of {rounds} round(s); ratio = Orthanc's time / the portal's")
    print(f"{'server':<10} {'seconds':>8} {'inst/s':>8} {'MB/s':>8} {'ratio':>7}")
    for server, seconds in figures.items():
        print(
            f"{server:<10} {seconds:8.2f} {ct.instances / seconds:8.1f} "
            f"{ct.megabytes / seconds:8.1f} {figures['orthanc'] / seconds:7.2f}"
        )
    return 0


def _measure(procs: Processes, ct: data.DataSet, work: Path, *, rounds: int) -> dict[str, float]:
    from django.conf import settings

    from bench.send import _receive_into_portal
    from imaging.dicom import listener
    from imaging.models import Destination

    settings.CELERY_BROKER_URL = None
    print("Receiving the CT into the portal …", flush=True)
    _receive_into_portal(ct, work)
    # The thumbnails of a received study render on this process's task thread: let them
    # finish, so the moves are timed as a listener in daily use would serve them.
    from clinic import queue

    queue.wait_for_local_tasks(timeout=600)
    destination_port = free_port()
    destination = Destination.objects.create(
        name="storescp", ae_title="STORESCP", host="127.0.0.1", port=destination_port
    )
    print("… and into Orthanc", flush=True)
    orthanc = peers.Orthanc(
        procs,
        work / "orthanc",
        extra_config={
            "DicomModalities": {
                "storescp": ["STORESCP", "127.0.0.1", destination_port],
                "workstation": [WORKSTATION, "127.0.0.1", 104],
            },
            "DicomAlwaysAllowMove": True,
        },
    )
    peers.storescu_send(
        procs, ct.directory, orthanc.dicom_port, peers.ORTHANC_AE_TITLE, tag="orthanc-load"
    )
    ae = listener.build_ae(ae_title="VETPORTAL", max_pdu=settings.DICOM_MAX_PDU)
    server = listener.start(
        ae, host="127.0.0.1", port=0, require_known_devices=False, min_free_bytes=0
    )
    servers = {
        "portal": (server.server_address[1], "VETPORTAL"),
        "orthanc": (orthanc.dicom_port, peers.ORTHANC_AE_TITLE),
    }
    best: dict[str, float] = {}
    try:
        for round_number in range(1, rounds + 1):
            for name, (port, called_ae) in servers.items():
                print(f"round {round_number}: {name} …", flush=True)
                seconds = _move(procs, ct, work / f"{name}-{round_number}", port, called_ae,
                                destination_port)  # fmt: skip
                best[name] = min(best.get(name, seconds), seconds)
    finally:
        listener.stop(ae, server, grace=2.0)
    jobs = destination.jobs.filter(requested_by_ae=WORKSTATION)
    if jobs.count() != rounds or jobs.exclude(state="sent").exists():
        raise RuntimeError("the portal's moves did not all end as sent")
    return best


def _move(
    procs: Processes,
    ct: data.DataSet,
    work: Path,
    port: int,
    called_ae: str,
    destination_port: int,
) -> float:
    """Time one movescu of the whole study to a fresh storescp on `destination_port`."""
    storescp_out = work / "storescp-out"
    storescp_out.mkdir(parents=True)
    receiver = procs.start(
        f"storescp-{work.name}",
        ["storescp", "-od", str(storescp_out), str(destination_port)],
        env=peers.dcmtk_env(procs.env),
    )
    peers.wait_for_echo(receiver, destination_port, "STORESCP")
    argv = [
        "movescu", "-S", "-aet", WORKSTATION, "-aec", called_ae, "-aem", "STORESCP",
        "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={ct.study_uid}",
        "127.0.0.1", str(port),
    ]  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(
        argv, env=peers.dcmtk_env(procs.env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, timeout=1800,
    )  # fmt: skip
    seconds = time.monotonic() - started
    (procs.log_dir / f"movescu-{work.name}.log").write_text(result.stdout)
    procs.stop(receiver)
    stored = sum(1 for path in storescp_out.iterdir() if path.is_file())
    if result.returncode != 0 or stored != ct.instances:
        raise RuntimeError(
            f"movescu from {called_ae} ended {result.returncode} with {stored}/{ct.instances} "
            f"instances at storescp:\n{result.stdout[-2000:]}"
        )
    return seconds
