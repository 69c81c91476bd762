"""The procedure and order API: who may book, the same-day duplicate rule, cancelling, the fix."""

import pytest
from django.core.management import call_command
from pydicom.uid import generate_uid
from rest_framework.test import APIClient

from imaging.ingest import instance_receive_dataset
from imaging.synthetic import make_dataset
from tests.worklist import booking
from worklist.matching import study_order_match
from worklist.models import Order, OrderStatus

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def rex():
    return booking.patient("Rex", "P-100")


def _booking(rex, **extra) -> dict:
    return {
        "patient": rex.pk,
        "procedure": booking.procedure("THX3").pk,
        "device": booking.device().pk,
        "scheduled_at": booking.today_at(10).isoformat(),
        "requesting_vet": "Dr Anna Vet",
        "reason": "Coughing",
        **extra,
    }


def test_front_desk_books_and_gets_the_worklist_identifiers(front_desk, rex):
    response = _client(front_desk).post("/api/orders/", _booking(rex), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "scheduled"
    assert body["patient"]["patient_id"] == "P-100"
    assert body["procedure"]["code"] == "THX3"
    assert body["device"]["ae_title"] == "DR_ROOM_1"
    assert body["accession_number"] and len(body["accession_number"]) <= 16
    assert body["study_instance_uid"].count(".") > 3
    assert body["completeness"] is None
    assert Order.objects.get().created_by == front_desk


def test_the_performing_vet_is_booked_and_changed(front_desk, rex):
    client = _client(front_desk)
    booked = client.post(
        "/api/orders/", _booking(rex, performing_vet="Lea Jansen"), format="json"
    ).json()
    assert (booked["requesting_vet"], booked["performing_vet"]) == ("Dr Anna Vet", "Lea Jansen")
    changed = client.patch(
        f"/api/orders/{booked['id']}/",
        {"performing_vet": "Tom Hale", "change_reason": "Lea is off sick"},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["performing_vet"] == "Tom Hale"
    order = Order.objects.get()
    assert order.events.filter(
        kind="changed", message__contains="performing vet / technician Lea Jansen → Tom Hale"
    ).exists()


def test_an_outsider_can_neither_read_nor_book(outsider, rex):
    client = _client(outsider)
    assert client.get("/api/orders/").status_code == 403
    assert client.get("/api/procedures/").status_code == 403
    assert client.post("/api/orders/", _booking(rex), format="json").status_code == 403


def test_a_same_day_repeat_needs_confirmation(front_desk, rex):
    client = _client(front_desk)
    assert client.post("/api/orders/", _booking(rex), format="json").status_code == 201
    again = client.post("/api/orders/", _booking(rex), format="json")
    assert again.status_code == 400
    assert "Rex already has Thorax 3-view booked that day" in again.json()["detail"]
    confirmed = client.post("/api/orders/", _booking(rex, confirm_duplicate=True), format="json")
    assert confirmed.status_code == 201
    assert Order.objects.count() == 2


def test_orders_list_by_day_and_device(tech, rex):
    booking.book(patient=rex, at=booking.today_at(9))
    booking.book(patient=rex, code="ABDUS", at=booking.today_at(11))
    dr = booking.device()
    client = _client(tech)
    listed = client.get("/api/orders/", {"day": booking.today_at(0).date().isoformat()}).json()
    assert [o["procedure"]["code"] for o in listed["results"]] == ["THX3", "ABDUS"]
    on_dr = client.get("/api/orders/", {"device": dr.pk}).json()["results"]
    assert [o["procedure"]["code"] for o in on_dr] == ["THX3"]
    assert client.get("/api/orders/", {"day": "not-a-day"}).status_code == 400


def test_procedures_list_with_their_expected_views(front_desk):
    booking.procedure()
    procedures = _client(front_desk).get("/api/procedures/", {"modality": "DX"}).json()
    thorax = next(p for p in procedures["results"] if p["code"] == "THX3")
    assert [v["name"] for v in thorax["views"]] == ["Right lateral", "Left lateral", "Ventrodorsal"]


def test_change_and_cancel_with_a_reason(front_desk, rex):
    order = booking.book(patient=rex)
    client = _client(front_desk)
    no_why = client.patch(f"/api/orders/{order.pk}/", {"priority": "STAT"}, format="json")
    assert no_why.status_code == 400
    assert "why" in no_why.json()["detail"].lower()
    changed = client.patch(
        f"/api/orders/{order.pk}/",
        {
            "scheduled_at": booking.today_at(14).isoformat(),
            "priority": "STAT",
            "change_reason": "Moved to the afternoon list",
        },
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["priority"] == "STAT"
    assert order.events.filter(kind="changed", message__contains="afternoon list").exists()
    no_reason = client.post(f"/api/orders/{order.pk}/cancel", {"reason": ""}, format="json")
    assert no_reason.status_code == 400
    cancelled = client.post(
        f"/api/orders/{order.pk}/cancel", {"reason": "Owner called off"}, format="json"
    )
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["status_reason"] == "Owner called off"
    again = client.patch(
        f"/api/orders/{order.pk}/", {"priority": "HIGH", "change_reason": "x"}, format="json"
    )
    assert again.status_code == 400
    assert "cancelled" in again.json()["detail"]


def test_the_flagged_study_is_filed_under_the_order_patient(tech, front_desk, rex):
    order = booking.book(patient=rex)
    dataset = make_dataset(
        study_uid=generate_uid(),
        accession=order.accession_number,
        patient_id="P-999",
        patient_name="Jones^Bella",
    )
    study = instance_receive_dataset(dataset=dataset).instance.series.study
    study_order_match(study_id=study.pk)
    url = f"/api/orders/{order.pk}/file-under-patient"
    assert _client(front_desk).post(url).status_code == 403  # front desk does not move studies
    response = _client(tech).post(url)
    assert response.status_code == 200
    assert response.json()["mismatch"] == ""
    assert response.json()["status"] == OrderStatus.ARRIVED
    study.refresh_from_db()
    assert study.patient == rex


def test_the_schema_validates_with_the_worklist_endpoints(tmp_path):
    schema = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema))
    text = schema.read_text()
    assert "/api/orders/{id}/cancel:" in text
    assert "/api/procedures/:" in text
    assert "performing_vet" in text
