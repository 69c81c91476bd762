"""`python -m bench send`: the portal's send (C-STORE SCU) next to DCMTK storescu.

The CT is received into a scratch portal (SQLite, temporary folder), then sent to a fresh
Orthanc and to DCMTK storescp, once by `storescu` and once by the portal's send service (the
same code a worker runs; its time runs from the attempt's start to the last C-STORE response).
With Orthanc as a storage commitment SCP, the time from its N-EVENT-REPORT reaching the
portal's listener to the job showing "confirmed" is measured too.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import data, ingest, peers
from bench.processes import Processes, free_port

BASE_DIR = Path(__file__).resolve().parent.parent


def run(*, slices: int, data_dir: Path, keep: bool = False) -> int:
    missing = [tool for tool in ("storescu", "echoscu", "storescp") if not shutil.which(tool)]
    if missing or not peers.orthanc_available():
        print("DCMTK and Orthanc are needed (apt-get install dcmtk orthanc)", file=sys.stderr)
        return 2
    ct = data.ct_series(data_dir, slices=slices)
    work = Path(tempfile.mkdtemp(prefix="vetportal-bench-send-"))
    (work / "logs").mkdir()
    try:
        with ingest.django_portal(work) as env, Processes(work / "logs", env, BASE_DIR) as procs:
            rows = _measure(procs, ct, work)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"Send benchmark: {ct.label}, {ct.instances} instances, {ct.megabytes:.0f} MB, loopback")
    print(f"{'receiver':<10} {'sender':<10} {'inst/s':>8} {'MB/s':>8} {'ratio':>7}")
    for receiver, figures in rows.items():
        reference = figures["storescu"]
        for sender, seconds in figures.items():
            if sender.startswith("confirm"):
                continue
            rate = ct.instances / seconds
            ratio = reference / seconds
            print(
                f"{receiver:<10} {sender:<10} {rate:8.1f} {ct.megabytes / seconds:8.1f} {ratio:7.2f}"
            )
    confirm = rows["orthanc"].get("confirm")
    if confirm is not None:
        print(f"confirmed in the portal {confirm:.2f} s after the commitment request went out")
        shown = rows["orthanc"]["confirm-shown"]
        print(
            f'job shown "confirmed" {shown:.3f} s after Orthanc\'s N-EVENT-REPORT arrived (target ≤ 2 s)'
        )
    return 0


def _receive_into_portal(ct: data.DataSet, work: Path):
    from imaging.ingest import instance_receive_file, studies_complete
    from imaging.models import Study

    staging = work / "staging"
    staging.mkdir()
    for path in sorted(ct.directory.rglob("*")):
        if path.is_file():
            copy = staging / path.name
            shutil.copyfile(path, copy)
            instance_receive_file(path=copy, calling_ae="BENCH")
    study = Study.objects.get(study_instance_uid=ct.study_uid)
    studies_complete(study_ids=[study.pk])
    return study


def _portal_send(study, *, name: str, port: int, ae_title: str, commitment: bool = False):
    from imaging import send
    from imaging.models import Destination

    destination = Destination.objects.create(
        name=name, ae_title=ae_title, host="127.0.0.1", port=port, storage_commitment=commitment
    )
    job = send.send_job_create(study=study, destination=destination)
    # The job runs on the in-process task thread, as in embedded mode; its attempt row has
    # the association's wall-clock times (queueing excluded).
    deadline = time.monotonic() + 1800
    while job.state in ("queued", "sending") or not job.attempts_made.exists():
        job.refresh_from_db()
        if time.monotonic() > deadline:
            raise RuntimeError(f"the portal's send to {name} did not finish")
        time.sleep(0.25)
    job.refresh_from_db()
    if job.state not in ("sent", "confirmed"):
        raise RuntimeError(f"the portal's send to {name} ended {job.state}: {job.error}")
    attempt = job.attempts_made.get()
    return job, (attempt.finished_at - attempt.started_at).total_seconds()


def _measure(procs: Processes, ct: data.DataSet, work: Path) -> dict[str, dict[str, float]]:
    from django.conf import settings

    from imaging.dicom import listener

    settings.CELERY_BROKER_URL = None
    print("Receiving the CT into the portal …", flush=True)
    study = _receive_into_portal(ct, work)
    rows: dict[str, dict[str, float]] = {"storescp": {}, "orthanc": {}}

    print("storescp …", flush=True)
    _, port = peers.start_storescp(procs, work / "storescp-a")
    started, released = peers.storescu_send(procs, ct.directory, port, "STORESCP", tag="storescp")
    rows["storescp"]["storescu"] = released - started
    _, port = peers.start_storescp(procs, work / "storescp-b")
    rows["storescp"]["portal"] = _portal_send(
        study, name="storescp", port=port, ae_title="STORESCP"
    )[1]

    print("Orthanc …", flush=True)
    orthanc = peers.Orthanc(procs, work / "orthanc-a")
    started, released = peers.storescu_send(
        procs, ct.directory, orthanc.dicom_port, peers.ORTHANC_AE_TITLE, tag="orthanc"
    )
    rows["orthanc"]["storescu"] = released - started

    # The portal's listener receives Orthanc's storage commitment report; note when it arrives.
    from imaging import receipts

    reports: list[float] = []
    record = receipts.report_received

    def report_received(info) -> None:
        reports.append(time.monotonic())
        record(info)

    receipts.report_received = report_received
    ae = listener.build_ae(ae_title="VETPORTAL", max_pdu=settings.DICOM_MAX_PDU)
    listener_port = free_port()
    server = listener.start(
        ae, host="127.0.0.1", port=listener_port, require_known_devices=False, min_free_bytes=0
    )
    try:
        config = {"DicomModalities": {"portal": ["VETPORTAL", "127.0.0.1", listener_port]}}
        fresh = peers.Orthanc(procs, work / "orthanc-b", extra_config=config)
        job, seconds = _portal_send(
            study, name="orthanc", port=fresh.dicom_port, ae_title=peers.ORTHANC_AE_TITLE,
            commitment=True,
        )  # fmt: skip
        rows["orthanc"]["portal"] = seconds
        # What a user watching the job sees: its state, read as the sends page reads it.
        deadline = time.monotonic() + 60
        while job.state != "confirmed" and time.monotonic() < deadline:
            time.sleep(0.005)
            job.refresh_from_db()
        shown = time.monotonic()
        if job.state == "confirmed" and reports:
            confirmed = max(job.items.values_list("confirmed_at", flat=True))
            rows["orthanc"]["confirm"] = (confirmed - job.commitment_requested_at).total_seconds()
            rows["orthanc"]["confirm-shown"] = shown - reports[0]
    finally:
        receipts.report_received = record
        listener.stop(ae, server, grace=2.0)
    return rows
