"""The REST API for destinations and sends, and who may use it."""

import pytest
from rest_framework.test import APIClient

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


def signed_in(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


DESTINATION = {"name": "Referral hospital", "ae_title": "REFHOSP", "host": "10.0.0.5", "port": 104}


def test_an_administrator_manages_destinations(administrator):
    api = signed_in(administrator)
    created = api.post("/api/destinations/", {**DESTINATION, "kind": "specialist"}, format="json")
    assert created.status_code == 201, created.data
    pk = created.data["id"]
    patched = api.patch(f"/api/destinations/{pk}/", {"port": 11112}, format="json")
    assert patched.status_code == 200, patched.data
    assert Destination.objects.get(pk=pk).port == 11112
    bad = api.patch(f"/api/destinations/{pk}/", {"port": 70000}, format="json")
    assert bad.status_code == 400 and "port" in bad.data
    assert api.delete(f"/api/destinations/{pk}/").status_code == 204


def test_a_technician_sees_destinations_but_cannot_change_them(tech):
    Destination.objects.create(**DESTINATION)
    api = signed_in(tech)
    listed = api.get("/api/destinations/").data["results"]
    assert [d["name"] for d in listed] == ["Referral hospital"]
    assert api.post("/api/destinations/", DESTINATION, format="json").status_code == 403


def test_an_outsider_sees_no_destinations_and_no_sends(outsider):
    api = signed_in(outsider)
    assert api.get("/api/destinations/").status_code == 403
    assert api.get("/api/sends/").status_code == 403


def test_test_connection_explains_the_failure(administrator):
    port = free_port()
    destination = destination_for("Gone", port, "PACS")
    answer = signed_in(administrator).post(f"/api/destinations/{destination.pk}/echo")
    assert answer.status_code == 200
    assert answer.data == {
        "ok": False,
        "message": f"Nothing is listening at 127.0.0.1:{port} — check the IP, port and firewall.",
    }


def test_a_technician_sends_a_study_and_follows_it(tech):
    study = portal_study(series=2, per_series=1)
    api = signed_in(tech)
    with pynetdicom_scp() as (port, received):
        destination = destination_for("PACS", port, "STORE_SCP")
        created = api.post(
            "/api/sends/",
            {
                "study": study.pk,
                "destination": destination.pk,
                "series_uids": [study.series.first().series_instance_uid],
            },
            format="json",
        )
        assert created.status_code == 201, created.data
        job = SendJob.objects.get(pk=created.data["id"])
        wait_for(lambda: job.refresh_from_db() or job.finished)
    detail = api.get(f"/api/sends/{job.pk}/").data
    assert detail["state"] == "sent"
    assert detail["progress"]["sent"] == 1 and detail["progress"]["total"] == 1
    assert [s["state"] for s in detail["progress"]["series"]] == ["sent"]
    assert detail["attempts"][0]["instances_sent"] == 1
    again = api.post(f"/api/sends/{job.pk}/resume")
    assert again.status_code == 400
    assert again.data["detail"] == "Every instance of this send is already confirmed."
    assert len(received) == 1
    assert wait_for_local_tasks(30)


def test_nothing_to_send_is_a_clear_400(tech):
    study = portal_study(per_series=1)
    destination = destination_for("PACS", free_port(), "PACS")
    api = signed_in(tech)
    api.post("/api/sends/", {"study": study.pk, "destination": destination.pk}, format="json")
    second = api.post(
        "/api/sends/", {"study": study.pk, "destination": destination.pk}, format="json"
    )
    assert second.status_code == 400
    assert "nothing to send" in second.data["detail"]
    SendJob.objects.update(state="cancelled")
    assert wait_for_local_tasks(60)
