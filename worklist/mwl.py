"""Modality Worklist C-FIND: which orders a query matches, and the answer for each.

Matching follows PS3.4 C.2.2.2 on the keys of PS3.4 K.6.1.2.2: Patient's Name, Patient ID,
Accession Number, Requested Procedure ID, Study Instance UID, and inside the Scheduled
Procedure Step Sequence: Modality, Scheduled Station AE Title, Start Date and Time and
Scheduled Performing Physician's Name. Each key is translated to an ORM filter, so the
database does the work (and "today, my station" uses the device/time index). Values on other
keys are return keys only: the portal does not match on them.

Choices the standard leaves to us:
- Patient's Name matches case-insensitively (consoles type names in any case), as
  `OwnerLastName^AnimalName`. On SQLite only ASCII letters fold case; PostgreSQL folds all.
- Orders that can still be performed are offered: scheduled, arrived and in progress
  (a console that crashed mid-exam must find its order again).
- Scheduled Performing Physician's Name is the order's requesting vet (the clinic books the
  vet in charge of the exam), stored as free text "Anna Berg" and matched as "Berg^Anna".
- Dates and times are the clinic's local time (TIME_ZONE), as consoles show them.
- The answer holds exactly the keys the query asked for (PS3.4 C.4.1.1.3.2), each filled
  from the order or zero-length when the portal knows nothing; a sequence asked for with an
  empty item returns its whole items. Specific Character Set is added when a value is not ASCII.
"""

import re
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any

from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Concat, NullIf
from django.utils import timezone
from pydicom import Dataset, config
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.valuerep import PersonName

from clinic.models import Species
from worklist.models import Order, OrderStatus

OFFERED_STATUSES = (OrderStatus.SCHEDULED, OrderStatus.ARRIVED, OrderStatus.IN_PROGRESS)
# PS3.3 C.4.10 Scheduled Procedure Step Status defined terms.
STEP_STATUS = {
    OrderStatus.SCHEDULED: "SCHEDULED",
    OrderStatus.ARRIVED: "ARRIVED",
    OrderStatus.IN_PROGRESS: "STARTED",
}
# SNOMED CT organism codes (the inverse of what clinic.matching reads from arriving studies).
SPECIES_CODES = {
    Species.CANINE: ("448771007", "Canis lupus familiaris"),
    Species.FELINE: ("448169003", "Felis catus"),
    Species.EQUINE: ("388445009", "Equus caballus"),
    Species.BOVINE: ("34618005", "Bos taurus"),
    Species.OVINE: ("125099002", "Ovis aries"),
    Species.CAPRINE: ("125097000", "Capra hircus"),
    Species.PORCINE: ("78678003", "Sus scrofa"),
    Species.LAGOMORPH: ("387961004", "Oryctolagus cuniculus"),
}
UTF8 = "ISO_IR 192"
SPECIFIC_CHARACTER_SET = 0x00080005


class QueryError(ValueError):
    """A query the portal cannot answer (malformed value); str() says why."""


# --- matching ---------------------------------------------------------------------------


def _values(value) -> list[str]:
    """A key's values as text; more than one (backslash-separated) means "any of these"."""
    if value is None:
        return []
    if isinstance(value, (list, tuple, MultiValue)):
        return [str(v).strip() for v in value]
    return [str(value).strip()]


def _text_q(field: str, value, *, ignore_case: bool = False) -> Q | None:
    """PS3.4 C.2.2.2.1 single value, C.2.2.2.4 wildcard (`*`, `?`), C.2.2.2.3 universal (empty)."""
    alternatives = []
    for text in _values(value):
        if text == "" or set(text) == {"*"}:
            return None  # universal matching: any value, including none
        lookup = "i" if ignore_case else ""
        if "*" not in text and "?" not in text:
            alternatives.append(Q(**{f"{field}__{lookup or ''}exact": text}))
            continue
        parts = text.split("*")
        if "?" not in text and len(parts) == 2 and parts[1] == "":
            alternatives.append(Q(**{f"{field}__{lookup}startswith": parts[0]}))
        elif "?" not in text and len(parts) == 3 and parts[0] == parts[2] == "":
            alternatives.append(Q(**{f"{field}__{lookup}contains": parts[1]}))
        else:
            pattern = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
            alternatives.append(Q(**{f"{field}__{lookup}regex": f"^{pattern}$"}))
    if not alternatives:
        return None
    combined = alternatives[0]
    for alternative in alternatives[1:]:
        combined |= alternative
    return combined


def _parse_date(text: str) -> date:
    digits = text.replace(".", "")  # ACR-NEMA style YYYY.MM.DD, still sent by old consoles
    try:
        return datetime.strptime(digits, "%Y%m%d").date()
    except ValueError:
        raise QueryError(f"{text!r} is not a date (YYYYMMDD)") from None


def _parse_time(text: str, *, end: bool) -> time:
    """A TM value; a partial one ("09", "0930") stands for its whole hour or minute."""
    digits = text.replace(":", "").split(".")[0]
    if not digits.isdigit() or len(digits) not in (2, 4, 6):
        raise QueryError(f"{text!r} is not a time (HHMMSS)")
    parts = [int(digits[i : i + 2]) for i in range(0, len(digits), 2)]
    filler = [59, 59] if end else [0, 0]
    hour, minute, second = (parts + filler[len(parts) - 1 :])[:3]
    try:
        return time(hour, minute, second, 999999 if end else 0)
    except ValueError:
        raise QueryError(f"{text!r} is not a time (HHMMSS)") from None


def _range(text: str) -> tuple[str, str]:
    """PS3.4 C.2.2.2.5: `A-B`, `-B`, `A-` or a single value `A` (meaning `A-A`)."""
    if "-" in text:
        start, _, end = text.partition("-")
        return start.strip(), end.strip()
    return text, text


def _schedule_q(date_value, time_value) -> Q | None:
    """Start date and time, combined into one date-time range when both are given (C.2.2.2.5)."""
    date_text = (_values(date_value) or [""])[0]
    time_text = (_values(time_value) or [""])[0]
    if not date_text and not time_text:
        return None
    start_time, end_time = _range(time_text) if time_text else ("", "")
    t1 = _parse_time(start_time, end=False) if start_time else time.min
    t2 = _parse_time(end_time, end=True) if end_time else time.max
    if not date_text:  # time of day on any date
        q = Q()
        if start_time:
            q &= Q(scheduled_at__time__gte=t1)
        if end_time:
            q &= Q(scheduled_at__time__lte=t2)
        return q
    start_date, end_date = _range(date_text)
    q = Q()
    if start_date:
        start = timezone.make_aware(datetime.combine(_parse_date(start_date), t1))
        q &= Q(scheduled_at__gte=start)
    if end_date:
        end = timezone.make_aware(datetime.combine(_parse_date(end_date), t2))
        q &= Q(scheduled_at__lte=end)
    return q


def _name_q(value) -> Q | None:
    values = [v.rstrip("^=").strip() for v in _values(value)]
    return _text_q("mwl_patient_name", values, ignore_case=True)


def worklist_orders(query: Dataset) -> QuerySet[Order]:
    """The offered orders a C-FIND identifier matches, earliest first."""
    orders = Order.objects.filter(status__in=OFFERED_STATUSES)
    filters: list[Q | None] = [
        _text_q("patient__patient_id", query.get("PatientID")),
        _text_q("accession_number", query.get("AccessionNumber")),
        _text_q("requested_procedure_id", query.get("RequestedProcedureID")),
        _text_q("study_instance_uid", query.get("StudyInstanceUID")),
    ]
    name_q = _name_q(query.get("PatientName"))
    if name_q is not None:
        orders = orders.annotate(mwl_patient_name=_patient_name_expression())
        filters.append(name_q)
    steps = query.get("ScheduledProcedureStepSequence")
    if steps:
        step = steps[0]  # PS3.4 K.6.1.2.2: a query holds one item
        filters += [
            _text_q("procedure__modality", step.get("Modality")),
            _text_q("device__ae_title", step.get("ScheduledStationAETitle")),
            _text_q("scheduled_step_id", step.get("ScheduledProcedureStepID")),
            _schedule_q(
                step.get("ScheduledProcedureStepStartDate"),
                step.get("ScheduledProcedureStepStartTime"),
            ),
            _text_q(
                "requesting_vet",
                [_free_text_name(v) for v in _values(step.get("ScheduledPerformingPhysicianName"))],
                ignore_case=True,
            )
            if step.get("ScheduledPerformingPhysicianName")
            else None,
        ]
    for q in filters:
        if q is not None:
            orders = orders.filter(q)
    return orders.select_related("patient__owner", "procedure", "device").order_by(
        "scheduled_at", "pk"
    )


def _patient_name_expression():
    """`OwnerLastName^AnimalName` in SQL: the responsible party is the owner's last name, or
    the owning organization, as in the name the answer carries."""
    family = Coalesce(
        NullIf(F("patient__owner__last_name"), Value("")),
        NullIf(F("patient__owner__organization"), Value("")),
        Value(""),
    )
    return Concat(family, Value("^"), F("patient__name"))


def _free_text_name(text: str) -> str:
    """A query's Person Name compared with the free text the clinic stores (`Anna Berg`)."""
    family, _, given = text.rstrip("^=").partition("^")
    return f"{given.strip()} {family.strip()}".strip() if given else family.strip()


# --- answers ------------------------------------------------------------------------------
#
# An order's record maps tags to (VR, value); a sequence's value is a list of records. The
# query is read once into a plan (tag, VR, plan of the sequence item or None for "all"), and
# each answer builds only the elements the plan names, without pydicom's per-value checks:
# the values come from the portal's own validated fields.

Record = dict[int, tuple[str, Any]]
Plan = list[tuple[int, str, "Plan | None"]]


def _element(keyword: str) -> tuple[int, str]:
    tag = tag_for_keyword(keyword)
    assert tag is not None, keyword
    return tag, dictionary_VR(tag)


_ELEMENTS: dict[str, tuple[int, str]] = {}


def _record(**values: Any) -> Record:
    record: Record = {}
    for keyword, value in values.items():
        if keyword not in _ELEMENTS:
            _ELEMENTS[keyword] = _element(keyword)
        tag, vr = _ELEMENTS[keyword]
        record[tag] = (vr, value)
    return record


def _person_name(text: str) -> str:
    """Free text "Anna Berg" as a DICOM Person Name "Berg^Anna"; "Berg^Anna" kept as it is."""
    text = text.strip()
    if "^" in text or " " not in text:
        return text
    given, _, family = text.rpartition(" ")
    return f"{family}^{given}"


def _code_item(value: str, scheme: str, meaning: str) -> Record:
    return _record(CodeValue=value, CodingSchemeDesignator=scheme, CodeMeaning=meaning[:64])


def order_record(order: Order) -> Record:
    """Everything the worklist can say about one order, before it is cut to the query's keys."""
    patient, procedure, device = order.patient, order.procedure, order.device
    owner = patient.owner
    family = (owner.last_name or owner.organization) if owner else ""
    scheduled = timezone.localtime(order.scheduled_at)
    species_code = SPECIES_CODES.get(patient.species)
    procedure_code = _code_item(procedure.code, procedure.coding_scheme, procedure.name)
    if owner:
        responsible = f"{owner.last_name}^{owner.first_name}".rstrip("^")
        organization = owner.organization
    else:
        responsible, organization = _person_name(patient.responsible_person), ""
    step = _record(
        ScheduledStationAETitle=device.ae_title,
        ScheduledStationName=device.name[:16],
        ScheduledProcedureStepLocation=device.location,
        ScheduledProcedureStepStartDate=scheduled.strftime("%Y%m%d"),
        ScheduledProcedureStepStartTime=scheduled.strftime("%H%M%S"),
        Modality=procedure.modality,
        ScheduledPerformingPhysicianName=_person_name(order.requesting_vet),
        ScheduledProcedureStepDescription=procedure.name,
        ScheduledProtocolCodeSequence=[procedure_code],
        ScheduledProcedureStepID=order.scheduled_step_id,
        ScheduledProcedureStepStatus=STEP_STATUS.get(order.status, "SCHEDULED"),
    )
    return _record(
        # PS3.3 C.7.1.1.1.1: veterinary convention, family = responsible party, given = animal.
        PatientName=str(
            PersonName.from_named_components_veterinary(
                responsible_party_name=family, patient_name=patient.name
            )
        ),
        PatientID=patient.patient_id,
        IssuerOfPatientID=patient.issuer,
        PatientBirthDate=patient.birth_date.strftime("%Y%m%d") if patient.birth_date else "",
        PatientSex=patient.sex,
        PatientSexNeutered=patient.neutered,
        PatientWeight=str(patient.weight_kg.normalize()) if patient.weight_kg is not None else "",
        PatientSpeciesDescription=patient.species_label,
        PatientSpeciesCodeSequence=(
            [_code_item(species_code[0], "SCT", species_code[1])] if species_code else []
        ),
        PatientBreedDescription=patient.breed,
        PatientBreedCodeSequence=[],
        BreedRegistrationSequence=[],
        ResponsiblePerson=responsible,
        ResponsiblePersonRole="OWNER" if responsible or organization else "",
        ResponsibleOrganization=organization,
        AccessionNumber=order.accession_number,
        RequestingPhysician=_person_name(order.requesting_vet),
        ReferringPhysicianName=_person_name(order.referring_vet),
        StudyInstanceUID=order.study_instance_uid,
        RequestedProcedureID=order.requested_procedure_id,
        RequestedProcedureDescription=procedure.name,
        RequestedProcedureCodeSequence=[procedure_code],
        RequestedProcedurePriority=order.priority,
        ReasonForTheRequestedProcedure=order.reason[:64],
        RequestedProcedureComments=order.reason if len(order.reason) > 64 else "",
        ScheduledProcedureStepSequence=[step],
    )


def query_plan(query: Dataset) -> Plan:
    """The keys a query asks for; a sequence asked with an empty item (None) wants it all."""
    plan: Plan = []
    for key in query:
        if key.tag.element == 0 or key.tag == SPECIFIC_CHARACTER_SET:
            continue  # group lengths are not keys; the character set is decided per answer
        item_plan = None
        if key.VR == "SQ" and key.value and len(key.value[0]):
            item_plan = query_plan(key.value[0])
        plan.append((key.tag, key.VR, item_plan))
    return plan


def _raw(tag: int, vr: str, value: Any, flags: dict) -> RawDataElement:
    """A text element already encoded (UTF-8, which equals ASCII when no value needs more),
    so writing the answer copies bytes instead of converting every value again."""
    text = value if isinstance(value, str) else ""
    if not text.isascii():
        flags["utf8"] = True
    data = text.encode("utf-8")
    if len(data) % 2:  # PS3.5 6.2: even length, UIDs padded with NUL, text with a space
        data += b"\0" if vr == "UI" else b" "
    return RawDataElement(BaseTag(tag), vr, len(data), data, 0, True, True)


def _build(plan: Plan | None, record: Record, flags: dict) -> Dataset:
    answer = Dataset()
    if plan is None:  # the whole item
        plan = [(tag, vr, None) for tag, (vr, _) in sorted(record.items())]
    for tag, vr, item_plan in plan:
        have = record.get(tag)
        if vr == "SQ":
            items = have[1] if have is not None else []
            value = Sequence([_build(item_plan, item, flags) for item in items])
            answer.add(DataElement(tag, vr, value, validation_mode=config.IGNORE))
        else:
            value = have[1] if have is not None and have[0] == vr else ""
            answer[tag] = _raw(tag, vr, value, flags)
    return answer


def _mark_encoding(ds: Dataset, *, implicit_vr: bool, little_endian: bool) -> None:
    """Tell pydicom the raw values are already in the answer's encoding and character set."""
    ds.set_original_encoding(implicit_vr, little_endian, ds._character_set)
    for element in ds.values():
        if element.VR == "SQ" and not element.is_raw:
            for item in element.value:
                _mark_encoding(item, implicit_vr=implicit_vr, little_endian=little_endian)


def worklist_answer(
    order: Order, query: Dataset | Plan, *, implicit_vr: bool = False, little_endian: bool = True
) -> Dataset:
    """The C-FIND pending identifier for one matched order: the query's keys, filled from the
    order (zero-length where the portal knows nothing), for the given transfer syntax."""
    plan = query_plan(query) if isinstance(query, Dataset) else query
    flags: dict = {}
    answer = _build(plan, order_record(order), flags)
    if flags:
        answer.SpecificCharacterSet = UTF8  # PS3.3 C.12.1.1.2: UTF-8 covers every name
    _mark_encoding(answer, implicit_vr=implicit_vr, little_endian=little_endian)
    return answer


def worklist_find(
    query: Dataset, *, implicit_vr: bool = False, little_endian: bool = True
) -> Iterator[Dataset]:
    """Answers for every offered order the query matches, earliest first."""
    plan = query_plan(query)
    for order in worklist_orders(query).iterator(chunk_size=200):
        yield worklist_answer(order, plan, implicit_vr=implicit_vr, little_endian=little_endian)
