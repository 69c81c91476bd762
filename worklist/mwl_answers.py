"""Modality Worklist answers: what the worklist says about one order, encoded once.

An answer holds exactly the keys the query asked for (PS3.4 C.4.1.1.3.2), each filled from
the order or zero-length when the portal knows nothing; a sequence asked for with an empty
item returns its whole items. Specific Character Set `ISO_IR 192` is added when a value is
not ASCII (UTF-8 equals ASCII otherwise, so every value is encoded as UTF-8).

Consoles ask the same query over and over ("today, my station" every few minutes), so the
answers are encoded here, straight to bytes in the association's transfer syntax, and kept:
an answer is looked up by the query's keys and the exact database values it is built from,
so a changed order, patient, owner, procedure or device is simply another entry.
The listener sends the bytes as they are (`imaging.dicom.find_stream`) instead of encoding
a Dataset element by element for every match.
"""

import struct
import threading
from collections import OrderedDict
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from django.conf import settings
from django.utils import timezone
from pydicom import Dataset
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.tag import BaseTag
from pydicom.valuerep import PersonName

from clinic.matching import SPECIES_CODE_MEANINGS
from clinic.models import Species
from imaging.dicom.find_stream import EncodedIdentifier
from worklist.models import Order, OrderStatus

UTF8 = "ISO_IR 192"
SPECIFIC_CHARACTER_SET = 0x00080005
ITEM = 0xFFFEE000

# PS3.3 C.4.10.1 Scheduled Procedure Step Status for the orders the worklist offers. Images
# that arrived without MPPS ("arrived") mean the console has started the step, as MPPS
# "in progress" does. The other defined terms (ARRIVED and READY: the animal is waiting;
# DEPARTED, CANCELED, DISCONTINUED, COMPLETED) are states the portal does not record for an
# offered order, so a query for them matches nothing.
STEP_STATUS = {
    OrderStatus.SCHEDULED: "SCHEDULED",
    OrderStatus.ARRIVED: "STARTED",
    OrderStatus.IN_PROGRESS: "STARTED",
}
# SNOMED CT organism codes (the inverse of what clinic.matching reads from arriving studies).
_SPECIES_LABELS = dict(Species.choices)

# The database columns an answer is built from, fetched in one query (`Order.objects
# .values_list(*ANSWER_FIELDS)`) or read from an Order and its related rows.
ANSWER_FIELDS = (
    "scheduled_at", "status", "requesting_vet", "referring_vet", "performing_vet", "reason",
    "priority", "accession_number", "requested_procedure_id", "scheduled_step_id",
    "study_instance_uid",
    "patient__name", "patient__patient_id", "patient__issuer", "patient__birth_date",
    "patient__sex", "patient__neutered", "patient__weight_kg", "patient__species",
    "patient__species_text", "patient__breed", "patient__responsible_person",
    "patient__owner_id", "patient__owner__last_name", "patient__owner__first_name",
    "patient__owner__organization",
    "procedure__code", "procedure__coding_scheme", "procedure__name", "procedure__modality",
    "device__ae_title", "device__name", "device__location",
)  # fmt: skip


class AnswerRow(NamedTuple):
    """One order's values for its answer, named as in ANSWER_FIELDS."""

    scheduled_at: datetime
    status: str
    requesting_vet: str
    referring_vet: str
    performing_vet: str
    reason: str
    priority: str
    accession_number: str
    requested_procedure_id: str
    scheduled_step_id: str
    study_instance_uid: str
    patient__name: str
    patient__patient_id: str
    patient__issuer: str
    patient__birth_date: date | None
    patient__sex: str
    patient__neutered: str
    patient__weight_kg: Decimal | None
    patient__species: str
    patient__species_text: str
    patient__breed: str
    patient__responsible_person: str
    patient__owner_id: int | None
    patient__owner__last_name: str | None
    patient__owner__first_name: str | None
    patient__owner__organization: str | None
    procedure__code: str
    procedure__coding_scheme: str
    procedure__name: str
    procedure__modality: str
    device__ae_title: str
    device__name: str
    device__location: str


assert AnswerRow._fields == ANSWER_FIELDS


def answer_row(order: Order) -> AnswerRow:
    """The same values as the database query gives, read from an Order and its relations."""
    values = []
    for path in ANSWER_FIELDS:
        value: Any = order
        for name in path.split("__"):
            value = getattr(value, name) if value is not None else None
        values.append(value)
    return AnswerRow(*values)


# --- what the worklist says about an order ---------------------------------------------------
#
# A record maps tags to (VR, value); a sequence's value is a list of records.

Record = dict[int, tuple[str, Any]]
# The keys a query asks for: (tag, VR, plan of the sequence item, or None for all of it).
Plan = tuple[tuple[int, str, "Plan | None"], ...]

_ELEMENTS: dict[str, tuple[int, str]] = {}


def _record(**values: Any) -> Record:
    record: Record = {}
    for keyword, value in values.items():
        element = _ELEMENTS.get(keyword)
        if element is None:
            tag = tag_for_keyword(keyword)
            assert tag is not None, keyword
            element = _ELEMENTS[keyword] = (tag, dictionary_VR(tag))
        record[element[0]] = (element[1], value)
    return record


def person_name(text: str) -> str:
    """Free text "Anna Berg" as a DICOM Person Name "Berg^Anna"; "Berg^Anna" kept as it is.

    The family name is the last word, with the lower-case particles before it ("Piet de Vries"
    is "de Vries^Piet", "Anna van der Berg" is "van der Berg^Anna").
    """
    text = text.strip()
    if "^" in text or " " not in text:
        return text
    words = text.split()
    start = len(words) - 1
    while start > 0 and words[start - 1].islower():
        start -= 1
    family, given = " ".join(words[start:]), " ".join(words[:start])
    return f"{family}^{given}" if given else family


def _code_item(value: str, scheme: str, meaning: str) -> Record:
    return _record(CodeValue=value, CodingSchemeDesignator=scheme, CodeMeaning=meaning[:64])


def order_record(row: AnswerRow) -> Record:
    """Everything the worklist can say about one order, before it is cut to the query's keys."""
    scheduled = timezone.localtime(row.scheduled_at)
    species_code = SPECIES_CODE_MEANINGS.get(row.patient__species)
    procedure_code = _code_item(row.procedure__code, row.procedure__coding_scheme, row.procedure__name)  # fmt: skip
    if row.patient__owner_id is not None:
        family = row.patient__owner__last_name or row.patient__owner__organization or ""
        responsible = f"{row.patient__owner__last_name}^{row.patient__owner__first_name}"
        responsible = responsible.rstrip("^")
        organization = row.patient__owner__organization or ""
    else:
        family, organization = "", ""
        responsible = person_name(row.patient__responsible_person)
    if row.patient__species == Species.OTHER and row.patient__species_text:
        species_label = row.patient__species_text
    else:
        species_label = _SPECIES_LABELS.get(row.patient__species, "")
    weight = row.patient__weight_kg
    step = _record(
        ScheduledStationAETitle=row.device__ae_title,
        ScheduledStationName=row.device__name[:16],
        ScheduledProcedureStepLocation=row.device__location,
        ScheduledProcedureStepStartDate=scheduled.strftime("%Y%m%d"),
        ScheduledProcedureStepStartTime=scheduled.strftime("%H%M%S"),
        Modality=row.procedure__modality,
        ScheduledPerformingPhysicianName=person_name(row.performing_vet),
        ScheduledProcedureStepDescription=row.procedure__name,
        ScheduledProtocolCodeSequence=[procedure_code],
        ScheduledProcedureStepID=row.scheduled_step_id,
        ScheduledProcedureStepStatus=STEP_STATUS.get(row.status, "SCHEDULED"),
    )
    return _record(
        # PS3.3 C.7.1.1.1.1: veterinary convention, family = responsible party, given = animal.
        PatientName=str(
            PersonName.from_named_components_veterinary(
                responsible_party_name=family, patient_name=row.patient__name
            )
        ),
        PatientID=row.patient__patient_id,
        # The clinic's own patients carry no issuer; the worklist names the clinic's.
        IssuerOfPatientID=row.patient__issuer or settings.PATIENT_ID_ISSUER,
        PatientBirthDate=row.patient__birth_date.strftime("%Y%m%d")
        if row.patient__birth_date
        else "",
        PatientSex=row.patient__sex,
        PatientSexNeutered=row.patient__neutered,
        PatientWeight=str(weight.normalize()) if weight is not None else "",
        PatientSpeciesDescription=species_label,
        PatientSpeciesCodeSequence=(
            [_code_item(species_code[0], "SCT", species_code[1])] if species_code else []
        ),
        PatientBreedDescription=row.patient__breed,
        PatientBreedCodeSequence=[],
        BreedRegistrationSequence=[],
        ResponsiblePerson=responsible,
        ResponsiblePersonRole="OWNER" if responsible or organization else "",
        ResponsibleOrganization=organization,
        AccessionNumber=row.accession_number,
        RequestingPhysician=person_name(row.requesting_vet),
        ReferringPhysicianName=person_name(row.referring_vet),
        StudyInstanceUID=row.study_instance_uid,
        RequestedProcedureID=row.requested_procedure_id,
        RequestedProcedureDescription=row.procedure__name,
        RequestedProcedureCodeSequence=[procedure_code],
        RequestedProcedurePriority=row.priority,
        ReasonForTheRequestedProcedure=row.reason[:64],
        RequestedProcedureComments=row.reason[:10240] if len(row.reason) > 64 else "",
        ScheduledProcedureStepSequence=[step],
    )


def query_plan(query: Dataset) -> Plan:
    """The keys a query asks for; a sequence asked with an empty item (None) wants it all."""
    plan = []
    for key in query:
        if key.tag.element == 0 or key.tag == SPECIFIC_CHARACTER_SET:
            continue  # group lengths are not keys; the character set is decided per answer
        item_plan = None
        if key.VR == "SQ" and key.value and len(key.value[0]):
            item_plan = query_plan(key.value[0])
        plan.append((int(key.tag), key.VR, item_plan))
    return tuple(plan)


# --- encoding (PS3.5 7.1) -------------------------------------------------------------------

# Explicit VR: these have a 4-byte length after two reserved bytes (PS3.5 7.1.2).
_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})  # fmt: skip
# Element headers by byte order ("<" little, ">" big endian): explicit VR with a 2-byte
# length, explicit VR with a 4-byte one, implicit VR.
_HEADERS = {
    order: (struct.Struct(f"{order}HH2sH"), struct.Struct(f"{order}HH2sHL"), struct.Struct(f"{order}HHL"))
    for order in "<>"
}  # fmt: skip


class _Syntax(NamedTuple):
    implicit_vr: bool
    little_endian: bool

    def header(self, tag: int, vr: str, length: int) -> bytes:
        short, long, implicit = _HEADERS["<" if self.little_endian else ">"]
        if self.implicit_vr:
            return implicit.pack(tag >> 16, tag & 0xFFFF, length)
        if vr in _LONG_VRS:
            return long.pack(tag >> 16, tag & 0xFFFF, vr.encode(), 0, length)
        return short.pack(tag >> 16, tag & 0xFFFF, vr.encode(), length)

    def item(self, values) -> bytes:
        data = b"".join(self.header(tag, vr, len(v)) + v for tag, vr, v in values)
        implicit = _HEADERS["<" if self.little_endian else ">"][2]
        return implicit.pack(ITEM >> 16, ITEM & 0xFFFF, len(data)) + data


def _text(vr: str, value: Any, flags: dict) -> bytes:
    text = value if isinstance(value, str) else ""
    if not text.isascii():
        flags["utf8"] = True
    data = text.encode("utf-8")
    if len(data) % 2:  # PS3.5 6.2: even length, UIDs padded with NUL, text with a space
        data += b"\0" if vr == "UI" else b" "
    return data


def _values(plan: Plan | None, record: Record, syntax: _Syntax, flags: dict):
    """(tag, VR, encoded value) of each key the plan asks for, in the plan's (tag) order."""
    if plan is None:  # the whole item
        plan = tuple((tag, vr, None) for tag, (vr, _) in sorted(record.items()))
    for tag, vr, item_plan in plan:
        have = record.get(tag)
        if vr == "SQ":
            items = have[1] if have is not None and have[0] == "SQ" else []
            value = b"".join(syntax.item(_values(item_plan, item, syntax, flags)) for item in items)
        else:
            value = _text(vr, have[1], flags) if have is not None and have[0] == vr else b""
        yield tag, vr, value


class EncodedAnswer(EncodedIdentifier):
    """An answer whose elements hold their encoded values, with the whole identifier's
    encoding (`encoded`) for the transfer syntax in `encoding` (implicit VR, little endian)."""


def encoded_answer(
    plan: Plan, row: AnswerRow, *, implicit_vr: bool, little_endian: bool = True
) -> EncodedAnswer:
    """The identifier of one answer, encoded in the association's transfer syntax."""
    syntax = _Syntax(implicit_vr, little_endian)
    flags: dict = {}
    values = list(_values(plan, order_record(row), syntax, flags))
    if flags:
        # PS3.3 C.12.1.1.2: UTF-8 covers every name. Its tag sorts before every key.
        values.insert(0, (SPECIFIC_CHARACTER_SET, "CS", _text("CS", UTF8, {})))
    elements = {}
    parts = []
    for tag, vr, value in values:
        elements[BaseTag(tag)] = RawDataElement(
            BaseTag(tag), vr, len(value), value, 0, implicit_vr, little_endian
        )
        parts.append(syntax.header(tag, vr, len(value)))
        parts.append(value)
    answer = EncodedAnswer(elements)
    # The raw values are already in the answer's encoding and character set: pydicom then
    # copies them when it writes, instead of converting each one again.
    answer.set_original_encoding(implicit_vr, little_endian, answer._character_set)
    answer.encoded = b"".join(parts)
    answer.encoding = (implicit_vr, little_endian)
    return answer


# --- kept answers --------------------------------------------------------------------------

CACHE_SIZE = 2_000  # a busy clinic's open orders, each for a console's usual query or two


class AnswerCache:
    """Encoded answers by (query plan, transfer syntax, the order's values, the settings they
    depend on); least recently used ones are dropped past `size`. Shared by the listener's
    association threads, which only read an answer once it is made."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._answers: OrderedDict[tuple, EncodedAnswer] = OrderedDict()
        self._lock = threading.Lock()

    def answer(
        self, plan: Plan, row: AnswerRow, *, implicit_vr: bool, little_endian: bool = True
    ) -> EncodedAnswer:
        key = (
            plan,
            implicit_vr,
            little_endian,
            row,
            settings.PATIENT_ID_ISSUER,
            settings.TIME_ZONE,
        )
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
                return answer
        answer = encoded_answer(plan, row, implicit_vr=implicit_vr, little_endian=little_endian)
        with self._lock:
            self._answers[key] = answer
            if len(self._answers) > self.size:
                self._answers.popitem(last=False)
        return answer


answers = AnswerCache()
