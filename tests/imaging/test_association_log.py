"""The association log over real associations: DCMTK and pynetdicom callers, refusals, sends."""

import os
import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import CTImageStorage, Verification

from clinic.queue import wait_for_local_tasks
from imaging import associations, send
from imaging.association_models import AssociationRecord, Direction, Outcome
from imaging.models import Device, SendState
from imaging.synthetic import make_dataset, study_files
from tests.conftest import require_executable
from tests.dicom_server import running_listener
from tests.send_peers import destination_for, portal_study, pynetdicom_scp, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _background_work_done(settings):
    # Sends run on this process's task thread, as in embedded mode, even under REDIS_URL.
    settings.CELERY_BROKER_URL = None
    yield
    wait_for_local_tasks(timeout=30)


def _dcmtk(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TCP_NODELAY": "1"}
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)


def _records(**filters) -> list[AssociationRecord]:
    """The log's rows once the listener wrote them (the row is written as the association ends,
    on the listener's thread, a moment after the caller sees the release)."""
    return wait_for(
        lambda: list(AssociationRecord.objects.filter(**filters)),
        timeout=20,
        what=lambda: f"association records {filters}: {list(AssociationRecord.objects.values())}",
    )


@pytest.mark.peer
def test_storescu_association_is_logged_with_contexts_counts_and_studies(tmp_path):
    storescu = require_executable("storescu")
    study_uid, paths = study_files(tmp_path, count=3, modality="CT")
    with running_listener() as (host, port, ae_title):
        result = _dcmtk(
            storescu, "-aet", "CT_ROOM", "-aec", ae_title, host, str(port), *map(str, paths)
        )
        assert result.returncode == 0, result.stderr
        (record,) = _records(calling_ae="CT_ROOM")
        # The same files again: nothing new, three duplicates dropped.
        result = _dcmtk(
            storescu, "-aet", "CT_ROOM", "-aec", ae_title, host, str(port), *map(str, paths)
        )
        assert result.returncode == 0, result.stderr
        again = wait_for(
            lambda: AssociationRecord.objects.filter(calling_ae="CT_ROOM").count() == 2
        )
    assert again
    assert record.direction == Direction.INCOMING
    assert record.called_ae == "VETPORTAL"
    assert record.peer_host == "127.0.0.1" and record.peer_port
    assert record.outcome == Outcome.RELEASED
    assert record.instances == 3
    assert record.operations == {"C-STORE received": 3}
    assert ["CT Image Storage", "Explicit VR Little Endian"] in record.accepted_contexts or [
        "CT Image Storage",
        "Implicit VR Little Endian",
    ] in record.accepted_contexts
    assert record.studies == {study_uid: {"new": 3, "duplicate": 0, "replaced": 0}}
    assert record.ended_at >= record.started_at
    latest = AssociationRecord.objects.filter(calling_ae="CT_ROOM").first()
    assert latest.studies == {study_uid: {"new": 0, "duplicate": 3, "replaced": 0}}


@pytest.mark.peer
def test_echoscu_is_counted_as_an_echo():
    echoscu = require_executable("echoscu")
    with running_listener() as (host, port, ae_title):
        result = _dcmtk(echoscu, "-aet", "XRAY1", "-aec", ae_title, host, str(port))
        assert result.returncode == 0, result.stderr
        (record,) = _records(calling_ae="XRAY1")
    assert record.operations == {"C-ECHO received": 1}
    assert record.instances == 0
    assert record.problem_count == 0
    assert ["Verification SOP Class", "Implicit VR Little Endian"] in record.accepted_contexts


def test_rejected_presentation_context_is_logged_with_its_reason():
    ae = AE(ae_title="US_ROOM")
    ae.add_requested_context(Verification)
    ae.add_requested_context("1.2.826.0.1.3680043.9.9999.1")  # a private SOP class we do not store
    with running_listener() as (host, port, ae_title):
        assoc = ae.associate(host, port, ae_title=ae_title)
        assert assoc.is_established
        assert assoc.send_c_echo().Status == 0
        assoc.release()
        (record,) = _records(calling_ae="US_ROOM")
    assert record.rejected_contexts == [
        ["1.2.826.0.1.3680043.9.9999.1", "kind of data (SOP class) not supported"]
    ]
    assert record.operations == {"C-ECHO received": 1}


def test_unknown_caller_is_rejected_and_logged_when_only_devices_may_send():
    Device.objects.create(name="DR room", ae_title="DR_ROOM1")
    ae = AE(ae_title="XRAY2")
    ae.add_requested_context(Verification)
    with running_listener(require_known_devices=True) as (host, port, ae_title):
        assoc = ae.associate(host, port, ae_title=ae_title)
        assert assoc.is_rejected
        (record,) = _records(calling_ae="XRAY2")
    assert record.outcome == Outcome.REJECTED
    assert record.outcome_reason == "calling AE title XRAY2 is not a registered device"
    assert record.problem_count == 1
    (row,) = [r for r in associations.device_activity() if r.ae_title == "XRAY2"]
    assert row.device is None and row.rejected_today == 1
    assert row.headline.startswith("calling AE title XRAY2 is not a registered device at ")
    assert row.headline.endswith(" from 127.0.0.1")
    dr = next(r for r in associations.device_activity() if r.ae_title == "DR_ROOM1")
    assert dr.quiet and dr.headline == "sent nothing today"


def test_called_ae_title_mismatch_is_accepted_but_noted(tmp_path):
    Device.objects.create(name="Dental", ae_title="DENTAL")
    ds = make_dataset(modality="IO", study_uid=generate_uid())
    ae = AE(ae_title="DENTAL")
    ae.add_requested_context(ds.SOPClassUID, ExplicitVRLittleEndian)
    with running_listener() as (host, port, _):
        assoc = ae.associate(host, port, ae_title="VETPACS")
        assert assoc.is_established
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        assert assoc.send_c_store(ds).Status == 0
        assoc.release()
        (record,) = _records(calling_ae="DENTAL")
    assert record.called_ae == "VETPACS"
    assert record.outcome == Outcome.RELEASED and record.instances == 1
    assert record.problems == [
        "called AE title VETPACS not recognised (the portal is VETPORTAL); accepted"
    ]
    (row,) = [r for r in associations.device_activity() if r.ae_title == "DENTAL"]
    assert row.instances_today == 1 and not row.quiet
    assert row.headline.startswith("called AE title VETPACS not recognised")
    assert " from 127.0.0.1" in row.headline


def test_a_send_is_logged_as_an_outgoing_association(settings):
    study = portal_study(series=1, per_series=3)
    with pynetdicom_scp(ae_title="PACS") as (port, received):
        destination = destination_for("PACS", port, "PACS")
        job = send.send_job_create(study=study, destination=destination)
        wait_for(lambda: job.__class__.objects.get(pk=job.pk).state == SendState.SENT, timeout=60)
        assert len(received) == 3
    (record,) = _records(direction=Direction.OUTGOING, called_ae="PACS")
    assert record.calling_ae == settings.DICOM_AE_TITLE
    assert record.peer_port == port
    assert record.outcome == Outcome.RELEASED
    assert record.instances == 3
    assert record.operations.get("C-STORE sent") == 3
    assert any(
        name == "Digital X-Ray Image Storage - For Presentation"
        for name, _ in record.accepted_contexts
    )


def test_an_unreachable_destination_is_logged_with_the_reason():
    from bench.processes import free_port
    from imaging.dicom import scu

    peer = scu.Peer(ae_title="GONE", host="127.0.0.1", port=free_port())
    with pytest.raises(scu.TransportError):
        scu.echo(peer)
    (record,) = _records(direction=Direction.OUTGOING, called_ae="GONE")
    assert record.outcome == Outcome.FAILED
    assert "Nothing is listening" in record.outcome_reason


def test_purge_forgets_associations_older_than_the_kept_days(settings):
    settings.ASSOCIATION_LOG_DAYS = 30
    now = timezone.now()
    old = AssociationRecord.objects.create(
        direction=Direction.INCOMING, outcome=Outcome.RELEASED, started_at=now - timedelta(days=31)
    )
    kept = AssociationRecord.objects.create(
        direction=Direction.INCOMING, outcome=Outcome.RELEASED, started_at=now - timedelta(days=29)
    )
    assert associations.association_records_purge() == 1
    assert list(AssociationRecord.objects.values_list("pk", flat=True)) == [kept.pk]
    assert not AssociationRecord.objects.filter(pk=old.pk).exists()
    assert "purge-association-log" in settings.CELERY_BEAT_SCHEDULE


def test_ct_image_storage_context_name():
    # The log keeps names, not UIDs, so a clinic reads "CT Image Storage".
    from imaging.dicom.association_log import _sop_name

    assert _sop_name(CTImageStorage) == "CT Image Storage"
