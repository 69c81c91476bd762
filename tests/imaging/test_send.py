"""Sending studies to destinations that keep no receipts (in-process pynetdicom SCPs)."""

from datetime import timedelta

import numpy as np
import pytest
from django.db import transaction
from django.utils import timezone
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, RLELossless

from bench.processes import free_port
from clinic.queue import wait_for_local_tasks
from imaging import send
from imaging.ingest import instance_receive_dataset
from imaging.models import SendItemState, SendJob, SendState
from imaging.synthetic import make_dataset
from tests.send_peers import destination_for, portal_study, pynetdicom_scp, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _tasks_in_process(settings):
    """Sends run on this process's task thread, as in embedded mode, even when the suite
    runs with REDIS_URL (no worker consumes that queue here; test_send_worker has one)."""
    settings.CELERY_BROKER_URL = None


@pytest.fixture(autouse=True)
def _quick_retries(settings):
    settings.SEND_RETRY_BASE_SECONDS = 0.05
    settings.SEND_MAX_ATTEMPTS = 3
    settings.SEND_COMMITMENT_TIMEOUT_SECONDS = 1
    yield
    assert wait_for_local_tasks(30)


def _finished(job: SendJob) -> SendJob | None:
    job.refresh_from_db()
    return job if job.finished else None


def test_a_study_is_sent_and_every_instance_recorded(tech):
    study = portal_study(series=2, per_series=2)
    with pynetdicom_scp() as (port, received):
        job = send.send_job_create(
            study=study, destination=destination_for("PACS", port, "STORE_SCP"), user=tech
        )
        wait_for(lambda: _finished(job), what="the send to finish")
    assert job.state == SendState.SENT
    assert job.items.filter(state=SendItemState.SENT).count() == 4
    assert sorted(str(ds.SOPInstanceUID) for ds in received) == sorted(
        job.items.values_list("instance__sop_instance_uid", flat=True)
    )
    assert job.bytes_sent == sum(job.items.values_list("instance__size_bytes", flat=True))
    assert job.attempts_made.get().instances_sent == 4
    assert study.events.filter(kind="send").exists()


@pytest.mark.parametrize("syntax", [JPEG2000Lossless, RLELossless])
def test_an_instance_is_converted_when_the_destination_accepts_only_explicit_little_endian(syntax):
    study = portal_study(per_series=1, transfer_syntax=syntax)
    with pynetdicom_scp(transfer_syntaxes=[ExplicitVRLittleEndian]) as (port, received):
        job = send.send_job_create(
            study=study, destination=destination_for("EVLE", port, "STORE_SCP")
        )
        wait_for(lambda: _finished(job), what="the send to finish")
    assert job.state == SendState.SENT, job.error
    (ds,) = received
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    original = make_dataset(rows=32, columns=32)
    assert np.array_equal(ds.pixel_array, original.pixel_array)


def test_sending_again_sends_only_what_the_destination_does_not_have():
    study = portal_study(series=2, per_series=1)
    with pynetdicom_scp() as (port, received):
        destination = destination_for("PACS", port, "STORE_SCP")
        first = send.send_job_create(study=study, destination=destination)
        wait_for(lambda: _finished(first))
        with pytest.raises(send.SendError, match="already has everything"):
            send.send_job_create(study=study, destination=destination)
        again = send.send_job_create(study=study, destination=destination, everything=True)
        wait_for(lambda: _finished(again))
    assert again.instances_total == 2
    assert len(received) == 4


def test_an_unreachable_destination_is_retried_then_fails_with_the_reason():
    port = free_port()
    job = send.send_job_create(
        study=portal_study(per_series=1), destination=destination_for("Gone", port, "PACS")
    )
    wait_for(lambda: _finished(job), what="the retries to run out")
    assert job.state == SendState.FAILED
    assert (
        job.error == f"Nothing is listening at 127.0.0.1:{port} — check the IP, port and firewall."
    )
    assert job.attempts_made.count() == 3
    assert not any(job.attempts_made.values_list("permanent", flat=True))


def test_a_rejected_association_fails_at_once():
    with pynetdicom_scp(ae_title="PACS", require_calling_aet=["MODALITY"]) as (port, _):
        job = send.send_job_create(
            study=portal_study(per_series=1), destination=destination_for("PACS", port, "PACS")
        )
        wait_for(lambda: _finished(job))
    assert job.state == SendState.FAILED
    assert "must register the portal's AE title VETPORTAL" in job.error
    assert job.attempts_made.get().permanent


def test_out_of_resources_half_way_is_retried_and_sends_the_rest_only():
    calls = []

    def full_once(event) -> int:
        calls.append(event.request.AffectedSOPInstanceUID)
        return 0xA700 if len(calls) == 2 else 0x0000

    study = portal_study(per_series=4)
    with pynetdicom_scp(on_store=full_once) as (port, received):
        job = send.send_job_create(
            study=study, destination=destination_for("PACS", port, "STORE_SCP")
        )
        wait_for(lambda: _finished(job))
    assert job.state == SendState.SENT
    # The refused instance goes again; the one stored before it does not.
    assert len(calls) == 5
    assert len(set(calls)) == 4
    first, second = job.attempts_made.all()
    assert "out of resources" in first.error and first.instances_sent == 1
    assert second.instances_sent == 3 and not second.error


def test_a_cancelled_send_resumes_with_what_was_not_sent():
    study = portal_study(per_series=2)
    with pynetdicom_scp() as (port, received):
        destination = destination_for("PACS", port, "STORE_SCP")
        with transaction.atomic():  # cancelled before its task runs (queued after commit)
            job = send.send_job_create(study=study, destination=destination)
            assert send.send_job_cancel(job_id=job.pk)
        assert wait_for_local_tasks(30)
        job.refresh_from_db()
        assert job.state == SendState.CANCELLED and not received
        send.send_job_resume(job_id=job.pk)
        wait_for(lambda: _finished(job))
    assert job.state == SendState.SENT
    assert len(received) == 2


def test_unknown_series_are_refused():
    study = portal_study(per_series=1)
    with pytest.raises(send.SendError, match="Not series of this study"):
        send.send_job_create(
            study=study, destination=destination_for("X", 104, "X"), series_uids=["1.2.3"]
        )


def test_a_destination_that_aborts_half_way_gets_the_rest_on_the_retry():
    calls = []

    def abort_once(event) -> int:
        calls.append(str(event.request.AffectedSOPInstanceUID))
        if len(calls) == 3:
            event.assoc.abort()  # the archive drops the connection mid-study
        return 0x0000

    study = portal_study(per_series=6)
    with pynetdicom_scp(on_store=abort_once) as (port, received):
        job = send.send_job_create(
            study=study, destination=destination_for("PACS", port, "STORE_SCP")
        )
        wait_for(lambda: _finished(job))
    assert job.state == SendState.SENT, job.error
    first, second = job.attempts_made.all()
    assert "stopped answering" in first.error and not first.permanent
    assert first.instances_sent == 2
    # The retry sends the instance in flight at the abort and the rest, nothing stored before.
    assert second.instances_sent == 4
    assert set(calls) == set(job.items.values_list("instance__sop_instance_uid", flat=True))
    assert len(calls) == 7


def test_an_instance_of_a_kind_the_destination_refuses_fails_alone():
    study = portal_study(per_series=1)  # a DX image
    ct = make_dataset(
        modality="CT", study_uid=study.study_instance_uid, series_number=2, rows=32, columns=32
    )
    instance_receive_dataset(dataset=ct, calling_ae="CT_ROOM")
    with pynetdicom_scp(sop_classes=[ct.SOPClassUID]) as (port, received):
        job = send.send_job_create(
            study=study, destination=destination_for("CT archive", port, "STORE_SCP")
        )
        wait_for(lambda: _finished(job))
    assert job.state == SendState.PARTIAL
    assert job.error == "Not sent: View 1."
    assert [str(ds.SOPInstanceUID) for ds in received] == [ct.SOPInstanceUID]
    (refused,) = job.items.filter(state=SendItemState.FAILED)
    assert refused.error == (
        "The destination does not accept this kind of image (Digital X-Ray Image Storage - For Presentation)."
    )


def test_a_destination_busy_with_its_maximum_of_sends_makes_the_next_one_wait(settings):
    settings.SEND_SLOT_WAIT_SECONDS = 0.2
    with pynetdicom_scp() as (port, received):
        destination = destination_for("PACS", port, "STORE_SCP", max_associations=1)
        # Another worker is sending to it right now (its heartbeat is fresh).
        busy = SendJob.objects.create(
            study=portal_study(per_series=1),
            destination=destination,
            state=SendState.SENDING,
            heartbeat_at=timezone.now(),
        )
        with transaction.atomic():
            job = send.send_job_create(study=portal_study(per_series=1), destination=destination)
        send.send_job_run(job_id=job.pk)
        job.refresh_from_db()
        assert job.state == SendState.QUEUED and not received
        # The slot frees up: the waiting send goes ahead on its own.
        SendJob.objects.filter(pk=busy.pk).update(state=SendState.CANCELLED)
        wait_for(lambda: _finished(job))
    assert job.state == SendState.SENT and len(received) == 1


def test_a_send_whose_confirmation_check_was_lost_is_settled_by_the_periodic_run(settings):
    """The C-FIND check queued after the commitment request vanished (e.g. a restart): the
    periodic run notices the job is long overdue and ends it "sent, unconfirmed" with why."""
    settings.SEND_STALE_SECONDS = 60
    study = portal_study(per_series=1)
    destination = destination_for("PACS", free_port(), "PACS", storage_commitment=True)
    long_ago = timezone.now() - timedelta(hours=1)
    job = SendJob.objects.create(
        study=study,
        destination=destination,
        state=SendState.SENT,
        started_at=long_ago,
        commitment_requested_at=long_ago,
        transaction_uid="1.2.3.4",
        instances_total=1,
    )
    job.items.create(instance=study.series.get().instances.get(), state=SendItemState.SENT)
    recent = SendJob.objects.create(
        study=study,
        destination=destination,
        state=SendState.SENT,
        started_at=timezone.now(),
        commitment_requested_at=timezone.now(),
    )
    assert send.send_jobs_requeue_due() == 1
    assert wait_for_local_tasks(30)
    job.refresh_from_db()
    assert job.state == SendState.SENT and job.finished
    assert job.error == "No storage commitment came back from the destination in time."
    recent.refresh_from_db()
    assert not recent.finished_at and not recent.error
