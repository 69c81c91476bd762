"""Where did my images go? The study timeline after a real receive and send, the finder by each
kind of key, DICOM activity, and who may see what."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from pydicom.uid import generate_uid
from pynetdicom import AE

from clinic.models import Owner, Patient
from clinic.queue import wait_for_local_tasks
from imaging import ingest, receipts, send
from imaging.association_models import AssociationRecord, Direction, Outcome
from imaging.models import Device, SendState, Study
from imaging.synthetic import SOP_CLASS_FOR_MODALITY, make_dataset
from reports.models import ReportEvent, ReportEventKind
from reports.reports import report_start
from sharing.access import access_record
from sharing.models import AccessAction
from sharing.shares import share_create
from tests.dicom_server import running_listener
from tests.send_peers import destination_for, pynetdicom_scp, wait_for
from worklist.models import ExpectedView, Procedure
from worklist.orders import order_schedule

pytestmark = pytest.mark.django_db(transaction=True)

MICROCHIP = "985112000123456"


@pytest.fixture(autouse=True)
def _tasks_in_process(settings):
    """Background work runs on this process's task thread, even under REDIS_URL."""
    settings.CELERY_BROKER_URL = None
    yield
    wait_for_local_tasks(timeout=30)


@pytest.fixture
def biscuit(db) -> Patient:
    owner = Owner.objects.create(last_name="Marlowe", first_name="Ada", phone="555 0101")
    return Patient.objects.create(
        patient_id="P-WHERE", name="Biscuit", owner=owner, microchip=MICROCHIP
    )


@pytest.fixture
def dr_room(db) -> Device:
    return Device.objects.create(name="DR room", ae_title="DR_ROOM1", modality="DX")


@pytest.fixture
def thorax(db) -> Procedure:
    procedure = Procedure.objects.create(code="TX2", name="Thorax 2 views", modality="DX")
    ExpectedView.objects.create(procedure=procedure, name="Right lateral", view_positions="RL")
    ExpectedView.objects.create(
        procedure=procedure, name="Ventrodorsal", view_positions="VD", order=1
    )
    return procedure


def _views(study_uid: str, accession: str, positions=("RL",)) -> list:
    return [
        make_dataset(
            study_uid=study_uid,
            series_uid=generate_uid(),
            series_number=number,
            view_position=position,
            series_description=f"Thorax {position}",
            patient_id="P-WHERE",
            patient_name="Marlowe^Biscuit",
            accession=accession,
            rows=32,
            columns=32,
        )
        for number, position in enumerate(positions, start=1)
    ]


def _send_from_modality(datasets: list) -> None:
    modality = AE(ae_title="DR_ROOM1")
    modality.add_requested_context(SOP_CLASS_FOR_MODALITY["DX"])
    with running_listener() as (host, port, ae_title):
        before = AssociationRecord.objects.count()
        assoc = modality.associate(host, port, ae_title=ae_title)
        assert assoc.is_established
        for ds in datasets:
            assert assoc.send_c_store(ds).Status == 0x0000
        assoc.release()
        wait_for(lambda: AssociationRecord.objects.count() > before, timeout=20)


def test_the_timeline_tells_a_received_matched_sent_shared_reported_study(
    client, vet, biscuit, dr_room, thorax
):
    order = order_schedule(
        patient=biscuit, procedure=thorax, device=dr_room, scheduled_at=timezone.now()
    )
    datasets = _views(order.study_instance_uid, order.accession_number, positions=("RL", "VD"))
    _send_from_modality(datasets)
    _send_from_modality(datasets[:1])  # the console sends the lateral again
    study = Study.objects.get(study_instance_uid=order.study_instance_uid)
    wait_for(lambda: study.events.filter(kind="order_matched").exists(), timeout=20)
    with pynetdicom_scp(ae_title="PACS") as (port, received):
        job = send.send_job_create(
            study=study, destination=destination_for("PACS", port, "PACS"), user=vet
        )
        wait_for(lambda: send.SendJob.objects.get(pk=job.pk).state == SendState.SENT, timeout=60)
    # The destination's storage commitment report, as the listener records it (PS3.4 J.3.3).
    send.SendJob.objects.filter(pk=job.pk).update(transaction_uid="2.25.4242")
    receipts.commitment_report_record(
        transaction_uid="2.25.4242",
        committed=[str(ds.SOPInstanceUID) for ds in received],
        failed={},
    )
    share = share_create(study=study, email="ortho@example.org", user=vet).share
    access_record(share=share, action=AccessAction.OPENED, ip="203.0.113.9")
    report = report_start(study=study, user=vet)
    ReportEvent.objects.create(report=report, kind=ReportEventKind.SIGNED, user=vet)

    client.force_login(vet)
    page = client.get(reverse("study-detail", args=[study.pk])).content.decode()
    timeline = page[page.index('class="card study-timeline"') :]
    assert "2 new instances from 127.0.0.1" in timeline
    assert "DR room (DR_ROOM1)" in timeline
    assert "0 new instances, 1 duplicates dropped" in timeline
    assert "Matched to an order" in timeline and order.accession_number in timeline
    assert "Sent</strong>: 2 of 2 instances to PACS" in timeline
    assert "Send queued" in timeline
    assert "Confirmed</strong>: PACS confirmed 2 of 2 instances" in timeline
    assert "Shared</strong>: Shared the whole study with ortho@example.org" in timeline
    assert "Opened by the specialist" in timeline and "ortho@example.org" in timeline
    assert "Report signed" in timeline
    # Oldest first: received, then matched, then sent.
    assert timeline.index("2 new instances") < timeline.index("Sent</strong>")
    assert timeline.index("Sent</strong>") < timeline.index("Report signed")


def test_a_technician_without_sharing_rights_sees_no_share_lines(client, tech, biscuit):
    study = _ingested(biscuit)
    share = share_create(study=study, email="ortho@example.org")
    access_record(share=share.share, action=AccessAction.OPENED, ip=None)
    client.force_login(tech)
    page = client.get(reverse("study-detail", args=[study.pk])).content.decode()
    timeline = page[page.index('class="card study-timeline"') :]
    assert "Received" in timeline
    assert "ortho@example.org" not in timeline


def _ingested(patient: Patient, accession: str = "A-W1") -> Study:
    ds = _views(generate_uid(), accession)[0]
    received = ingest.instance_receive_dataset(dataset=ds, calling_ae="DR_ROOM1")
    ingest.studies_complete(study_ids=[received.instance.series.study_id])
    return Study.objects.get(pk=received.instance.series.study_id)


def _finder(client, text: str) -> str:
    response = client.get(reverse("where"), {"q": text})
    assert response.status_code == 200
    return response.content.decode()


def test_the_finder_finds_a_study_by_every_kind_of_key(client, tech, biscuit):
    study = _ingested(biscuit)
    series = study.series.get()
    instance = series.instances.get()
    client.force_login(tech)
    keys = {
        study.study_instance_uid: "Study Instance UID",
        series.series_instance_uid: "Series Instance UID",
        instance.sop_instance_uid: "SOP Instance UID",
        "a-w1": "accession number",
        "P-WHERE": "patient ID",
        MICROCHIP: "microchip",
        "biscu": "patient name",
        "Marlowe": "owner",
    }
    for key, kind in keys.items():
        page = _finder(client, key)
        assert study.get_absolute_url() in page, key
        assert f"found by {kind}" in page, key
        assert "Here: complete, 1 instance in 1 series" in page, key
        assert "Not sent anywhere." in page


def test_the_finder_says_where_a_study_went(client, vet, biscuit):
    study = _ingested(biscuit)
    with pynetdicom_scp(ae_title="PACS") as (port, _):
        job = send.send_job_create(study=study, destination=destination_for("PACS", port, "PACS"))
        wait_for(lambda: send.SendJob.objects.get(pk=job.pk).state == SendState.SENT, timeout=60)
    share_create(study=study, email="ortho@example.org", user=vet)
    client.force_login(vet)
    page = _finder(client, "A-W1")
    assert "Sent to PACS: sent, unconfirmed (0 of 1 confirmed)" in page
    assert "Shared with ortho@example.org: active, not opened yet" in page


def test_a_uid_never_received_says_so(client, tech):
    client.force_login(tech)
    page = _finder(client, "1.2.826.0.1.3680043.8.498.1234")
    assert "Not received: no association has brought this UID." in page
    assert "Nothing here matches" in _finder(client, "Nobody-such")


def test_a_booked_order_not_received_shows_the_devices_last_associations(
    client, tech, biscuit, dr_room, thorax
):
    order = order_schedule(
        patient=biscuit, procedure=thorax, device=dr_room, scheduled_at=timezone.now()
    )
    AssociationRecord.objects.create(
        direction=Direction.INCOMING,
        calling_ae="DR_ROOM1",
        called_ae="VETPACS",
        peer_host="192.168.1.20",
        outcome=Outcome.RELEASED,
        problems=["called AE title VETPACS not recognised (the portal is VETPORTAL); accepted"],
        problem_count=1,
    )
    client.force_login(tech)
    for key in (order.accession_number, order.study_instance_uid):
        page = _finder(client, key)
        assert f"Not received: order {order.accession_number} (Thorax 2 views for Biscuit)" in page
        assert "is booked on DR room" in page
        assert "from 192.168.1.20" in page and "called AE title VETPACS not recognised" in page


def test_the_finder_api_answers_in_json_and_is_in_the_schema(client, tech, biscuit):
    study = _ingested(biscuit)
    client.force_login(tech)
    body = client.get("/api/where/", {"q": MICROCHIP}).json()
    (found,) = body["found"]
    assert found["study_instance_uid"] == study.study_instance_uid
    assert found["matched_by"] == "microchip"
    assert found["here"].startswith("Here: complete")
    assert found["shares"] is None  # a technician does not see shares
    missing = client.get("/api/where/", {"q": "1.2.3.4.5"}).json()
    assert missing["found"] == [] and missing["not_received"].startswith("Not received")
    schema = client.get("/api/schema/").content.decode()
    assert "/api/where/" in schema


def test_dicom_activity_shows_devices_at_a_glance_and_searches_the_log(client, tech, dr_room):
    now = timezone.now()
    AssociationRecord.objects.create(
        direction=Direction.INCOMING,
        calling_ae="XRAY2",
        called_ae="VETPORTAL",
        peer_host="192.168.1.33",
        outcome=Outcome.REJECTED,
        outcome_reason="calling AE title XRAY2 is not a registered device",
        problems=["calling AE title XRAY2 is not a registered device"],
        problem_count=1,
    )
    AssociationRecord.objects.create(
        direction=Direction.INCOMING,
        calling_ae="DR_ROOM1",
        called_ae="VETPORTAL",
        peer_host="192.168.1.20",
        outcome=Outcome.RELEASED,
        instances=4,
        operations={"C-STORE received": 4},
        started_at=now - timedelta(days=2),
    )
    client.force_login(tech)
    page = client.get(reverse("dicom-activity")).content.decode()
    assert "calling AE title XRAY2 is not a registered device at " in page
    assert "from 192.168.1.33" in page
    assert "sent nothing today" in page  # the DR room sent two days ago, not today
    by_address = client.get(reverse("dicom-activity"), {"q": "192.168.1.20"}).content.decode()
    log = by_address[by_address.index('class="table association-log"') :]
    assert "4 C-STORE received" in log and "XRAY2" not in log
    record = AssociationRecord.objects.get(calling_ae="DR_ROOM1")
    detail = client.get(reverse("association-detail", args=[record.pk])).content.decode()
    assert "192.168.1.20" in detail and "4 C-STORE received" in detail


def test_front_desk_cannot_see_the_log_nor_find_studies(client, front_desk, tech):
    client.force_login(front_desk)
    assert client.get(reverse("dicom-activity")).status_code == 403
    assert client.get(reverse("where"), {"q": "x"}).status_code == 403
    assert client.get("/api/where/", {"q": "x"}).status_code == 403
    nav = client.get(reverse("patient-list")).content.decode()
    assert "DICOM activity" not in nav and "nav-finder" not in nav
    client.force_login(tech)
    nav = client.get(reverse("arrivals")).content.decode()
    assert reverse("dicom-activity") in nav and "nav-finder" in nav
    assert client.get(reverse("dicom-activity")).status_code == 200
