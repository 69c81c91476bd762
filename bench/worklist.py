"""`python -m bench worklist`: Modality Worklist C-FIND response times with a busy schedule.

Books `--orders` orders (default 5,000) over `--stations` devices (default 10) across 25 days
around today, starts the portal's listener (`manage.py dicomlistener`) and asks it, over one
association as a console does, two queries `--repeat` times each: "today, my station" and a
patient-name wildcard. Each time is from the C-FIND request until the final response, with
every matching answer received. Runs on SQLite, or on a scratch PostgreSQL database when
DATABASE_URL is set.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from bench.processes import Processes, free_port

BASE_DIR = Path(__file__).resolve().parent.parent
AE_TITLE = "VETPORTAL"
TARGET_MEDIAN_MS = 50.0
DAYS = 25

OWNERS = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
          "Müller", "Schmidt", "Dubois", "Rossi", "Okafor", "Nowak", "Jansen", "García"]  # fmt: skip
ANIMALS = ["Rex", "Bella", "Max", "Luna", "Charlie", "Daisy", "Milo", "Coco", "Buddy", "Molly",
           "Oscar", "Ruby", "Teddy", "Rosie", "Bailey", "Bonnie", "Alfie", "Poppy", "Archie",
           "Lola", "Mimi", "Thunder", "Clover", "Spike"]  # fmt: skip
# The keys a DR console asks for (in the Scheduled Procedure Step item: SPS_KEYS).
RETURN_KEYS = [
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientSexNeutered",
    "PatientWeight", "PatientSpeciesDescription", "PatientBreedDescription", "ResponsiblePerson",
    "ResponsiblePersonRole", "ResponsibleOrganization", "AccessionNumber", "RequestingPhysician",
    "ReferringPhysicianName", "RequestedProcedureID", "RequestedProcedureDescription",
    "StudyInstanceUID",
]  # fmt: skip
SPS_KEYS = [
    "Modality", "ScheduledStationAETitle", "ScheduledProcedureStepStartDate",
    "ScheduledProcedureStepStartTime", "ScheduledProcedureStepID",
    "ScheduledProcedureStepDescription", "ScheduledPerformingPhysicianName",
]  # fmt: skip


def run(*, orders: int, stations: int, repeat: int) -> int:
    from bench.database import scratch_database
    from bench.ingest import django_portal
    from bench.peers import wait_for_echo

    work = Path(tempfile.mkdtemp(prefix="vetportal-bench-worklist-"))
    (work / "logs").mkdir()
    try:
        with (
            scratch_database(os.environ.get("DATABASE_URL") or None) as database_url,
            django_portal(work, database_url=database_url) as env,
            Processes(work / "logs", env, BASE_DIR) as procs,
        ):
            print(f"Booking {orders:,} orders on {stations} stations …", flush=True)
            _book(orders=orders, stations=stations)
            port = free_port()
            listener = procs.start(
                "listener",
                [sys.executable, str(BASE_DIR / "manage.py"), "dicomlistener",
                 "--port", str(port), "--ae-title", AE_TITLE],
            )  # fmt: skip
            wait_for_echo(listener, port, AE_TITLE)
            results = _measure(port, repeat=repeat, listener=listener)
    finally:
        _clean_up(work)
    backend = "PostgreSQL (scratch database)" if database_url else "SQLite"
    print()
    print(
        f"Worklist C-FIND on {os.cpu_count()} cores, {backend}: {orders:,} orders, "
        f"{stations} stations, {DAYS} days; {repeat} queries each, one association."
    )
    print("Times from the request to the final response (first answer in brackets).")
    print(f"{'query':40} {'answers':>7} {'median':>16} {'p95':>16}  target")
    met = True
    for label, (answers, times, firsts, cpu_ms) in results.items():
        median, p95 = statistics.median(times), _percentile(times, 95)
        first_median, first_p95 = statistics.median(firsts), _percentile(firsts, 95)
        ok = median < TARGET_MEDIAN_MS
        met &= ok
        verdict = "met" if ok else "NOT MET"
        print(
            f"{label:40} {answers:>7} {median:>6.1f} ({first_median:>4.1f}) ms "
            f"{p95:>6.1f} ({first_p95:>4.1f}) ms  median < {TARGET_MEDIAN_MS:.0f} ms: {verdict}"
        )
        print(f"{'':40} listener CPU per query: {cpu_ms:.1f} ms")
    return 0 if met else 1


def _book(*, orders: int, stations: int) -> None:
    """Owners, patients, devices and orders, written in bulk (the booking rules are not timed)."""
    from django.utils import timezone
    from pydicom.uid import generate_uid

    from clinic.models import Owner, Patient, Species
    from imaging.models import Device
    from worklist.models import Order, Procedure

    rng = random.Random(20261123)
    procedures = list(Procedure.objects.all())
    devices = Device.objects.bulk_create(
        Device(name=f"Station {n}", ae_title=f"STATION{n:02d}", modality="DX")
        for n in range(1, stations + 1)
    )
    owners = Owner.objects.bulk_create(
        Owner(last_name=rng.choice(OWNERS), first_name=f"Client {n}") for n in range(orders // 4)
    )
    patients = Patient.objects.bulk_create(
        Patient(
            patient_id=f"B{n:06d}",
            name=rng.choice(ANIMALS),
            owner=rng.choice(owners),
            species=rng.choice([Species.CANINE, Species.FELINE, Species.EQUINE]),
            breed="Mixed",
        )
        for n in range(orders // 3)
    )
    today = timezone.localdate()
    first_day = today - timedelta(days=DAYS // 2)
    batch = []
    for n in range(orders):
        day = first_day + timedelta(days=n % DAYS)
        slot = (n // DAYS) // stations  # each station's day fills from 08:00 in 20-minute slots
        when = datetime.combine(day, datetime.min.time()) + timedelta(hours=8, minutes=20 * slot)
        accession = f"B{n:07d}"
        batch.append(
            Order(
                patient=rng.choice(patients),
                procedure=rng.choice(procedures),
                device=devices[(n // DAYS) % stations],
                scheduled_at=timezone.make_aware(when),
                requesting_vet="Anna Berg",
                performing_vet=("Lea Jansen", "Tom Hale")[n % 2],
                accession_number=accession,
                requested_procedure_id=accession,
                scheduled_step_id=f"S{accession}",
                study_instance_uid=generate_uid(),
            )
        )
    Order.objects.bulk_create(batch, batch_size=500)


def _query(**match):
    from pydicom import Dataset

    query = Dataset()
    for keyword in RETURN_KEYS:
        setattr(query, keyword, match.get(keyword, ""))
    step = Dataset()
    for keyword in SPS_KEYS:
        setattr(step, keyword, match.get(keyword, ""))
    query.ScheduledProcedureStepSequence = [step]
    return query


def _measure(port: int, *, repeat: int, listener) -> dict[str, tuple]:
    from django.utils import timezone
    from pynetdicom import AE, _config, evt
    from pynetdicom.sop_class import ModalityWorklistInformationFind

    # The console's side: pynetdicom would format each answer for a debug log nobody reads.
    _config.LOG_RESPONSE_IDENTIFIERS = False

    today = timezone.localdate().strftime("%Y%m%d")
    queries = {
        "today, my station (STATION03)": _query(
            ScheduledStationAETitle="STATION03", ScheduledProcedureStepStartDate=today
        ),
        'patient name wildcard "Smith^B*"': _query(PatientName="Smith^B*"),
    }
    ae = AE(ae_title="STATION03")
    ae.add_requested_context(ModalityWorklistInformationFind)
    # Nagle's algorithm off on the console's side too, as DCMTK's TCP_NODELAY=1 does for the
    # other benchmarks: otherwise each request's second PDU waits for a delayed ACK (~40 ms).
    assoc = ae.associate(
        "127.0.0.1", port, ae_title=AE_TITLE, evt_handlers=[(evt.EVT_CONN_OPEN, _no_delay)]
    )
    if not assoc.is_established:
        raise SystemExit("The portal's listener refused the association.")
    results = {}
    try:
        for label, query in queries.items():
            times, firsts, answers = [], [], 0
            cpu_before = 0.0
            for run in range(repeat + 2):  # the first two warm the listener's caches
                if run == 2:
                    cpu_before = listener.cpu_seconds()
                started = time.perf_counter()
                statuses = []
                for status, _ in assoc.send_c_find(query, ModalityWorklistInformationFind):
                    if not statuses:
                        firsts.append((time.perf_counter() - started) * 1000)
                    statuses.append(status.Status)
                times.append((time.perf_counter() - started) * 1000)
                if statuses[-1] != 0x0000:
                    raise SystemExit(f"{label}: the query failed with status 0x{statuses[-1]:04X}")
                answers = len(statuses) - 1
            cpu_ms = (listener.cpu_seconds() - cpu_before) * 1000 / repeat
            results[label] = (answers, times[2:], firsts[2:], cpu_ms)
    finally:
        assoc.release()
    return results


def _no_delay(event) -> None:
    import socket

    event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _percentile(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(percent / 100 * (len(ordered) - 1)))]


def _clean_up(work: Path) -> None:
    import shutil

    shutil.rmtree(work, ignore_errors=True)
