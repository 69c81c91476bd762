"""`python -m bench query`: Query/Retrieve C-FIND study searches with DCMTK `findscu`, next to Orthanc.

10,000 small studies (`bench.studies`): index rows created in bulk in the portal's database,
real one-instance studies stored into Orthanc with `storescu`. Then `findscu` (TCP_NODELAY=1)
asks both, in the same run, the study-level searches a workstation makes: every study, a
Patient's Name wildcard, a month of study dates and one Patient ID, with the return keys a
study browser shows. Each time is the whole `findscu` run (process start, association, every
answer, release), the same for both; medians of `--repeat` runs after one warm-up.
"""

from __future__ import annotations

import calendar
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import ingest, peers
from bench.processes import Processes, ProcessFailed, free_port
from bench.studies import SmallStudies, portal_rows, small_studies

BASE_DIR = Path(__file__).resolve().parent.parent
AE_TITLE = "VETPORTAL"
# What a study browser asks for (the keys of a workstation's study list).
RETURN_KEYS = [
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
    "AccessionNumber", "StudyID", "StudyDescription", "ModalitiesInStudy",
    "ReferringPhysicianName", "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances",
    "StudyInstanceUID",
]  # fmt: skip


def run(*, studies: int, repeat: int, skip_orthanc: bool, data_dir: Path, keep: bool) -> int:
    if not shutil.which("findscu") or not shutil.which("storescu"):
        print("DCMTK is needed (apt-get install dcmtk)", file=sys.stderr)
        return 2
    compare = not skip_orthanc and peers.orthanc_available()
    if not skip_orthanc and not compare:
        print("Orthanc is not installed (apt-get install orthanc): the portal alone.", file=sys.stderr)  # fmt: skip
    print(f"Preparing {studies:,} small studies …", flush=True)
    small = small_studies(data_dir, count=studies)
    work = Path(tempfile.mkdtemp(prefix="vetportal-bench-query-"))
    (work / "logs").mkdir()
    failed = True
    try:
        results, database = _measure(small, work, repeat=repeat, compare=compare)
        _report(results, studies=studies, repeat=repeat, database=database)
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


def _queries(small: SmallStudies) -> dict[str, dict[str, str]]:
    middle = small.rows[len(small.rows) // 2]
    month = middle["date"][:6]
    last_day = calendar.monthrange(int(month[:4]), int(month[4:]))[1]
    return {
        "every study": {},
        "PatientName wildcard": {"PatientName": middle["owner"][:-1] + "*"},
        "a month of dates": {"StudyDate": f"{month}01-{month}{last_day:02d}"},
        "one PatientID": {"PatientID": middle["patient_id"]},
    }


def _measure(small: SmallStudies, work: Path, *, repeat: int, compare: bool):
    from bench.database import scratch_database

    with (
        scratch_database(os.environ.get("DATABASE_URL") or None) as database_url,
        ingest.django_portal(work, database_url=database_url) as env,
        Processes(work / "logs", env, BASE_DIR) as procs,
    ):
        from django.db import connections

        print(f"Creating {len(small):,} studies in the portal's database …", flush=True)
        portal_rows(small)
        connections.close_all()
        port = free_port()
        listener = procs.start(
            "listener",
            [sys.executable, str(BASE_DIR / "manage.py"), "dicomlistener",
             "--port", str(port), "--ae-title", AE_TITLE],
        )  # fmt: skip
        peers.wait_for_echo(listener, port, AE_TITLE)
        servers = {"portal": (port, AE_TITLE)}
        if compare:
            servers[peers.orthanc_version()] = _orthanc(procs, work, small)
        results: dict[str, dict[str, tuple[int, float]]] = {}
        for name, (server_port, called) in servers.items():
            print(f"Asking {name} …", flush=True)
            results[name] = {
                label: _timed(server_port, called, keys, repeat=repeat)
                for label, keys in _queries(small).items()
            }
        return results, "PostgreSQL" if database_url else "SQLite"


def _orthanc(procs: Processes, work: Path, small: SmallStudies) -> tuple[int, str]:
    # Storing fast (no fsync) changes nothing in how Orthanc searches; no cap on the answers;
    # any calling AE title may search, as with the portal.
    orthanc = peers.Orthanc(procs, work / "orthanc", extra_config={
        "SyncStorageArea": False, "LimitFindResults": 0, "LimitFindInstances": 0,
        "DicomAlwaysAllowFind": True,
    })  # fmt: skip
    print(f"Sending {len(small):,} small studies to Orthanc …", flush=True)
    peers.storescu_send(procs, small.directory, orthanc.dicom_port, peers.ORTHANC_AE_TITLE,
                        tag="orthanc-studies")  # fmt: skip
    if orthanc.instance_count() < len(small):
        raise RuntimeError(f"Orthanc holds {orthanc.instance_count()} of {len(small)} studies")
    return orthanc.dicom_port, peers.ORTHANC_AE_TITLE


def _findscu(port: int, called: str, keys: dict[str, str], *, verbose: bool = False) -> str:
    argv = ["findscu", "-S", "-aet", "WORKSTATION", "-aec", called, "-to", "120"]
    if verbose:
        argv.append("-v")
    argv += ["-k", "QueryRetrieveLevel=STUDY"]
    for keyword in RETURN_KEYS:
        value = keys.get(keyword, "")
        argv += ["-k", f"{keyword}={value}" if value else keyword]
    argv += ["127.0.0.1", str(port)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=600,
                            env=peers.dcmtk_env(dict(os.environ)))  # fmt: skip
    if result.returncode != 0 or "E:" in result.stderr:
        raise RuntimeError(f"findscu failed on {called}: {result.stderr[-500:]}")
    return result.stdout + result.stderr


def _timed(port: int, called: str, keys: dict[str, str], *, repeat: int) -> tuple[int, float]:
    """(answers, median seconds); the first, verbose run counts the answers and warms up."""
    log = _findscu(port, called, keys, verbose=True)
    answers = len(re.findall(r"Find Response.*\(Pending\)", log))
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        _findscu(port, called, keys)
        times.append(time.perf_counter() - started)
    return answers, statistics.median(times)


def _report(results, *, studies: int, repeat: int, database: str) -> None:
    names = list(results)
    portal = results[names[0]]
    other = results[names[1]] if len(names) > 1 else None
    print()
    print(f"C-FIND study searches (findscu -S, TCP_NODELAY=1) on {os.cpu_count()} cores, "
          f"loopback: {studies:,} studies; portal on {database}; medians of {repeat} runs.")  # fmt: skip
    header = f"{'search':<24} {'answers':>8} {'portal':>10}"
    if other:
        header += f" {'Orthanc':>10} {'answers':>8} {'speed ratio':>12}"
    print(header)
    for label, (answers, seconds) in portal.items():
        line = f"{label:<24} {answers:>8} {seconds:>9.3f}s"
        if other:
            their_answers, theirs = other[label]
            line += f" {theirs:>9.3f}s {their_answers:>8} {theirs / seconds:>11.2f}×"
        print(line)
    if other:
        print(f"speed ratio > 1: the portal is faster. Orthanc: {names[1]}, SQLite index.")
