"""Query/Retrieve C-FIND answers: what the portal says about one patient, study, series or image.

An answer holds the keys the query asked for (PS3.4 C.4.1.1.3.2) at its level and the levels
above, filled from the index (zero-length where the portal knows nothing), plus the Query/
Retrieve Level, the Unique Keys of its level and those above, where to retrieve from (Retrieve
AE Title: the listener) and Instance Availability ONLINE: everything the index lists is on
storage. Keys of lower levels are not returned. Specific Character Set ISO_IR 192 is added
when a value is not ASCII (UTF-8 equals ASCII otherwise).

The rows come from one `values()` query and each answer is encoded here, straight to bytes in
the association's transfer syntax, and sent as it is (`imaging.dicom.find_stream`): neither
pydicom nor pynetdicom converts every element of every answer again (a study search can
answer thousands of studies).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from typing import Any

from django.db.models import F
from pydicom import Dataset
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.tag import BaseTag

from clinic.matching import SPECIES_CODE_MEANINGS
from clinic.models import Species
from imaging.dicom.find_stream import EncodedIdentifier

UTF8 = "ISO_IR 192"
SPECIFIC_CHARACTER_SET = 0x00080005
ITEM = 0xFFFEE000
LEVEL_ORDER = ("PATIENT", "STUDY", "SERIES", "IMAGE")
_SPECIES_LABELS = dict(Species.choices)

# The index's columns each answer is built from, per level, under short names.
_FIELDS = {
    "PATIENT": {
        "p_pk": "pk", "p_id": "patient_id", "p_issuer": "issuer", "p_name": "name",
        "p_species": "species", "p_species_text": "species_text", "p_breed": "breed",
        "p_sex": "sex", "p_neutered": "neutered", "p_birth": "birth_date",
        "p_weight": "weight_kg", "p_responsible": "responsible_person", "p_owner": "owner_id",
        "p_last": "owner__last_name", "p_first": "owner__first_name",
        "p_org": "owner__organization",
    },
    "STUDY": {
        "st_pk": "pk", "st_uid": "study_instance_uid", "st_accession": "accession_number",
        "st_id": "study_id", "st_date": "study_date", "st_time": "study_time",
        "st_description": "description", "st_modalities": "modalities",
        "st_referring": "referring_physician", "st_institution": "institution",
        "st_series": "series_count", "st_instances": "instance_count",
    },
    "SERIES": {
        "se_uid": "series_instance_uid", "se_number": "series_number", "se_modality": "modality",
        "se_description": "description", "se_body_part": "body_part",
        "se_protocol": "protocol_name", "se_view": "view_position", "se_laterality": "laterality",
        "se_instances": "instance_count",
    },
    "IMAGE": {
        "im_uid": "sop_instance_uid", "im_class": "sop_class_uid", "im_number": "instance_number",
        "im_rows": "rows", "im_columns": "columns", "im_frames": "number_of_frames",
    },
}  # fmt: skip


def row_fields(level: str, paths: dict[str, str]) -> dict[str, F]:
    """`values()` expressions for the answer's columns, from rows of `level` (paths per level)."""
    fields = {}
    for above in LEVEL_ORDER[: LEVEL_ORDER.index(level) + 1]:
        base = paths[above]
        for alias, column in _FIELDS[above].items():
            fields[alias] = F(f"{base}__{column}" if base else column)
    return fields


# --- what the portal says, per attribute -------------------------------------------------


def _family(r: dict) -> str:
    """PS3.3 C.7.1.1.1.1, veterinary: the responsible party is the family name."""
    if r["p_owner"] is not None:
        return r["p_last"] or r["p_org"] or ""
    return (r["p_responsible"] or "").split("^")[0]


def _responsible(r: dict) -> str:
    if r["p_owner"] is not None:
        return f"{r['p_last']}^{r['p_first']}".rstrip("^")
    return r["p_responsible"] or ""


def _species_label(r: dict) -> str:
    if r["p_species"] == Species.OTHER and r["p_species_text"]:
        return r["p_species_text"]
    return _SPECIES_LABELS.get(r["p_species"], "")


def _species_items(r: dict) -> list[dict]:
    code = SPECIES_CODE_MEANINGS.get(r["p_species"])
    if code is None:
        return []
    return [{"CodeValue": code[0], "CodingSchemeDesignator": "SCT", "CodeMeaning": code[1]}]


def _weight(r: dict) -> str:
    weight: Decimal | None = r["p_weight"]
    return str(weight.normalize()) if weight is not None else ""


def _role(r: dict) -> str:
    organization = r["p_org"] if r["p_owner"] is not None else ""
    return "OWNER" if _responsible(r) or organization else ""


# keyword -> (level, value from the row); the level decides where the key may be returned.
VALUES: dict[str, tuple[str, Callable[[dict], Any]]] = {
    "PatientName": ("PATIENT", lambda r: f"{_family(r)}^{r['p_name']}"),
    "PatientID": ("PATIENT", lambda r: r["p_id"]),
    "IssuerOfPatientID": ("PATIENT", lambda r: r["p_issuer"]),
    "PatientBirthDate": ("PATIENT", lambda r: r["p_birth"]),
    "PatientSex": ("PATIENT", lambda r: r["p_sex"]),
    "PatientSexNeutered": ("PATIENT", lambda r: r["p_neutered"]),
    "PatientWeight": ("PATIENT", _weight),
    "PatientSpeciesDescription": ("PATIENT", _species_label),
    "PatientSpeciesCodeSequence": ("PATIENT", _species_items),
    "PatientBreedDescription": ("PATIENT", lambda r: r["p_breed"]),
    "PatientBreedCodeSequence": ("PATIENT", lambda r: []),
    "BreedRegistrationSequence": ("PATIENT", lambda r: []),
    "ResponsiblePerson": ("PATIENT", _responsible),
    "ResponsiblePersonRole": ("PATIENT", _role),
    "ResponsibleOrganization": ("PATIENT", lambda r: r["p_org"] or ""),
    "NumberOfPatientRelatedStudies": ("PATIENT", lambda r: r.get("n_studies") or 0),
    "NumberOfPatientRelatedSeries": ("PATIENT", lambda r: r.get("n_series") or 0),
    "NumberOfPatientRelatedInstances": ("PATIENT", lambda r: r.get("n_instances") or 0),
    "StudyInstanceUID": ("STUDY", lambda r: r["st_uid"]),
    "StudyDate": ("STUDY", lambda r: r["st_date"]),
    "StudyTime": ("STUDY", lambda r: r["st_time"]),
    "AccessionNumber": ("STUDY", lambda r: r["st_accession"]),
    "StudyID": ("STUDY", lambda r: r["st_id"]),
    "StudyDescription": ("STUDY", lambda r: r["st_description"]),
    "ReferringPhysicianName": ("STUDY", lambda r: r["st_referring"]),
    "InstitutionName": ("STUDY", lambda r: r["st_institution"]),
    "ModalitiesInStudy": ("STUDY", lambda r: [m for m in r["st_modalities"].split("\\") if m]),
    "NumberOfStudyRelatedSeries": ("STUDY", lambda r: r["st_series"]),
    "NumberOfStudyRelatedInstances": ("STUDY", lambda r: r["st_instances"]),
    "SOPClassesInStudy": ("STUDY", lambda r: r.get("sop_classes", [])),
    "SeriesInstanceUID": ("SERIES", lambda r: r["se_uid"]),
    "Modality": ("SERIES", lambda r: r["se_modality"]),
    "SeriesNumber": ("SERIES", lambda r: r["se_number"]),
    "SeriesDescription": ("SERIES", lambda r: r["se_description"]),
    "BodyPartExamined": ("SERIES", lambda r: r["se_body_part"]),
    "ProtocolName": ("SERIES", lambda r: r["se_protocol"]),
    "ViewPosition": ("SERIES", lambda r: r["se_view"]),
    "Laterality": ("SERIES", lambda r: r["se_laterality"]),
    "NumberOfSeriesRelatedInstances": ("SERIES", lambda r: r["se_instances"]),
    "SOPInstanceUID": ("IMAGE", lambda r: r["im_uid"]),
    "SOPClassUID": ("IMAGE", lambda r: r["im_class"]),
    "InstanceNumber": ("IMAGE", lambda r: r["im_number"]),
    "Rows": ("IMAGE", lambda r: r["im_rows"]),
    "Columns": ("IMAGE", lambda r: r["im_columns"]),
    "NumberOfFrames": ("IMAGE", lambda r: r["im_frames"]),
}
_UNIQUE = {"PATIENT": "PatientID", "STUDY": "StudyInstanceUID", "SERIES": "SeriesInstanceUID",
           "IMAGE": "SOPInstanceUID"}  # fmt: skip
# Answered as constants: the level, the listener's AE title, and ONLINE (PS3.4 C.4.1.1.3.2).
_LEVEL, _RETRIEVE_AE, _AVAILABILITY = (
    tag_for_keyword("QueryRetrieveLevel"),
    tag_for_keyword("RetrieveAETitle"),
    tag_for_keyword("InstanceAvailability"),
)


@dataclass(frozen=True)
class Plan:
    """The answer's elements in tag order: (tag, VR, value function or None for empty)."""

    level: str
    elements: tuple[tuple[int, str, Callable[[dict], Any] | None], ...]
    keywords: frozenset[str]


def answer_plan(identifier: Dataset, *, root: str, level: str) -> Plan:
    """Which elements each answer carries, decided once per query."""
    depth = LEVEL_ORDER.index(level)
    wanted: dict[int, tuple[str, Callable | None]] = {}
    for element in identifier:
        tag = int(element.tag)
        if element.tag.element == 0 or tag == SPECIFIC_CHARACTER_SET or element.tag.is_private:
            continue
        known = VALUES.get(element.keyword)
        if known is not None and LEVEL_ORDER.index(known[0]) > depth:
            continue  # a key of a lower level: not this answer's (PS3.4 C.4.1.2.1)
        if known is None:
            wanted[tag] = (element.VR, None)  # not in the index: answered empty
        else:
            wanted[tag] = (dictionary_VR(tag), known[1])
    levels = _roots(root)
    for above in levels[: levels.index(level) + 1]:
        keyword = _UNIQUE[above]
        tag = tag_for_keyword(keyword)
        wanted.setdefault(tag, (dictionary_VR(tag), VALUES[keyword][1]))
    wanted[_LEVEL] = ("CS", lambda r: level)
    wanted[_RETRIEVE_AE] = ("AE", None)
    wanted[_AVAILABILITY] = ("CS", lambda r: "ONLINE")
    keywords = frozenset(e.keyword for e in identifier)
    elements = tuple((tag, vr, value) for tag, (vr, value) in sorted(wanted.items()))
    return Plan(level=level, elements=elements, keywords=keywords)


def _roots(root: str) -> tuple[str, ...]:
    # Study Root has no patient level: its study answers name the patient all the same.
    return LEVEL_ORDER if root == "patient" else LEVEL_ORDER[1:]


# --- encoding (PS3.5 7.1) -------------------------------------------------------------------

_LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"})  # fmt: skip


_TAGS: dict[int, BaseTag] = {}
_HEADERS: dict[tuple[int, str, bool, str], tuple[bytes, struct.Struct]] = {}


def _header(tag: int, vr: str, length: int, implicit: bool, order: str) -> bytes:
    """An element's header (PS3.5 7.1.2, 7.1.3); all but its length is kept per tag."""
    key = (tag, vr, implicit, order)
    found = _HEADERS.get(key)
    if found is None:
        group = struct.pack(f"{order}HH", tag >> 16, tag & 0xFFFF)
        if implicit:
            found = (group, struct.Struct(f"{order}L"))
        elif vr in _LONG_VRS:
            found = (group + vr.encode() + b"\0\0", struct.Struct(f"{order}L"))
        else:
            found = (group + vr.encode(), struct.Struct(f"{order}H"))
        _HEADERS[key] = found
    return found[0] + found[1].pack(length)


def _value(vr: str, value: Any, flags: dict, implicit: bool, order: str) -> bytes:
    if value is None or value == "":
        return b""
    if type(value) is str and value.isascii():
        data = value.encode()
        if len(data) % 2:  # PS3.5 6.2: even length, UIDs padded with NUL, text with a space
            data += b"\0" if vr == "UI" else b" "
        return data
    if vr == "SQ":
        items = []
        for item in value:
            body = b"".join(
                _header(tag, item_vr, len(data), implicit, order) + data
                for tag, item_vr, data in _item_elements(item, flags, implicit, order)
            )
            items.append(_header(ITEM, "", len(body), True, order) + body)
        return b"".join(items)
    if vr == "US":
        return struct.pack(f"{order}H", int(value))
    if isinstance(value, date):
        text = value.strftime("%Y%m%d")
    elif isinstance(value, time):
        text = value.strftime("%H%M%S")
    elif isinstance(value, list):
        text = "\\".join(str(v) for v in value)
    else:
        text = str(value)
    if not text.isascii():
        flags["utf8"] = True
    data = text.encode("utf-8")
    if len(data) % 2:  # PS3.5 6.2: even length, UIDs padded with NUL, text with a space
        data += b"\0" if vr == "UI" else b" "
    return data


def _item_elements(item: dict, flags: dict, implicit: bool, order: str):
    for tag, keyword in sorted((tag_for_keyword(k), k) for k in item):
        vr = dictionary_VR(tag)
        yield tag, vr, _value(vr, item[keyword], flags, implicit, order)


def answer(
    plan: Plan,
    row: dict,
    *,
    retrieve_ae_title: str,
    implicit_vr: bool,
    little_endian: bool = True,
) -> EncodedIdentifier:
    """One answer identifier, encoded in the association's transfer syntax."""
    order = "<" if little_endian else ">"
    flags: dict = {}
    values = []
    for tag, vr, function in plan.elements:
        if tag == _RETRIEVE_AE:
            value: Any = retrieve_ae_title
        else:
            value = function(row) if function is not None else None
        values.append((tag, vr, _value(vr, value, flags, implicit_vr, order)))
    if flags:
        # PS3.3 C.12.1.1.2: UTF-8 covers every name. Its tag sorts before every key.
        values.insert(0, (SPECIFIC_CHARACTER_SET, "CS", b"ISO_IR 192"))
    elements = {}
    parts = []
    for tag, vr, data in values:
        key = _TAGS.get(tag) or _TAGS.setdefault(tag, BaseTag(tag))
        elements[key] = RawDataElement(key, vr, len(data), data, 0, implicit_vr, little_endian)
        parts.append(_header(tag, vr, len(data), implicit_vr, order))
        parts.append(data)
    identifier = EncodedIdentifier(elements)
    # The raw values are already in the answer's encoding and character set: pydicom copies
    # them when it writes, instead of converting each one again.
    identifier.set_original_encoding(implicit_vr, little_endian, identifier._character_set)
    identifier.encoded = b"".join(parts)
    identifier.encoding = (implicit_vr, little_endian)
    return identifier
