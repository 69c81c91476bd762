"""Modality Worklist C-FIND: which orders a query matches, and the answer for each.

Matching follows PS3.4 C.2.2.2 on the keys of PS3.4 K.6.1.2.2: Patient's Name, Patient ID,
Issuer of Patient ID, Accession Number, Requested Procedure ID, Study Instance UID, and inside
the Scheduled Procedure Step Sequence: Modality, Scheduled Station AE Title, Start Date and
Time, Scheduled Performing Physician's Name, Scheduled Procedure Step ID and Status. Each key
is translated to an ORM filter, so the database does the work (and "today, my station" uses
the device/time index). Values on other keys are return keys only: the portal does not match
on them. The answers are built in `worklist.mwl_answers`.

Choices the standard leaves to us:
- Patient's Name matches case-insensitively (consoles type names in any case), as
  `OwnerLastName^AnimalName`. On SQLite only ASCII letters fold case; PostgreSQL folds all.
- Orders that can still be performed are offered: scheduled, arrived and in progress
  (a console that crashed mid-exam must find its order again). Their step status is
  SCHEDULED, or STARTED once MPPS or images said so (`mwl_answers.STEP_STATUS`).
- Scheduled Performing Physician's Name is the vet or technician booked to perform the exam
  (`Order.performing_vet`), stored as free text "Anna Berg" and matched as "Berg^Anna".
- Issuer of Patient ID: the clinic's own patients carry none in the database; the worklist
  names `settings.PATIENT_ID_ISSUER` for them (empty by default: no issuer).
- Dates and times are the clinic's local time (TIME_ZONE), as consoles show them.
"""

import re
from collections.abc import Iterator
from datetime import date, datetime, time

from django.conf import settings
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Concat, NullIf
from django.utils import timezone
from pydicom import Dataset
from pydicom.multival import MultiValue

from clinic.models import Patient
from worklist.models import Order, OrderStatus
from worklist.mwl_answers import (
    ANSWER_FIELDS,
    STEP_STATUS,
    AnswerRow,
    EncodedAnswer,
    Plan,
    answer_row,
    answers,
    encoded_answer,
    person_name,
    query_plan,
)

OFFERED_STATUSES = (OrderStatus.SCHEDULED, OrderStatus.ARRIVED, OrderStatus.IN_PROGRESS)
# Patients matched by name or ID whose orders are looked up by a list of their IDs; past this
# (a wide wildcard) the orders are filtered by a subquery instead.
PATIENTS_LISTED = 200


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


def _wildcard_re(text: str) -> re.Pattern:
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    )


def _step_status_q(value) -> Q | None:
    """Scheduled Procedure Step Status, matched against the status each offered order has."""
    values = _values(value)
    if not values:
        return None
    statuses: set[str] = set()
    for text in values:
        if text == "" or set(text) == {"*"}:
            return None
        pattern = _wildcard_re(text)
        statuses |= {status for status, term in STEP_STATUS.items() if pattern.fullmatch(term)}
    return Q(status__in=sorted(statuses))


def _patients_q(query: Dataset) -> Q | None:
    """Patient ID, Issuer of Patient ID and Patient's Name: matched on the (few) patients
    first, so the database looks up only their orders instead of joining every order."""
    names = [v.rstrip("^=").strip() for v in _values(query.get("PatientName"))]
    filters = [
        _text_q("patient_id", query.get("PatientID")),
        _text_q("mwl_issuer", query.get("IssuerOfPatientID")),
        _text_q("mwl_name", names, ignore_case=True),
    ]
    if all(q is None for q in filters):
        return None
    patients = Patient.objects.annotate(
        # The name the answer carries: `OwnerLastName^AnimalName`, the responsible party
        # being the owner's last name or the owning organization.
        mwl_name=Concat(
            Coalesce(
                NullIf(F("owner__last_name"), Value("")),
                NullIf(F("owner__organization"), Value("")),
                Value(""),
            ),
            Value("^"),
            F("name"),
        ),
        mwl_issuer=Coalesce(NullIf(F("issuer"), Value("")), Value(settings.PATIENT_ID_ISSUER)),
    )
    for q in filters:
        if q is not None:
            patients = patients.filter(q)
    # Their IDs first, in a query of their own: the database then looks up just those
    # patients' orders (SQLite would otherwise walk every open order to test the subquery).
    found = list(patients.order_by().values_list("pk", flat=True)[: PATIENTS_LISTED + 1])
    if len(found) > PATIENTS_LISTED:
        return Q(patient__in=patients.values("pk"))
    return Q(patient_id__in=found)


def _performing_q(value) -> Q | None:
    """Scheduled Performing Physician's Name, matched (case-insensitively) against the Person
    Name the answer carries ("Jansen^Lea" for the stored "Lea Jansen"). A clinic has a handful
    of people performing exams, so their names are matched here rather than in SQL."""
    patterns = []
    for text in _values(value):
        text = text.rstrip("^=").strip()
        if text == "" or set(text) == {"*"}:
            return None
        patterns.append(_wildcard_re(text.casefold()))
    if not patterns:
        return None
    names = (
        Order.objects.filter(status__in=OFFERED_STATUSES)
        .exclude(performing_vet="")
        .order_by()
        .values_list("performing_vet", flat=True)
        .distinct()
    )
    matching = [
        name for name in names if any(p.fullmatch(person_name(name).casefold()) for p in patterns)
    ]
    return Q(performing_vet__in=matching)


def worklist_orders(query: Dataset) -> QuerySet[Order]:
    """The offered orders a C-FIND identifier matches, earliest first."""
    orders = Order.objects.filter(status__in=OFFERED_STATUSES)
    filters: list[Q | None] = [
        _patients_q(query),
        _text_q("accession_number", query.get("AccessionNumber")),
        _text_q("requested_procedure_id", query.get("RequestedProcedureID")),
        _text_q("study_instance_uid", query.get("StudyInstanceUID")),
    ]
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
            _performing_q(step.get("ScheduledPerformingPhysicianName")),
            _step_status_q(step.get("ScheduledProcedureStepStatus")),
        ]
    for q in filters:
        if q is not None:
            orders = orders.filter(q)
    return orders.select_related("patient__owner", "procedure", "device").order_by(
        "scheduled_at", "pk"
    )


# --- answers ------------------------------------------------------------------------------


def worklist_answer(
    order: Order,
    query: Dataset | Plan,
    *,
    implicit_vr: bool = False,
    little_endian: bool = True,
) -> EncodedAnswer:
    """The C-FIND pending identifier for one matched order: the query's keys, filled from the
    order (zero-length where the portal knows nothing), for the given transfer syntax."""
    plan = query_plan(query) if isinstance(query, Dataset) else query
    return encoded_answer(
        plan, answer_row(order), implicit_vr=implicit_vr, little_endian=little_endian
    )


def worklist_find(
    query: Dataset, *, implicit_vr: bool = False, little_endian: bool = True
) -> Iterator[EncodedAnswer]:
    """Answers for every offered order the query matches, earliest first.

    The orders' values come in one query, without building model instances; an answer made
    before from the same values is reused (`mwl_answers.answers`).
    """
    plan = query_plan(query)
    rows = worklist_orders(query).values_list(*ANSWER_FIELDS)
    for values in rows.iterator(chunk_size=200):
        row = AnswerRow._make(values)
        yield answers.answer(plan, row, implicit_vr=implicit_vr, little_endian=little_endian)
