"""MPPS: a console reports an exam started and finished; the order follows, bad updates are refused."""

import pytest
from pydicom import Dataset
from pydicom.uid import generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import ModalityPerformedProcedureStep

from tests.dicom_server import running_listener
from worklist import mpps
from worklist.models import Order, OrderStatus, PerformedStep

pytestmark = pytest.mark.django_db(transaction=True)


def in_progress(order: Order | None, *, accession: str = "", study_uid: str = "") -> Dataset:
    """The N-CREATE attribute list a console sends when the exam starts (PS3.4 F.7.2.1)."""
    ds = Dataset()
    ds.PerformedProcedureStepStatus = "IN PROGRESS"
    ds.PerformedStationAETitle = "DR1"
    ds.PerformedProcedureStepStartDate = "20261123"
    ds.PerformedProcedureStepStartTime = "091500"
    ds.PerformedProcedureStepID = "PPS1"
    ds.Modality = "DX"
    ds.PatientName = "Smith^Rex"
    ds.PatientID = "P-1001"
    item = Dataset()
    item.AccessionNumber = accession or (order.accession_number if order else "")
    item.StudyInstanceUID = study_uid or (order.study_instance_uid if order else "")
    item.ScheduledProcedureStepID = order.scheduled_step_id if order else ""
    ds.ScheduledStepAttributesSequence = [item]
    ds.PerformedSeriesSequence = []
    return ds


def finished(status: str = "COMPLETED", *, series: int = 3) -> Dataset:
    """The final N-SET modification list, with the series the console made."""
    ds = Dataset()
    ds.PerformedProcedureStepStatus = status
    ds.PerformedProcedureStepEndDate = "20261123"
    ds.PerformedProcedureStepEndTime = "092000"
    performed = []
    for number in range(1, series + 1):
        item = Dataset()
        item.SeriesInstanceUID = generate_uid()
        item.SeriesDescription = ["Thorax R LAT", "Thorax L LAT", "Thorax VD"][number - 1]
        image = Dataset()
        image.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
        image.ReferencedSOPInstanceUID = generate_uid()
        item.ReferencedImageSequence = [image]
        performed.append(item)
    ds.PerformedSeriesSequence = performed
    if status == "DISCONTINUED":
        reason = Dataset()
        reason.CodeValue = "110514"
        reason.CodingSchemeDesignator = "DCM"
        reason.CodeMeaning = "Incorrect worklist entry selected"
        ds.PerformedProcedureStepDiscontinuationReasonCodeSequence = [reason]
    return ds


@pytest.fixture
def console():
    """An associated MPPS SCU on the running listener; yields the association."""
    with running_listener() as (host, port, ae_title):
        ae = AE(ae_title="DR1")
        ae.add_requested_context(ModalityPerformedProcedureStep)
        assoc = ae.associate(host, port, ae_title=ae_title)
        assert assoc.is_established
        yield assoc
        assoc.release()


def create(assoc, uid: str, ds: Dataset) -> Dataset:
    status, _ = assoc.send_n_create(ds, ModalityPerformedProcedureStep, uid)
    return status


def update(assoc, uid: str, ds: Dataset) -> Dataset:
    status, _ = assoc.send_n_set(ds, ModalityPerformedProcedureStep, uid)
    return status


def test_in_progress_then_completed_moves_the_order_along(clinic_day, console):
    order, uid = clinic_day.thorax, generate_uid()

    assert create(console, uid, in_progress(order)).Status == 0x0000
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_PROGRESS
    step = PerformedStep.objects.get(sop_instance_uid=uid)
    assert (step.order, step.status, step.station_ae_title) == (order, "IN PROGRESS", "DR1")

    assert update(console, uid, finished("COMPLETED")).Status == 0x0000
    order.refresh_from_db()
    step.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    assert step.status == "COMPLETED" and step.ended_at is not None
    assert [s["description"] for s in step.performed_series] == [
        "Thorax R LAT",
        "Thorax L LAT",
        "Thorax VD",
    ]
    assert all(s["instances"] == 1 for s in step.performed_series)


def test_a_completed_step_may_no_longer_be_updated(clinic_day, console):
    uid = generate_uid()
    create(console, uid, in_progress(clinic_day.thorax))
    update(console, uid, finished("COMPLETED"))

    status = update(console, uid, finished("DISCONTINUED"))
    # PS3.4 F.7.2.2.2: processing failure, Error ID A710.
    assert status.Status == 0x0110
    assert status.ErrorID == 0xA710
    assert "no longer be updated" in status.ErrorComment
    clinic_day.thorax.refresh_from_db()
    assert clinic_day.thorax.status == OrderStatus.COMPLETED


def test_unknown_step_and_duplicate_step_are_refused(clinic_day, console):
    assert update(console, generate_uid(), finished()).Status == 0x0112  # no such instance
    uid = generate_uid()
    assert create(console, uid, in_progress(clinic_day.thorax)).Status == 0x0000
    assert create(console, uid, in_progress(clinic_day.thorax)).Status == 0x0111  # duplicate
    assert PerformedStep.objects.filter(sop_instance_uid=uid).count() == 1


def test_a_step_must_start_in_progress(clinic_day, console):
    ds = in_progress(clinic_day.thorax)
    ds.PerformedProcedureStepStatus = "COMPLETED"
    assert create(console, generate_uid(), ds).Status == 0x0106  # invalid attribute value
    clinic_day.thorax.refresh_from_db()
    assert clinic_day.thorax.status == OrderStatus.SCHEDULED


def test_discontinued_exam_records_why(clinic_day):
    uid = generate_uid()
    mpps.step_create(sop_instance_uid=uid, dataset=in_progress(None, accession=clinic_day.abdomen_us.accession_number))  # fmt: skip
    step = mpps.step_update(sop_instance_uid=uid, modifications=finished("DISCONTINUED", series=1))
    assert step.discontinuation_reason == "Incorrect worklist entry selected"
    clinic_day.abdomen_us.refresh_from_db()
    assert clinic_day.abdomen_us.status == OrderStatus.DISCONTINUED


def test_an_unscheduled_exam_is_recorded_without_an_order(clinic_day):
    step = mpps.step_create(
        sop_instance_uid=generate_uid(), dataset=in_progress(None, study_uid=generate_uid())
    )
    assert step.order is None and step.status == "IN PROGRESS"


def test_a_step_on_an_order_the_clinic_cancelled_is_kept_and_the_order_stays_cancelled(
    clinic_day,
):
    step = mpps.step_create(
        sop_instance_uid=generate_uid(), dataset=in_progress(clinic_day.cancelled)
    )
    assert step.order == clinic_day.cancelled
    clinic_day.cancelled.refresh_from_db()
    assert clinic_day.cancelled.status == OrderStatus.CANCELLED
