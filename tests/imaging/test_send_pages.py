"""The send panel on the study page, the sends page, and destination management."""

import pytest

from bench.processes import free_port
from clinic.queue import wait_for_local_tasks
from imaging.models import Destination, SendJob
from tests.send_peers import destination_for, portal_study, pynetdicom_scp, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _tasks_in_process(settings):
    """Sends run on this process's task thread, as in embedded mode, even when the suite
    runs with REDIS_URL (no worker consumes that queue here; test_send_worker has one)."""
    settings.CELERY_BROKER_URL = None


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def test_a_technician_sends_from_the_study_page_and_watches_it(signed_in, tech):
    study = portal_study(series=2, per_series=1)
    page = signed_in(tech)
    with pynetdicom_scp() as (port, received):
        destination = destination_for("Clinic PACS", port, "STORE_SCP")
        html = page.get(study.get_absolute_url()).content.decode()
        assert "Send to…" in html and "Clinic PACS (PACS)" in html
        series_uid = study.series.order_by("series_number").first().series_instance_uid
        answer = page.post(
            f"/studies/{study.pk}/send", {"destination": destination.pk, "series": [series_uid]}
        )
        assert answer.status_code == 302
        job = SendJob.objects.get()
        wait_for(lambda: job.refresh_from_db() or job.finished)
    live = page.get(f"/studies/{study.pk}/sends")
    assert live["X-Live-Final"] == "1"
    text = live.content.decode()
    assert "Sent, unconfirmed" in text and "1/1" in text and "View 1 (1): sent" in text
    sends_page = page.get("/sends/").content.decode()
    assert "Clinic PACS" in sends_page and "Sends" in sends_page
    assert len(received) == 1


def test_a_failed_send_shows_the_reason_and_can_be_resumed(signed_in, tech, settings):
    settings.SEND_MAX_ATTEMPTS = 1
    study = portal_study(per_series=1)
    port = free_port()
    destination = destination_for("Referral", port, "REF")
    page = signed_in(tech)
    page.post(f"/studies/{study.pk}/send", {"destination": destination.pk})
    job = SendJob.objects.get()
    wait_for(lambda: job.refresh_from_db() or job.finished)
    text = page.get("/sends/rows").content.decode()
    assert f"Nothing is listening at 127.0.0.1:{port}" in text
    assert "Resume" in text
    with pynetdicom_scp() as (scp_port, received):
        Destination.objects.filter(pk=destination.pk).update(port=scp_port, ae_title="STORE_SCP")
        page.post(f"/sends/{job.pk}/resume", {"next": "/sends/"})
        wait_for(lambda: job.refresh_from_db() or job.finished)
    assert job.state == "sent" and len(received) == 1
    assert wait_for_local_tasks(30)


def test_only_administrators_manage_destinations(signed_in, tech, administrator):
    assert signed_in(tech).get("/destinations/").status_code == 403
    page = signed_in(administrator)
    answer = page.post(
        "/destinations/",
        {"name": "Archive", "ae_title": "ARCH", "host": "127.0.0.1", "port": free_port(),
         "kind": "archive", "max_associations": 2, "active": "on"},
    )  # fmt: skip
    assert answer.status_code == 302, answer.content.decode()
    destination = Destination.objects.get(name="Archive")
    answer = page.post(f"/destinations/{destination.pk}/test", follow=True)
    assert "Nothing is listening at" in answer.content.decode()
    bad = page.post(
        f"/destinations/{destination.pk}/",
        {"name": "Archive", "ae_title": "A\\B", "host": "h", "port": 104, "kind": "archive",
         "max_associations": 2},
    )  # fmt: skip
    assert "cannot contain backslashes" in bad.content.decode()
