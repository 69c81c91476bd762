"""QIDO-RS (PS3.18 10.6): searching studies, series and instances in the portal's index.

A query names attributes by keyword or tag; each searchable attribute maps to a column of the
index and a way of matching it (matching.py). Anything else in the query is answered 400.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import F, QuerySet
from django.http import QueryDict

from imaging.dicomweb import matching
from imaging.dicomweb.dicomjson import Json, keyword, tag_hex, tag_parse
from imaging.dicomweb.errors import BadRequest
from imaging.dicomweb.index_json import instance_json, series_json, study_json

STUDY, SERIES, INSTANCE = "study", "series", "instance"
# Without `limit`, at most this many results; more are announced in a Warning header.
MAX_RESULTS = 1000


@dataclass(frozen=True)
class Key:
    """A searchable attribute: its level, its index column (from the study) and how it matches."""

    level: str
    column: str
    kind: str  # uid, text, pn, date, time, int, modalities


_KEYS: dict[str, Key] = {
    "PatientName": Key(STUDY, "patient", "pn"),
    "PatientID": Key(STUDY, "patient__patient_id", "text"),
    "IssuerOfPatientID": Key(STUDY, "patient__issuer", "text"),
    "PatientBirthDate": Key(STUDY, "patient__birth_date", "date"),
    "PatientSex": Key(STUDY, "patient__sex", "text"),
    "PatientSpeciesDescription": Key(STUDY, "patient__species_text", "species"),
    "PatientBreedDescription": Key(STUDY, "patient__breed", "itext"),
    "ResponsiblePerson": Key(STUDY, "patient__responsible_person", "responsible"),
    "StudyInstanceUID": Key(STUDY, "study_instance_uid", "uid"),
    "StudyDate": Key(STUDY, "study_date", "date"),
    "StudyTime": Key(STUDY, "study_time", "time"),
    "AccessionNumber": Key(STUDY, "accession_number", "text"),
    "StudyID": Key(STUDY, "study_id", "text"),
    "StudyDescription": Key(STUDY, "description", "itext"),
    "ReferringPhysicianName": Key(STUDY, "referring_physician", "itext"),
    "InstitutionName": Key(STUDY, "institution", "itext"),
    "ModalitiesInStudy": Key(STUDY, "modalities", "modalities"),
    "SeriesInstanceUID": Key(SERIES, "series_instance_uid", "uid"),
    "Modality": Key(SERIES, "modality", "text"),
    "SeriesNumber": Key(SERIES, "series_number", "int"),
    "SeriesDescription": Key(SERIES, "description", "itext"),
    "BodyPartExamined": Key(SERIES, "body_part", "text"),
    "ViewPosition": Key(SERIES, "view_position", "text"),
    "SOPInstanceUID": Key(INSTANCE, "sop_instance_uid", "uid"),
    "SOPClassUID": Key(INSTANCE, "sop_class_uid", "uid"),
    "InstanceNumber": Key(INSTANCE, "instance_number", "int"),
}
# What each level returns without `includefield` (PS3.18 Tables 10.6.3-3 to -5), beyond the
# attributes matched on.
_DEFAULT: dict[str, tuple[str, ...]] = {
    STUDY: (
        "SpecificCharacterSet", "StudyDate", "StudyTime", "AccessionNumber",
        "ModalitiesInStudy", "ReferringPhysicianName", "PatientName", "PatientID",
        "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyID", "RetrieveURL",
        "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances", "StudyDescription",
        "PatientSpeciesDescription", "PatientBreedDescription", "ResponsiblePerson",
    ),
    SERIES: (
        "SpecificCharacterSet", "Modality", "SeriesInstanceUID", "SeriesNumber",
        "SeriesDescription", "NumberOfSeriesRelatedInstances", "RetrieveURL",
        "StudyInstanceUID",
    ),
    INSTANCE: (
        "SpecificCharacterSet", "SOPClassUID", "SOPInstanceUID", "InstanceNumber", "Rows",
        "Columns", "NumberOfFrames", "AvailableTransferSyntaxUID", "RetrieveURL",
        "StudyInstanceUID", "SeriesInstanceUID",
    ),
}  # fmt: skip
_LEVELS = (STUDY, SERIES, INSTANCE)
_PREFIX = {STUDY: {STUDY: ""}, SERIES: {STUDY: "study__", SERIES: ""}}
_PREFIX[INSTANCE] = {STUDY: "series__study__", SERIES: "series__", INSTANCE: ""}
_RESERVED = {"limit", "offset", "fuzzymatching", "includefield"}


@dataclass
class Query:
    """A parsed QIDO query: filters per attribute, what to return, and the page."""

    level: str
    matches: list[tuple[str, str]] = field(default_factory=list)  # (keyword, value)
    include: set[str] = field(default_factory=set)  # tags (hex) to return
    include_all: bool = False
    fuzzy: bool = False
    limit: int | None = None
    offset: int = 0


def query_parse(params: QueryDict, *, level: str) -> Query:
    """Validate the query string; BadRequest names what is wrong."""
    query = Query(level=level)
    for name, values in params.lists():
        lowered = name.lower()
        if lowered in _RESERVED:
            _reserved(query, lowered, values)
            continue
        try:
            tag = tag_parse(name)
        except ValueError as exc:
            raise BadRequest(f"Unknown query parameter: {exc}.") from None
        word = keyword(tag)
        key = _KEYS.get(word)
        if key is None or _LEVELS.index(key.level) > _LEVELS.index(level):
            raise BadRequest(f"{word} ({tag_hex(tag)}) cannot be searched on at the {level} level.")
        if len(values) > 1:
            if key.kind != "uid":
                raise BadRequest(f"{name} is given more than once; give one value.")
            values = [",".join(values)]  # UID list matching: repeated keys are one list
        query.include.add(tag_hex(tag))
        if values[0] != "":
            query.matches.append((word, values[0]))
    return query


def _reserved(query: Query, name: str, values: list[str]) -> None:
    if name == "includefield":
        for value in ",".join(values).split(","):
            value = value.strip()
            if not value:
                continue
            if value.lower() == "all":
                query.include_all = True
                continue
            try:
                query.include.add(tag_hex(tag_parse(value)))
            except ValueError as exc:
                raise BadRequest(f"includefield: {exc}.") from None
        return
    value = values[-1].strip()
    if name == "fuzzymatching":
        if value.lower() not in ("true", "false"):
            raise BadRequest("fuzzymatching must be true or false.")
        query.fuzzy = value.lower() == "true"
        return
    if not value.isdigit():
        raise BadRequest(f"{name} must be a whole number of 0 or more.")
    if name == "limit":
        query.limit = int(value)
    else:
        query.offset = int(value)


def search(query: Query, rows: QuerySet, *, root: str) -> tuple[list[Json], bool]:
    """The page of matching rows as DICOM JSON, and whether more matched than were returned."""
    if any(word == "PatientName" for word, _ in query.matches) and not query.fuzzy:
        rows = matching.with_served_names(rows, _PREFIX[query.level][STUDY] + "patient")
    for word, value in query.matches:
        key = _KEYS[word]
        column = _PREFIX[query.level][key.level] + key.column
        rows = rows.filter(matching.condition(key.kind, column, value, fuzzy=query.fuzzy))
    rows = _ordered(rows, query.level)
    limit = query.limit if query.limit is not None else MAX_RESULTS
    page = list(rows[query.offset : query.offset + min(limit, MAX_RESULTS) + 1])
    more = len(page) > min(limit, MAX_RESULTS) and (
        query.limit is None or query.limit > MAX_RESULTS
    )
    page = page[: min(limit, MAX_RESULTS)]
    wanted = _wanted(query)
    return [_pick(_row_json(row, query.level, root), wanted) for row in page], more


def _ordered(rows: QuerySet, level: str) -> QuerySet:
    if level == STUDY:
        return rows.select_related("patient__owner").order_by(
            F("study_date").desc(nulls_last=True), F("study_time").desc(nulls_last=True), "-pk"
        )
    if level == SERIES:
        return rows.select_related("study__patient__owner").order_by(
            "study_id", F("series_number").asc(nulls_last=True), "pk"
        )
    return rows.select_related("series__study__patient__owner").order_by(
        "series_id", F("instance_number").asc(nulls_last=True), "pk"
    )


def _row_json(row, level: str, root: str) -> Json:
    if level == STUDY:
        return study_json(row, root=root)
    if level == SERIES:
        study = row.study
        out = study_json(study, root=root)
        out.update(series_json(row, root=root, study_uid=study.study_instance_uid))
        return out
    series, study = row.series, row.series.study
    out = study_json(study, root=root)
    out.update(series_json(series, root=root, study_uid=study.study_instance_uid))
    out.update(
        instance_json(
            row,
            root=root,
            study_uid=study.study_instance_uid,
            series_uid=series.series_instance_uid,
        )
    )
    return out


def _wanted(query: Query) -> set[str] | None:
    if query.include_all:
        return None
    wanted = {tag_hex(tag_parse(word)) for word in _DEFAULT[query.level]}
    return wanted | query.include


def _pick(attributes: Json, wanted: set[str] | None) -> Json:
    if wanted is None:
        return dict(sorted(attributes.items()))
    return {tag: value for tag, value in sorted(attributes.items()) if tag in wanted}
