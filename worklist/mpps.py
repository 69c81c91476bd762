"""Modality Performed Procedure Step (PS3.4 Annex F.7): what a console reports it performed.

N-CREATE opens a step IN PROGRESS and links it to its order through the Scheduled Step
Attributes Sequence; N-SET updates it and finally makes it COMPLETED or DISCONTINUED with
the series it produced. The order's status follows the step. Errors carry the DIMSE status
the console should get, so the DICOM handler only translates.
"""

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from pydicom import Dataset

from worklist import orders
from worklist.models import Order, OrderStatus, PerformedStep, PerformedStepStatus

logger = logging.getLogger(__name__)

# PS3.7 C.4 / PS3.4 F.7.2 statuses for N-CREATE and N-SET.
INVALID_ATTRIBUTE_VALUE = 0x0106
PROCESSING_FAILURE = 0x0110
DUPLICATE_SOP_INSTANCE = 0x0111
NO_SUCH_SOP_INSTANCE = 0x0112
MISSING_ATTRIBUTE = 0x0120
# PS3.4 F.7.2.2.2: Error ID (0000,0903) sent with 0x0110 when a step is already final.
ERROR_ID_MAY_NO_LONGER_BE_UPDATED = 0xA710

_ORDER_STATUS_FOR_STEP = {
    PerformedStepStatus.IN_PROGRESS: OrderStatus.IN_PROGRESS,
    PerformedStepStatus.COMPLETED: OrderStatus.COMPLETED,
    PerformedStepStatus.DISCONTINUED: OrderStatus.DISCONTINUED,
}


class StepError(Exception):
    """A request the MPPS SCP refuses: `.status` is the DIMSE status, str() the reason."""

    def __init__(self, message: str, *, status: int, error_id: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()


def _when(ds: Dataset, date_keyword: str, time_keyword: str) -> datetime | None:
    day, clock = _text(ds, date_keyword), _text(ds, time_keyword).split(".")[0]
    if not day:
        return None
    clock = (clock.replace(":", "") + "000000")[:6]
    try:
        return timezone.make_aware(datetime.strptime(day + clock, "%Y%m%d%H%M%S"))
    except ValueError:
        return None


def _order_for(ds: Dataset) -> Order | None:
    """The order a step performs: by Study Instance UID, else accession number, of the first
    Scheduled Step Attributes item that names one of ours (PS3.3 C.4.13)."""
    for item in ds.get("ScheduledStepAttributesSequence") or []:
        uid = _text(item, "StudyInstanceUID")
        accession = _text(item, "AccessionNumber")
        if uid:
            order = Order.objects.filter(study_instance_uid=uid).first()
            if order:
                return order
        if accession:
            order = Order.objects.filter(accession_number=accession).first()
            if order:
                return order
    return None


def _performed_series(ds: Dataset) -> list[dict]:
    series = []
    for item in ds.get("PerformedSeriesSequence") or []:
        images = item.get("ReferencedImageSequence") or []
        others = item.get("ReferencedNonImageCompositeSOPInstanceSequence") or []
        series.append(
            {
                "series_uid": _text(item, "SeriesInstanceUID"),
                "description": _text(item, "SeriesDescription"),
                "protocol": _text(item, "ProtocolName"),
                "instances": len(images) + len(others),
            }
        )
    return series


def _discontinuation_reason(ds: Dataset) -> str:
    for item in ds.get("PerformedProcedureStepDiscontinuationReasonCodeSequence") or []:
        return _text(item, "CodeMeaning") or _text(item, "CodeValue")
    return ""


def _order_follows(step: PerformedStep, *, reason: str = "") -> None:
    """Move the linked order along with its step; an order the clinic already closed stays."""
    if step.order is None:
        return
    try:
        orders.order_status_set(
            order=step.order, status=_ORDER_STATUS_FOR_STEP[step.status], reason=reason
        )
    except orders.OrderError as exc:
        logger.warning("MPPS %s: order left as it is: %s", step.sop_instance_uid, exc)


def step_create(*, sop_instance_uid: str, dataset: Dataset, calling_ae: str = "") -> PerformedStep:
    """N-CREATE: record a step IN PROGRESS and put its order in progress."""
    if not sop_instance_uid:
        raise StepError("The step has no SOP Instance UID.", status=MISSING_ATTRIBUTE)
    status = _text(dataset, "PerformedProcedureStepStatus")
    if status != PerformedStepStatus.IN_PROGRESS:
        # PS3.4 F.7.2.1.2: a step is created IN PROGRESS; it ends through N-SET.
        raise StepError(
            f"A new step must be IN PROGRESS, not {status or 'empty'}.",
            status=INVALID_ATTRIBUTE_VALUE,
        )
    order = _order_for(dataset)
    now = timezone.now()
    try:
        with transaction.atomic():
            step = PerformedStep.objects.create(
                sop_instance_uid=sop_instance_uid,
                order=order,
                status=status,
                station_ae_title=_text(dataset, "PerformedStationAETitle")[:16] or calling_ae,
                started_at=_when(
                    dataset,
                    "PerformedProcedureStepStartDate",
                    "PerformedProcedureStepStartTime",
                )
                or now,
                performed_series=_performed_series(dataset),
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:
        if PerformedStep.objects.filter(sop_instance_uid=sop_instance_uid).exists():
            raise StepError(
                "This performed procedure step already exists.", status=DUPLICATE_SOP_INSTANCE
            ) from None
        raise
    if order is None:
        logger.info("MPPS %s from %s matches no order (unscheduled)", sop_instance_uid, calling_ae)
    _order_follows(step)
    return step


def step_update(*, sop_instance_uid: str, modifications: Dataset) -> PerformedStep:
    """N-SET: update a step IN PROGRESS; COMPLETED or DISCONTINUED ends it and its order."""
    with transaction.atomic():
        step = (
            PerformedStep.objects.select_for_update()
            .filter(sop_instance_uid=sop_instance_uid)
            .first()
        )
        if step is None:
            raise StepError("No such performed procedure step.", status=NO_SUCH_SOP_INSTANCE)
        if step.status != PerformedStepStatus.IN_PROGRESS:
            # PS3.4 F.7.2.2.2: a final step may no longer be updated.
            raise StepError(
                f"The step is {step.status} and may no longer be updated.",
                status=PROCESSING_FAILURE,
                error_id=ERROR_ID_MAY_NO_LONGER_BE_UPDATED,
            )
        new_status = _text(modifications, "PerformedProcedureStepStatus") or step.status
        if new_status not in PerformedStepStatus.values:
            raise StepError(
                f"{new_status!r} is not a performed procedure step status.",
                status=INVALID_ATTRIBUTE_VALUE,
            )
        if "PerformedSeriesSequence" in modifications:
            step.performed_series = _performed_series(modifications)
        step.status = new_status
        if new_status != PerformedStepStatus.IN_PROGRESS:
            step.ended_at = (
                _when(
                    modifications, "PerformedProcedureStepEndDate", "PerformedProcedureStepEndTime"
                )
                or timezone.now()
            )
        if new_status == PerformedStepStatus.DISCONTINUED:
            step.discontinuation_reason = _discontinuation_reason(modifications)[:200]
        step.updated_at = timezone.now()
        step.save()
        if new_status != PerformedStepStatus.IN_PROGRESS:
            _order_follows(step, reason=step.discontinuation_reason)
    return step
