"""Scheduling pages through Django's test client: who may book, the duplicate warning, editing,
cancelling with a reason, the day view, and the arrivals page's order line and one-click fix."""

import pytest
from django.urls import reverse
from pydicom.uid import generate_uid

from clinic.models import Patient
from imaging.ingest import instance_receive_dataset
from imaging.synthetic import make_dataset
from tests.worklist import booking
from worklist.matching import study_order_match
from worklist.models import Order, OrderStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def rex():
    return booking.patient("Rex", "P-100", owner="Smith")


def _signed_in(client, user):
    client.force_login(user)
    return client


def _booking(patient=None, **extra) -> dict:
    data = {
        "procedure": booking.procedure("THX3").pk,
        "device": booking.device().pk,
        "day": booking.today_at(0).date().isoformat(),
        "time": "10:30",
        "requesting_vet": "Dr Anna Vet",
        "reason": "Coughing for two weeks",
        "priority": "ROUTINE",
        **extra,
    }
    if patient is not None:
        data["patient"] = patient.pk
    return data


def test_front_desk_books_an_exam_for_a_found_patient(client, front_desk, rex):
    _signed_in(client, front_desk)
    assert client.get(reverse("schedule-book")).status_code == 200
    response = client.post(reverse("schedule-book"), _booking(rex))
    assert response.status_code == 302
    order = Order.objects.get()
    assert (order.patient, order.procedure.code, order.status) == (rex, "THX3", "scheduled")
    assert order.created_by == front_desk
    day = client.get(response["Location"])
    assert "Booked Thorax 3-view for Rex at 10:30" in day.content.decode()
    assert order.accession_number in day.content.decode()


def test_the_performing_vet_is_booked_edited_and_shown_on_the_day(client, front_desk, rex):
    _signed_in(client, front_desk)
    assert "Performing vet / technician" in client.get(reverse("schedule-book")).content.decode()
    response = client.post(reverse("schedule-book"), _booking(rex, performing_vet="Lea Jansen"))
    assert response.status_code == 302
    order = Order.objects.get()
    assert (order.requesting_vet, order.performing_vet) == ("Dr Anna Vet", "Lea Jansen")
    assert "performed by Lea Jansen" in client.get(response["Location"]).content.decode()
    url = reverse("schedule-edit", args=[order.pk])
    assert 'value="Lea Jansen"' in client.get(url).content.decode()
    data = {**_booking(performing_vet="Tom Hale"), "change_reason": "Lea is off sick"}
    assert client.post(url, data).status_code == 302
    order.refresh_from_db()
    assert order.performing_vet == "Tom Hale"


def test_an_outsider_can_neither_see_nor_book(client, outsider, rex):
    _signed_in(client, outsider)
    assert client.get(reverse("schedule")).status_code == 403
    assert client.get(reverse("schedule-book")).status_code == 403
    assert client.post(reverse("schedule-book"), _booking(rex)).status_code == 403
    assert client.get(reverse("schedule-patient-search"), {"q": "Rex"}).status_code == 403
    assert not Order.objects.exists()


def test_signed_out_visitors_go_to_the_login_page(client):
    response = client.get(reverse("schedule"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_schedule_link_shows_for_those_who_may_book(client, front_desk):
    page = _signed_in(client, front_desk).get(reverse("patient-list")).content.decode()
    assert 'href="/schedule/"' in page


def test_patient_search_finds_by_animal_owner_phone_id_and_microchip(client, front_desk, rex):
    rex.microchip = "981000123456789"
    rex.save()
    booking.patient("Bella", "P-200", owner="Jones", phone="555-0200")
    _signed_in(client, front_desk)
    url = reverse("schedule-patient-search")
    for text in ("rex", "smi", "555-0100", "P-100", "981000123456789"):
        found = client.get(url, {"q": text}).json()["patients"]
        assert [p["name"] for p in found] == ["Rex"], text
    assert client.get(url, {"q": ""}).json() == {"patients": []}


def test_a_new_owner_and_patient_are_registered_with_the_booking(client, front_desk):
    _signed_in(client, front_desk)
    data = _booking(
        new_patient="on",
        animal_name="Luna",
        species="feline",
        owner_last_name="Garcia",
        owner_first_name="Maria",
        owner_phone="555-0199",
    )
    response = client.post(reverse("schedule-book"), data)
    assert response.status_code == 302
    luna = Patient.objects.get(name="Luna")
    assert luna.owner.last_name == "Garcia" and luna.patient_id.startswith("VP-")
    assert Order.objects.get().patient == luna


def test_a_booking_without_a_patient_says_what_is_missing(client, front_desk):
    response = _signed_in(client, front_desk).post(reverse("schedule-book"), _booking())
    assert response.status_code == 200
    assert "Find the patient, or choose “New patient”." in response.content.decode()
    assert not Order.objects.exists()


def test_the_same_procedure_twice_a_day_warns_before_booking(client, front_desk, rex):
    booking.book(patient=rex, at=booking.today_at(9))
    _signed_in(client, front_desk)
    response = client.post(reverse("schedule-book"), _booking(rex))
    assert response.status_code == 200
    assert "Rex already has Thorax 3-view booked that day: 09:00" in response.content.decode()
    assert Order.objects.count() == 1
    response = client.post(reverse("schedule-book"), _booking(rex, confirm_duplicate="on"))
    assert response.status_code == 302
    assert Order.objects.count() == 2


def test_editing_moves_the_exam(client, front_desk, rex):
    order = booking.book(patient=rex)
    _signed_in(client, front_desk)
    assert client.get(reverse("schedule-edit", args=[order.pk])).status_code == 200
    url = reverse("schedule-edit", args=[order.pk])
    without_reason = client.post(url, _booking(time="15:45", priority="STAT"))
    assert without_reason.status_code == 200  # the form again, asking why
    assert "This field is required" in without_reason.content.decode()
    assert Order.objects.get(pk=order.pk).priority != "STAT"

    response = client.post(
        url, {**_booking(time="15:45", priority="STAT"), "change_reason": "Owner asked for later"}
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.priority == "STAT"
    assert order.scheduled_at == booking.today_at(15, 45)
    history = client.get(url).content.decode()
    assert "Why: Owner asked for later" in history and "15:45" in history


def test_cancelling_needs_a_reason_and_shows_on_the_day(client, front_desk, rex):
    order = booking.book(patient=rex)
    _signed_in(client, front_desk)
    url = reverse("schedule-cancel", args=[order.pk])
    client.post(url, {"reason": ""})
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SCHEDULED
    response = client.post(url, {"reason": "Owner called: dog is better"}, follow=True)
    order.refresh_from_db()
    assert (order.status, order.status_reason) == ("cancelled", "Owner called: dog is better")
    page = response.content.decode()
    assert "Cancelled" in page and "Owner called: dog is better" in page


def test_the_day_view_lists_each_device_with_statuses(client, front_desk, rex):
    booking.book(patient=rex, at=booking.today_at(9))
    booking.book(patient=rex, code="ABDUS", at=booking.today_at(11))
    _signed_in(client, front_desk)
    page = client.get(reverse("schedule")).content.decode()
    assert "DR_ROOM_1" in page and "US_ROOM_1" in page
    assert page.count("Scheduled</span>") == 2
    rows = client.get(reverse("schedule-rows"), {"device": booking.device().pk})
    assert "X-Live-Digest" in rows.headers
    assert "Thorax 3-view" in rows.content.decode()
    assert "Abdominal ultrasound" not in rows.content.decode()


def _flagged_arrival(rex):
    order = booking.book(patient=rex)
    dataset = make_dataset(
        study_uid=generate_uid(),
        accession=order.accession_number,
        patient_id="P-999",
        patient_name="Jones^Bella",
        view_position="VD",
        series_description="Thorax VD",
    )
    study = instance_receive_dataset(dataset=dataset).instance.series.study
    study_order_match(study_id=study.pk)
    return order, study


def test_arrivals_show_the_order_completeness_and_the_mismatch_fix(client, tech, rex):
    order, study = _flagged_arrival(rex)
    _signed_in(client, tech)
    page = client.get(reverse("arrivals")).content.decode()
    assert f"Order {order.accession_number} · Thorax 3-view" in page
    assert 'status-arrived">Arrived</span>' in page
    assert "1 of 3 views: Right lateral, Left lateral missing" in page
    assert "The console sent Patient ID P-999 (order: P-100)" in page
    assert "File under Rex (ID P-100)" in page

    response = client.post(reverse("study-file-under-order", args=[study.pk]))
    assert response.status_code == 302
    study.refresh_from_db()
    assert study.patient == rex
    page = client.get(reverse("arrivals")).content.decode()
    assert "The console sent" not in page


def test_front_desk_cannot_move_studies(client, front_desk, rex):
    _, study = _flagged_arrival(rex)
    response = _signed_in(client, front_desk).post(
        reverse("study-file-under-order", args=[study.pk])
    )
    assert response.status_code == 403
