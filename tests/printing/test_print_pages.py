"""The printers page (administrators), the prints page with "Try again", the REST API, and
who may do what."""

import pytest
from rest_framework.test import APIClient

from imaging.models import Instance
from printing.models import PrintDestination, PrintJob, PrintJobImage, PrintState
from tests.printing.conftest import printer_for
from tests.printing.print_scp import PrinterBehaviour, print_scp

pytestmark = pytest.mark.django_db


def _signed_in(client, user):
    client.force_login(user)
    return client


def _api(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def _failed_job(study, printer, user) -> PrintJob:
    job = PrintJob.objects.create(
        study=study, destination=printer, film_size="14INX17IN", orientation="PORTRAIT",
        state=PrintState.FAILED, error="The printer ran out of film.", created_by=user,
    )  # fmt: skip
    PrintJobImage.objects.create(job=job, position=1, instance=Instance.objects.first())
    return job


def test_an_administrator_adds_a_printer_and_tests_it(client, administrator):
    page = _signed_in(client, administrator)
    with print_scp(behaviour=PrinterBehaviour(status_info="READY")) as (port, record, _):
        answer = page.post(
            "/printers/",
            {
                "name": "X-ray film camera", "ae_title": "DRYVIEW", "host": "127.0.0.1",
                "port": port, "film_sizes": ["10INX12IN", "14INX17IN"],
                "default_film_size": "14INX17IN", "orientation": "PORTRAIT",
                "magnification": "CUBIC", "medium_type": "BLUE FILM", "active": "on",
            },
        )  # fmt: skip
        assert answer.status_code == 302
        printer = PrintDestination.objects.get()
        assert printer.film_sizes == ["10INX12IN", "14INX17IN"]
        answer = page.post(f"/printers/{printer.pk}/test", follow=True)
    html = answer.content.decode()
    assert "printer status: NORMAL (READY)" in html
    assert record.printer_gets == 1


def test_a_default_film_size_the_printer_does_not_offer_is_refused(client, administrator):
    answer = _signed_in(client, administrator).post(
        "/printers/",
        {
            "name": "Paper", "ae_title": "PAPER", "host": "10.0.0.9", "port": 104,
            "film_sizes": ["A4"], "default_film_size": "14INX17IN", "orientation": "PORTRAIT",
            "magnification": "NONE", "medium_type": "PAPER",
        },
    )  # fmt: skip
    assert answer.status_code == 200
    assert "The default film size must be one the printer offers." in answer.content.decode()
    assert not PrintDestination.objects.exists()


def test_technicians_print_but_do_not_manage_printers(client, tech, study):
    page = _signed_in(client, tech)
    printer = printer_for(104)
    assert page.get("/printers/").status_code == 200  # they see the list
    assert page.post("/printers/", {"name": "Mine"}).status_code == 403
    assert page.get(f"/printers/{printer.pk}/").status_code == 403
    assert page.post(f"/printers/{printer.pk}/test").status_code == 403
    assert page.get("/prints/").status_code == 200
    viewer = page.get(f"/studies/{study.pk}/viewer").content.decode()
    assert "/api/print-jobs/" in viewer


def test_the_front_desk_and_outsiders_see_no_prints(client, front_desk, outsider, study):
    for person in (front_desk, outsider):
        page = _signed_in(client, person)
        assert page.get("/prints/").status_code == 403
        assert page.get("/printers/").status_code == 403
        assert _api(person).get("/api/print-jobs/").status_code == 403


def test_the_prints_page_lists_jobs_and_tries_a_failed_one_again(
    client, tech, study, django_capture_on_commit_callbacks
):
    job = _failed_job(study, printer_for(104), tech)
    page = _signed_in(client, tech)
    html = page.get("/prints/").content.decode()
    assert "The printer ran out of film." in html and "Try again" in html
    with django_capture_on_commit_callbacks() as queued:
        answer = page.post(f"/prints/{job.pk}/retry", follow=True)
    assert "Printing again on Film camera." in answer.content.decode()
    job.refresh_from_db()
    assert (job.state, job.error) == (PrintState.QUEUED, "")
    assert len(queued) == 1  # the task is queued once the retry is committed
    rows = page.get("/prints/rows")
    assert rows["X-Live-Digest"] and "Queued" in rows.content.decode()


def test_the_api_queues_a_print_and_reports_it(tech, study, django_capture_on_commit_callbacks):
    printer = printer_for(104)
    image = Instance.objects.filter(series__study=study).first()
    api = _api(tech)
    printers = api.get("/api/print-destinations/").json()["results"]
    assert [p["name"] for p in printers] == ["Film camera"]
    with django_capture_on_commit_callbacks() as queued:
        answer = api.post(
            "/api/print-jobs/",
            {
                "study": study.pk, "destination": printer.pk, "layout": "STANDARD\\1,2",
                "copies": 2, "annotations": False,
                "images": [{"sop_instance_uid": image.sop_instance_uid, "frame": 1,
                            "window_center": 40, "window_width": 400}],
            },
            format="json",
        )  # fmt: skip
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert (body["state"], body["film_size"], body["copies"]) == ("queued", "14INX17IN", 2)
    assert body["images"][0]["window_width"] == 400
    assert len(queued) == 1
    assert api.get(f"/api/print-jobs/{body['id']}/").json()["state_label"] == "Queued"

    refused = api.post(
        "/api/print-jobs/",
        {"study": study.pk, "destination": printer.pk, "film_size": "8_5INX11IN",
         "images": [{"sop_instance_uid": image.sop_instance_uid}]},
        format="json",
    )  # fmt: skip
    assert refused.status_code == 400
    assert "does not offer film size 8_5INX11IN" in refused.json()["detail"]
    # Printers are the administrators' to change.
    assert api.post("/api/print-destinations/", {"name": "x"}).status_code == 403
    assert api.post(f"/api/print-jobs/{body['id']}/retry").status_code == 400


def test_the_api_schema_describes_printing(client, administrator):
    schema = _signed_in(client, administrator).get("/api/schema/").content.decode()
    for path in (
        "/api/print-jobs/",
        "/api/print-destinations/{id}/test",
        "/api/print-jobs/{id}/retry",
    ):
        assert path in schema
