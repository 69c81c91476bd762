"""Sending to a real Orthanc: storage commitment round trip, C-FIND checks, resend missing."""

import pytest

from bench.processes import free_port
from clinic.queue import wait_for_local_tasks
from imaging import receipts, send
from imaging.models import SendItemState, SendJob, SendState
from tests.conftest import require_executable
from tests.dicom_server import running_listener
from tests.send_peers import destination_for, orthanc, portal_study, wait_for

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _tasks_in_process(settings):
    """Sends run on this process's task thread, as in embedded mode, even when the suite
    runs with REDIS_URL (no worker consumes that queue here; test_send_worker has one)."""
    settings.CELERY_BROKER_URL = None


@pytest.fixture
def orthanc_reporting_to_portal(tmp_path, settings):
    """Orthanc, and the portal's listener where Orthanc sends its commitment reports."""
    require_executable("Orthanc")
    settings.SEND_COMMITMENT_TIMEOUT_SECONDS = 5
    with running_listener() as (_, listener_port, _ae):
        with orthanc(tmp_path / "orthanc", portal_port=listener_port) as peer:
            yield peer
            assert wait_for_local_tasks(30)


def _settled(job: SendJob, *states: str) -> SendJob | None:
    job.refresh_from_db()
    return job if job.state in states else None


def test_a_send_is_confirmed_by_storage_commitment(orthanc_reporting_to_portal):
    peer = orthanc_reporting_to_portal
    study = portal_study(series=2, per_series=2)
    destination = destination_for("PACS", peer.dicom_port, peer.ae_title, storage_commitment=True)
    job = send.send_job_create(study=study, destination=destination)
    wait_for(lambda: _settled(job, SendState.CONFIRMED, SendState.PARTIAL, SendState.FAILED))
    assert job.state == SendState.CONFIRMED, job.error
    assert job.transaction_uid
    assert job.items.filter(state=SendItemState.CONFIRMED).count() == 4
    assert peer.sop_instance_uids() == set(
        job.items.values_list("instance__sop_instance_uid", flat=True)
    )


def test_c_find_confirms_what_arrived_and_resend_missing_sends_only_that(tmp_path, settings):
    require_executable("Orthanc")
    # Orthanc answers C-FIND only to modalities it knows: the portal is registered there.
    with orthanc(tmp_path / "orthanc", portal_port=free_port()) as peer:
        study = portal_study(series=2, per_series=2)
        destination = destination_for(
            "Archive", peer.dicom_port, peer.ae_title, query_retrieve=True
        )
        first = send.send_job_create(study=study, destination=destination)
        wait_for(
            lambda: _settled(first, SendState.CONFIRMED, SendState.PARTIAL, SendState.FAILED),
            what=lambda: first.error,
        )
        assert first.state == SendState.CONFIRMED, first.error

        # The archive loses a series: a new check finds it missing, and only that is sent again.
        lost = study.series.order_by("series_number").last()
        peer.series_delete(lost.series_instance_uid)
        receipts.send_job_verify(job_id=first.pk, recheck=True)
        first.refresh_from_db()
        assert first.state == SendState.PARTIAL
        assert first.error == "Not confirmed: View 2."
        missing = set(
            first.items.exclude(state=SendItemState.CONFIRMED).values_list(
                "instance__series__series_instance_uid", flat=True
            )
        )
        assert missing == {lost.series_instance_uid}

        send.send_job_resume(job_id=first.pk)  # "resend missing"
        wait_for(lambda: _settled(first, SendState.CONFIRMED, SendState.PARTIAL, SendState.FAILED))
        assert first.state == SendState.CONFIRMED
        assert first.attempts_made.last().instances_sent == 2
        assert len(peer.sop_instance_uids()) == 4
        assert wait_for_local_tasks(30)
