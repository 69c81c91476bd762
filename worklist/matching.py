"""Matching an arrived study to the order it was booked as, and filing it under that patient.

A console that pulled its worklist copies the order's Study Instance UID and Accession Number
into the images (PS3.4 K.6.1.2.2); one that did not still sends the clinic's Patient ID. So a
study is matched by Study Instance UID first, then by accession number, then by patient,
modality and day. The portal, not the console, is the source of truth for identity: a matched
study is filed under the order's patient. When what the console sent disagrees with the order
(another Patient ID, another animal's name), the study is flagged instead, and staff file it
with one click once they have looked.
"""

import logging
import re
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from pydicom import Dataset, dcmread

from clinic.matching import demographics_from
from imaging import storage
from imaging.models import Instance, Study, StudyEvent
from imaging.studies import study_reassign
from worklist.models import Order, OrderStatus

logger = logging.getLogger(__name__)

# Orders a late-arriving or unplanned study may still be matched to by patient and day.
_MATCHABLE = (OrderStatus.SCHEDULED, OrderStatus.ARRIVED, OrderStatus.IN_PROGRESS)


def _header(study: Study) -> Dataset | None:
    """The first stored instance's header: what the console typed or pulled."""
    instance = Instance.objects.filter(series__study=study).order_by("received_at", "pk").first()
    if instance is None:
        return None
    try:
        with storage.instance_open(instance.storage_key) as handle:
            return dcmread(handle, stop_before_pixels=True)
    except Exception:  # a file gone or unreadable leaves only the index to go on
        logger.warning("cannot read the header of %s", instance.sop_instance_uid, exc_info=True)
        return None


def _words(text: str) -> set[str]:
    return {word for word in re.split(r"[^\w]+", text.casefold()) if word}


def demographics_mismatch(*, dataset: Dataset | None, study: Study, order: Order) -> str:
    """What the console sent that disagrees with the order's patient, in plain words ("" if
    nothing). A value the console left empty is no disagreement."""
    patient = order.patient
    problems = []
    if dataset is not None:
        sent_id = str(dataset.get("PatientID", "") or "").strip()
    else:
        sent_id = "" if study.patient_id == patient.pk else study.patient.patient_id
    if sent_id and sent_id.casefold() != patient.patient_id.casefold():
        problems.append(f"Patient ID {sent_id} (order: {patient.patient_id})")
    if dataset is not None and str(dataset.get("PatientName", "") or "").strip():
        sent_name = str(dataset.PatientName)
        # The veterinary convention puts the owner first (Smith^Rex); consoles also send
        # Rex^Smith or "Rex Smith": the animal's name anywhere in it is agreement.
        animal = demographics_from(dataset, fallback_key=study.study_instance_uid).animal_name
        if not _words(patient.name) <= _words(sent_name):
            problems.append(f"animal {animal or sent_name} (order: {patient.name})")
    if not problems:
        return ""
    return ("The console sent " + " and ".join(problems) + ".")[:300]


def _day_range(day) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    return start, start + timedelta(days=1)


def _find_order(study: Study) -> tuple[Order | None, str]:
    unlinked = Order.objects.select_for_update().filter(study__isnull=True)
    order = unlinked.filter(study_instance_uid=study.study_instance_uid).first()
    if order:
        return order, "study_uid"
    if study.accession_number:
        order = unlinked.filter(accession_number=study.accession_number).first()
        if order:
            return order, "accession"
    modalities = [m for m in study.modalities.split("\\") if m]
    day = study.study_date or timezone.localtime(study.received_at).date()
    start, end = _day_range(day)
    candidates = unlinked.filter(
        patient_id=study.patient_id,
        procedure__modality__in=modalities,
        status__in=_MATCHABLE,
        scheduled_at__gte=start,
        scheduled_at__lt=end,
    ).order_by("scheduled_at", "pk")
    if study.device_id:
        # The same patient booked twice that day on two machines: the sending one wins.
        on_device = candidates.filter(device_id=study.device_id).first()
        if on_device:
            return on_device, "patient_date"
    order = candidates.first()
    return (order, "patient_date") if order else (None, "")


def study_order_match(*, study_id: int) -> Order | None:
    """Link an arrived study to its order, file it under the order's patient, mark it arrived.

    Safe to run again: a study already linked keeps its order.
    """
    study = Study.objects.select_related("patient").filter(pk=study_id).first()
    if study is None:
        return None
    linked = Order.objects.filter(study=study).first()
    if linked is not None:
        return linked
    dataset = _header(study)
    with transaction.atomic():
        order, matched_by = _find_order(study)
        if order is None:
            return None
        order.mismatch = demographics_mismatch(dataset=dataset, study=study, order=order)
        order.study = study
        order.matched_by = matched_by
        if order.status == OrderStatus.SCHEDULED:
            # MPPS may have said "in progress" or "completed" already; images don't undo that.
            order.status = OrderStatus.ARRIVED
        order.updated_at = timezone.now()
        order.save(update_fields=["study", "matched_by", "mismatch", "status", "updated_at"])
        StudyEvent.objects.create(
            study=study,
            kind="order_matched",
            message=f"Matched to order {order.accession_number} ({order.procedure.name}) "
            f"by {_MATCHED_BY[matched_by]}."
            + (
                f" {order.mismatch} Check before filing it under the order's patient."
                if order.mismatch
                else ""
            ),
        )
        if not order.mismatch and study.patient_id != order.patient_id:
            study_reassign(study=study, patient=order.patient, user=None)
    return order


_MATCHED_BY = {
    "study_uid": "Study Instance UID",
    "accession": "accession number",
    "patient_date": "patient, modality and day",
}


def study_order_confirm(*, order: Order, user: AbstractBaseUser) -> Order:
    """The one-click fix: file a flagged study under its order's patient and clear the flag."""
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("patient", "study")
            .get(pk=order.pk)
        )
        if order.study is None:
            return order
        study_reassign(study=order.study, patient=order.patient, user=user)
        order.mismatch = ""
        order.updated_at = timezone.now()
        order.save(update_fields=["mismatch", "updated_at"])
    return order
