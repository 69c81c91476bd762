"""Query/Retrieve C-FIND: which patients, studies, series or images an identifier matches.

Patient Root and Study Root Information Models (PS3.4 C.6.1, C.6.2), baseline hierarchical
queries (C.4.1.2.2): the Unique Keys of every level above the Query/Retrieve Level must hold
one value. Matching follows PS3.4 C.2.2.2, each key translated to an ORM filter on the index:
- single value and `*`/`?` wildcards (C.2.2.2.1, C.2.2.2.4), universal matching of an empty
  value or `*` (C.2.2.2.3), lists of UIDs separated by backslashes (C.2.2.2.2);
- date and time ranges `A-B`, `-B`, `A-` (C.2.2.2.5). Study Date and Study Time match each on
  its own ("between 8 and 12 on any of these days") unless the workstation negotiated combined
  date-time matching (extended negotiation, PS3.4 C.5.1.1.2), in which case they form one
  date-time range from the start date and time to the end date and time;
- sequence matching (C.2.2.2.6) on Patient Species Code Sequence: an item with a Code Value
  matches the animals of that species; an empty item asks for the codes back.
Case: the standard lets person names match case-insensitively (C.2.2.2.1.1), so Patient's Name,
Referring Physician's Name and Responsible Person do. Other text matches case-sensitively, as
the standard says, except the species, whose served label ("Canine") is not what the index
stores ("canine"). Patient's Name matches the name the portal serves (responsible party^animal)
or the one the modality sent. Keys of levels below the query level are ignored.
The answers are built in `imaging.query_answers`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time

from django.db.models import Count, F, Q, QuerySet, Sum
from pydicom import Dataset
from pydicom.multival import MultiValue

from clinic.matching import SPECIES_CODE_MEANINGS
from clinic.models import Patient
from imaging import query_answers
from imaging.dicomweb import matching
from imaging.dicomweb.errors import DicomWebError
from imaging.models import Instance, Series, Study

PATIENT, STUDY, SERIES, IMAGE = "PATIENT", "STUDY", "SERIES", "IMAGE"
PATIENT_ROOT, STUDY_ROOT = "patient", "study"
LEVELS = {PATIENT_ROOT: (PATIENT, STUDY, SERIES, IMAGE), STUDY_ROOT: (STUDY, SERIES, IMAGE)}
# PS3.7 C.5 / PS3.4 C.4.1.1.4 C-FIND failure statuses.
IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS = 0xA900
UNABLE_TO_PROCESS = 0xC000
# Answers read from the database per round trip (and SOP classes looked up per batch).
CHUNK = 500


class QueryError(ValueError):
    """A query the portal cannot answer; `status` is the C-FIND failure, str() says why."""

    def __init__(self, message: str, *, status: int = UNABLE_TO_PROCESS) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Key:
    """A matching key: the level it belongs to, its column (from that level's row) and kind."""

    level: str
    column: str
    kind: str  # uid, text, pn, itext, species, responsible, date, time, int, modalities


KEYS: dict[str, Key] = {
    "PatientName": Key(PATIENT, "", "pn"),
    "PatientID": Key(PATIENT, "patient_id", "text"),
    "IssuerOfPatientID": Key(PATIENT, "issuer", "text"),
    "PatientBirthDate": Key(PATIENT, "birth_date", "date"),
    "PatientSex": Key(PATIENT, "sex", "text"),
    "PatientSexNeutered": Key(PATIENT, "neutered", "text"),
    "PatientSpeciesDescription": Key(PATIENT, "species_text", "species"),
    "PatientBreedDescription": Key(PATIENT, "breed", "text"),
    "ResponsiblePerson": Key(PATIENT, "responsible_person", "responsible"),
    "ResponsibleOrganization": Key(PATIENT, "owner__organization", "text"),
    "StudyInstanceUID": Key(STUDY, "study_instance_uid", "uid"),
    "StudyDate": Key(STUDY, "study_date", "date"),
    "StudyTime": Key(STUDY, "study_time", "time"),
    "AccessionNumber": Key(STUDY, "accession_number", "text"),
    "StudyID": Key(STUDY, "study_id", "text"),
    "StudyDescription": Key(STUDY, "description", "text"),
    "ReferringPhysicianName": Key(STUDY, "referring_physician", "itext"),
    "InstitutionName": Key(STUDY, "institution", "text"),
    "ModalitiesInStudy": Key(STUDY, "modalities", "modalities"),
    "SeriesInstanceUID": Key(SERIES, "series_instance_uid", "uid"),
    "Modality": Key(SERIES, "modality", "text"),
    "SeriesNumber": Key(SERIES, "series_number", "int"),
    "SeriesDescription": Key(SERIES, "description", "text"),
    "BodyPartExamined": Key(SERIES, "body_part", "text"),
    "ProtocolName": Key(SERIES, "protocol_name", "text"),
    "ViewPosition": Key(SERIES, "view_position", "text"),
    "Laterality": Key(SERIES, "laterality", "text"),
    "SOPInstanceUID": Key(IMAGE, "sop_instance_uid", "uid"),
    "SOPClassUID": Key(IMAGE, "sop_class_uid", "uid"),
    "InstanceNumber": Key(IMAGE, "instance_number", "int"),
}
UNIQUE_KEYS = {
    PATIENT: "PatientID",
    STUDY: "StudyInstanceUID",
    SERIES: "SeriesInstanceUID",
    IMAGE: "SOPInstanceUID",
}
_MODELS = {PATIENT: Patient, STUDY: Study, SERIES: Series, IMAGE: Instance}
_ORDER = (PATIENT, STUDY, SERIES, IMAGE)
# From the rows of a level (first) to each level at or above it.
_PATHS = {
    PATIENT: {PATIENT: ""},
    STUDY: {PATIENT: "patient", STUDY: ""},
    SERIES: {PATIENT: "study__patient", STUDY: "study", SERIES: ""},
    IMAGE: {PATIENT: "series__study__patient", STUDY: "series__study", SERIES: "series", IMAGE: ""},
}
_ORDERING = {
    PATIENT: ("pk",),
    STUDY: ("pk",),
    SERIES: ("study_id", F("series_number").asc(nulls_last=True), "pk"),
    IMAGE: ("series_id", F("instance_number").asc(nulls_last=True), "pk"),
}


@dataclass(frozen=True)
class Query:
    """A checked C-FIND identifier: its level, what it matches on and what it asks back."""

    root: str
    level: str
    identifier: Dataset
    combined_datetime: bool = False


def _lookup(level: str, key: Key) -> str:
    base = _PATHS[level][key.level]
    if key.kind == "pn":
        return base  # the matcher reaches the patient's fields itself
    return f"{base}__{key.column}" if base else key.column


def _texts(value) -> list[str]:
    """A key's values as text (backslash-separated values are several)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple, MultiValue)):
        return [str(v).strip() for v in value]
    return [str(value).strip()]


def _universal(texts: list[str]) -> bool:
    return not texts or any(t == "" or set(t) == {"*"} for t in texts)


def query_parse(identifier: Dataset, *, root: str, combined_datetime: bool = False) -> Query:
    """Check the identifier against the information model; QueryError says what is wrong."""
    level = str(identifier.get("QueryRetrieveLevel", "") or "").strip().upper()
    if not level:
        raise QueryError(
            "Query/Retrieve Level is missing", status=IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS
        )
    if level not in LEVELS[root]:
        where = "Study Root" if root == STUDY_ROOT else "Patient Root"
        raise QueryError(
            f"{level} is not a level of {where}", status=IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS
        )
    # PS3.4 C.4.1.2.2.1: below the top level, one value of the Unique Key of each level above.
    levels = LEVELS[root]
    for above in levels[: levels.index(level)]:
        keyword = UNIQUE_KEYS[above]
        texts = _texts(identifier.get(keyword))
        if not texts or texts == [""]:
            raise QueryError(
                f"{keyword} is required for a {level} query",
                status=IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS,
            )
        if len(texts) > 1 or "*" in texts[0] or "?" in texts[0]:
            raise QueryError(f"{keyword} must be a single value for a {level} query")
    return Query(root=root, level=level, identifier=identifier, combined_datetime=combined_datetime)


def query_rows(query: Query) -> QuerySet:
    """The matching rows of the query's level, in a stable order."""
    level = query.level
    rows = _MODELS[level].objects.all()
    depth = _ORDER.index(level)
    identifier = query.identifier
    for keyword, key in KEYS.items():
        if _ORDER.index(key.level) > depth or keyword not in identifier:
            continue
        if keyword in ("StudyDate", "StudyTime") and query.combined_datetime:
            continue
        texts = _texts(identifier.get(keyword))
        if _universal(texts):
            continue
        if key.kind == "pn":
            rows = matching.with_served_names(rows, _lookup(level, key))
            texts = [t.rstrip("^=") for t in texts]  # "Smith^Rex^^^" is "Smith^Rex"
        rows = rows.filter(_any_of(key, _lookup(level, key), texts))
    if depth >= _ORDER.index(STUDY):
        rows = rows.filter(_study_datetime(query, _PATHS[level][STUDY]))
    rows = rows.filter(_species_codes(identifier, _PATHS[level][PATIENT]))
    return rows.order_by(*_ORDERING[level])


def _any_of(key: Key, column: str, texts: list[str]) -> Q:
    if key.kind in ("date", "time"):
        parse = _parse_date if key.kind == "date" else _parse_time
        match = Q()
        for text in texts:
            match |= _range_q(column, text, parse)
        return match
    if key.kind in ("uid", "modalities"):
        # PS3.4 C.2.2.2.2: a list of UIDs matches any of them.
        texts = ["\\".join(texts)]
    match = Q()
    for text in texts:
        try:
            if key.kind == "text":
                match |= matching.wildcard(column, text, insensitive=False)
            else:
                match |= matching.condition(key.kind, column, text, fuzzy=False)
        except DicomWebError as exc:
            raise QueryError(str(exc)) from None
    return match


def _range_q(column: str, text: str, parse) -> Q:
    start, end = _range(text)
    low = parse(start, end=False) if start else None
    high = parse(end, end=True) if end else None
    if low is not None and high is not None and high < low and isinstance(low, time):
        # A time range across midnight ("2200-0200"): late evening or early morning.
        return Q(**{f"{column}__gte": low}) | Q(**{f"{column}__lte": high})
    match = Q()
    if low is not None:
        match &= Q(**{f"{column}__gte": low})
    if high is not None:
        match &= Q(**{f"{column}__lte": high})
    return match


def _range(text: str) -> tuple[str, str]:
    """PS3.4 C.2.2.2.5: `A-B`, `-B`, `A-`, or a single value `A` (meaning `A-A`)."""
    if "-" in text:
        start, _, end = text.partition("-")
        if not start.strip() and not end.strip():
            raise QueryError(f"{text!r} is not a range")
        return start.strip(), end.strip()
    return text, text


def _parse_date(text: str, *, end: bool = False) -> date:
    try:
        return datetime.strptime(text.replace(".", ""), "%Y%m%d").date()
    except ValueError:
        raise QueryError(f"{text!r} is not a date (YYYYMMDD)") from None


def _parse_time(text: str, *, end: bool = False) -> time:
    """A TM value; a partial one ("09", "0930") stands for its whole hour or minute."""
    whole, _, fraction = text.replace(":", "").partition(".")
    if not whole.isdigit() or len(whole) not in (2, 4, 6) or (fraction and not fraction.isdigit()):
        raise QueryError(f"{text!r} is not a time (HHMMSS)")
    parts = [int(whole[i : i + 2]) for i in range(0, len(whole), 2)]
    filler = [59, 59] if end else [0, 0]
    hour, minute, second = (parts + filler[len(parts) - 1 :])[:3]
    micro = int(fraction.ljust(6, "0")[:6]) if fraction else (999999 if end else 0)
    try:
        return time(hour, minute, second, micro)
    except ValueError:
        raise QueryError(f"{text!r} is not a time (HHMMSS)") from None


def _study_datetime(query: Query, study: str) -> Q:
    """Study Date and Time as one date-time range, when the workstation negotiated it."""
    if not query.combined_datetime:
        return Q()
    at = (lambda name: f"{study}__{name}") if study else (lambda name: name)
    dates = _texts(query.identifier.get("StudyDate"))
    times = _texts(query.identifier.get("StudyTime"))
    date_text = "" if _universal(dates) else dates[0]
    time_text = "" if _universal(times) else times[0]
    if not date_text:
        return _range_q(at("study_time"), time_text, _parse_time) if time_text else Q()
    start_date, end_date = _range(date_text)
    start_time, end_time = _range(time_text) if time_text else ("", "")
    match = Q()
    if start_date:
        day = _parse_date(start_date)
        match &= Q(**{f"{at('study_date')}__gt": day}) | Q(**{at("study_date"): day}) & (
            Q(**{f"{at('study_time')}__gte": _parse_time(start_time)}) if start_time else Q()
        )
    if end_date:
        day = _parse_date(end_date)
        match &= Q(**{f"{at('study_date')}__lt": day}) | Q(**{at("study_date"): day}) & (
            Q(**{f"{at('study_time')}__lte": _parse_time(end_time, end=True)}) if end_time else Q()
        )
    return match


def _species_codes(identifier: Dataset, patient: str) -> Q:
    """PS3.4 C.2.2.2.6: an item of Patient Species Code Sequence with a code matches it."""
    items = identifier.get("PatientSpeciesCodeSequence")
    if not items:
        return Q()
    code = str(items[0].get("CodeValue", "") or "").strip()
    if not code or set(code) == {"*"}:
        return Q()
    species = next((s for s, (c, _) in SPECIES_CODE_MEANINGS.items() if c == code), None)
    column = f"{patient}__species" if patient else "species"
    return Q(**{column: species}) if species else Q(pk__in=[])


def query_answers_find(
    query: Query, *, retrieve_ae_title: str, implicit_vr: bool, little_endian: bool = True
) -> Iterator[Dataset]:
    """The answer identifiers for every match, read in batches of CHUNK rows."""
    level = query.level
    plan = query_answers.answer_plan(query.identifier, root=query.root, level=level)
    rows = query_rows(query)
    fields = query_answers.row_fields(level, _PATHS[level])
    counts = {}
    if level == PATIENT:
        wanted = plan.keywords
        if "NumberOfPatientRelatedStudies" in wanted:
            counts["n_studies"] = Count("studies")
        if "NumberOfPatientRelatedSeries" in wanted:
            counts["n_series"] = Sum("studies__series_count")
        if "NumberOfPatientRelatedInstances" in wanted:
            counts["n_instances"] = Sum("studies__instance_count")
    values = rows.values(**fields, **counts)
    sop_classes = level == STUDY and "SOPClassesInStudy" in plan.keywords
    batch: list[dict] = []
    for row in values.iterator(chunk_size=CHUNK):
        batch.append(row)
        if len(batch) >= CHUNK:
            yield from _answers(batch, plan, sop_classes, retrieve_ae_title, implicit_vr, little_endian)  # fmt: skip
            batch = []
    yield from _answers(batch, plan, sop_classes, retrieve_ae_title, implicit_vr, little_endian)


def _answers(batch, plan, sop_classes, retrieve_ae_title, implicit_vr, little_endian):
    if not batch:
        return
    if sop_classes:
        found: dict[int, list[str]] = {}
        pairs = (
            Instance.objects.filter(series__study_id__in=[row["st_pk"] for row in batch])
            .order_by()
            .values_list("series__study_id", "sop_class_uid")
            .distinct()
        )
        for study_id, sop_class in pairs:
            found.setdefault(study_id, []).append(sop_class)
        for row in batch:
            row["sop_classes"] = sorted(found.get(row["st_pk"], []))
    for row in batch:
        yield query_answers.answer(
            plan, row, retrieve_ae_title=retrieve_ae_title,
            implicit_vr=implicit_vr, little_endian=little_endian,
        )  # fmt: skip


def query_level_description(query: Query) -> str:
    """For the listener's log: 'STUDY (Study Root) on PatientName, StudyDate'."""
    keys = [e.keyword or str(e.tag) for e in query.identifier if e.keyword != "QueryRetrieveLevel"]
    root = "Study Root" if query.root == STUDY_ROOT else "Patient Root"
    return f"{query.level} ({root}) on {', '.join(keys) or 'nothing'}"
