"""Matching arrived studies to their orders, and the wrong-patient flag with its one-click fix."""

import pytest
from django.utils import timezone
from pydicom.uid import generate_uid

from clinic.queue import wait_for_local_tasks
from imaging.ingest import instance_receive_dataset
from imaging.models import Study, StudyEvent
from imaging.synthetic import make_dataset
from tests.worklist import booking
from worklist.matching import study_order_confirm, study_order_match
from worklist.models import Order, OrderStatus
from worklist.orders import order_cancel

pytestmark = pytest.mark.django_db


def _arrive(**fields) -> Study:
    """One instance through ingest, as a console sends it. Today's date unless told."""
    study_date = fields.pop("study_date", timezone.localdate().strftime("%Y%m%d"))
    ds = make_dataset(**{"study_uid": generate_uid(), "accession": "", **fields})
    ds.StudyDate = study_date
    received = instance_receive_dataset(dataset=ds, calling_ae="DR_ROOM_1")
    return received.instance.series.study


@pytest.fixture
def rex():
    return booking.patient("Rex", "P-100", owner="Smith")


@pytest.fixture
def order(rex):
    return booking.book(patient=rex)


def test_the_worklist_study_uid_matches_and_the_order_arrives(order, rex):
    study = _arrive(study_uid=order.study_instance_uid, patient_id="P-100")
    matched = study_order_match(study_id=study.pk)
    assert matched == order
    order.refresh_from_db()
    assert (order.study, order.matched_by, order.status) == (study, "study_uid", "arrived")
    assert order.mismatch == ""
    study.refresh_from_db()
    assert study.patient == rex
    assert StudyEvent.objects.filter(study=study, kind="order_matched").exists()


def test_the_accession_number_matches_when_the_console_made_its_own_uid(order, rex):
    study = _arrive(accession=order.accession_number, patient_id="P-100")
    assert study_order_match(study_id=study.pk) == order
    assert Order.objects.get(pk=order.pk).matched_by == "accession"


def test_patient_modality_and_day_match_a_study_typed_at_the_console(rex):
    booking.book(patient=rex, at=booking.today_at(9) - timezone.timedelta(days=1))
    booking.book(patient=rex, code="CTTHX", at=booking.today_at(9))
    wanted = booking.book(patient=rex, at=booking.today_at(11))
    study = _arrive(patient_id="P-100")
    assert study_order_match(study_id=study.pk) == wanted
    assert Order.objects.get(pk=wanted.pk).matched_by == "patient_date"


def test_a_console_without_patient_id_still_lands_under_the_booked_patient(order, rex):
    study = _arrive(accession=order.accession_number, patient_id=None)
    assert study.patient != rex  # ingest made a placeholder from the data set
    study_order_match(study_id=study.pk)
    study.refresh_from_db()
    assert study.patient == rex
    assert Order.objects.get(pk=order.pk).mismatch == ""
    assert StudyEvent.objects.filter(study=study, kind="patient_reassigned").exists()


def test_the_owner_first_or_animal_first_name_is_no_mismatch(order):
    study = _arrive(accession=order.accession_number, patient_id="P-100", patient_name="Rex^Smith")
    study_order_match(study_id=study.pk)
    assert Order.objects.get(pk=order.pk).mismatch == ""


def test_another_patient_typed_at_the_console_is_flagged_not_moved(order, rex, tech):
    study = _arrive(
        accession=order.accession_number, patient_id="P-999", patient_name="Jones^Bella"
    )
    study_order_match(study_id=study.pk)
    order.refresh_from_db()
    assert "Patient ID P-999 (order: P-100)" in order.mismatch
    assert "Bella (order: Rex)" in order.mismatch
    study.refresh_from_db()
    assert study.patient.patient_id == "P-999"  # waits for a person to look

    study_order_confirm(order=order, user=tech)
    order.refresh_from_db()
    study.refresh_from_db()
    assert order.mismatch == ""
    assert study.patient == rex
    event = StudyEvent.objects.get(study=study, kind="patient_reassigned")
    assert event.user == tech


def test_a_retyped_animal_name_with_the_right_id_is_flagged(order, rex):
    study = _arrive(accession=order.accession_number, patient_id="P-100", patient_name="Smith^Max")
    study_order_match(study_id=study.pk)
    mismatch = Order.objects.get(pk=order.pk).mismatch
    assert "animal Max (order: Rex)" in mismatch
    assert "Patient ID" not in mismatch


def test_mpps_progress_is_not_undone_by_arriving_images(order):
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.IN_PROGRESS)
    study = _arrive(study_uid=order.study_instance_uid, patient_id="P-100")
    study_order_match(study_id=study.pk)
    assert Order.objects.get(pk=order.pk).status == OrderStatus.IN_PROGRESS


def test_nothing_booked_leaves_the_study_alone(rex):
    cancelled = booking.book(patient=rex)
    order_cancel(order=cancelled, reason="Owner called off", user=None)
    study = _arrive(patient_id="P-100")
    assert study_order_match(study_id=study.pk) is None
    assert Order.objects.get(pk=cancelled.pk).study is None


def test_matching_twice_keeps_the_first_link(order):
    study = _arrive(study_uid=order.study_instance_uid, patient_id="P-100")
    assert study_order_match(study_id=study.pk) == order
    assert study_order_match(study_id=study.pk) == order
    assert StudyEvent.objects.filter(study=study, kind="order_matched").count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_arriving_study_is_matched_by_the_ingest_signal():
    rex = booking.patient("Rex", "P-100")
    order = booking.book(patient=rex)
    study = _arrive(study_uid=order.study_instance_uid, patient_id="P-100")
    assert wait_for_local_tasks(timeout=30)
    order.refresh_from_db()
    assert order.study == study
    assert order.status == OrderStatus.ARRIVED
