"""Attribute matching for QIDO-RS (PS3.4 C.2.2.2) as Django filters on the portal's index.

Single values with `*` and `?` wildcards, UID lists, date and time ranges, whole-value
matching of multi-valued Modalities in Study. Patient's Name matches the name the portal
serves (responsible party^animal) or the one the modality sent; fuzzy matching takes each
word as the start of any name component, case-insensitively.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time

from django.db import connection
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Concat, NullIf

from imaging.dicomweb.errors import BadRequest

# The alias `with_served_names` gives the served Patient's Name.
SERVED_NAME = "qido_patient_name"


def condition(kind: str, column: str, value: str, *, fuzzy: bool) -> Q:
    """The filter for one query attribute: `kind` says how it matches (see MATCHERS)."""
    return MATCHERS[kind](column, value, fuzzy)


def _uid(column: str, value: str, fuzzy: bool) -> Q:
    # PS3.18 8.3.4.1: a list of UIDs, separated by commas (or backslashes, as in C-FIND).
    uids = [v.strip() for v in re.split(r"[,\\]", value) if v.strip()]
    if any(not re.fullmatch(r"[0-9.]{1,64}", uid) for uid in uids):
        raise BadRequest(f"{value!r} is not a UID or a list of UIDs.")
    return Q(**{f"{column}__in": uids})


def _text(column: str, value: str, fuzzy: bool, *, insensitive: bool = False) -> Q:
    """Single value matching, `*` and `?` as wildcards; a comma-separated list matches any."""
    match = Q()
    for item in value.split(","):
        match |= wildcard(column, item, insensitive=insensitive)
    return match


def _itext(column: str, value: str, fuzzy: bool) -> Q:
    return _text(column, value, fuzzy, insensitive=True)


def wildcard(column: str, value: str, *, insensitive: bool) -> Q:
    """PS3.4 C.2.2.2.1 single value and C.2.2.2.4 wildcard matching of one value."""
    i = "i" if insensitive else ""
    if "*" not in value and "?" not in value:
        return Q(**{f"{column}__{i}exact": value})
    body = value.strip("*")
    # SQLite's LIKE ignores case (Django's startswith/contains use it there): its regex does not.
    sqlite_like_ignores_case = not insensitive and connection.vendor == "sqlite"
    if "?" not in body and "*" not in body and not sqlite_like_ignores_case:
        if value.startswith("*") and value.endswith("*"):
            return Q(**{f"{column}__{i}contains": body})
        if value.endswith("*"):
            return Q(**{f"{column}__{i}startswith": body})
        return Q(**{f"{column}__{i}endswith": body})
    pattern = (
        "^" + "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in value) + "$"
    )
    return Q(**{f"{column}__{i}regex": pattern})


def _at(patient: str, name: str) -> str:
    """The lookup of a patient's field from the rows (`patient` is "" when they are patients)."""
    return f"{patient}__{name}" if patient else name


def _person_name(column: str, value: str, fuzzy: bool) -> Q:
    """Patient's Name: served name (family^animal) or the name sent; fuzzy: by component start."""
    patient = column  # "…patient", or "" on patients themselves
    if fuzzy:
        match = Q()
        for word in re.split(r"[\^\s,]+", value.replace("*", "").replace("?", "")):
            if not word:
                continue
            match &= (
                Q(**{_at(patient, "name__istartswith"): word})
                | Q(**{_at(patient, "owner__last_name__istartswith"): word})
                | Q(**{_at(patient, "owner__organization__istartswith"): word})
                | Q(**{_at(patient, "responsible_person__istartswith"): word})
                | Q(**{_at(patient, "dicom_name__istartswith"): word})
                | Q(**{_at(patient, "dicom_name__icontains"): "^" + word})
                | Q(**{_at(patient, "dicom_name__icontains"): " " + word})
            )
        return match
    return wildcard(_at(patient, "dicom_name"), value, insensitive=True) | wildcard(
        SERVED_NAME, value, insensitive=True
    )


def _species(column: str, value: str, fuzzy: bool) -> Q:
    # The portal keeps a species choice and, for others, the words the console sent.
    patient = column.rpartition("__")[0]
    return wildcard(column, value, insensitive=True) | wildcard(
        _at(patient, "species"), value, insensitive=True
    )


def _responsible(column: str, value: str, fuzzy: bool) -> Q:
    patient = column.rpartition("__")[0]
    return (
        wildcard(column, value, insensitive=True)
        | wildcard(_at(patient, "owner__last_name"), value.split("^")[0], insensitive=True)
        | wildcard(_at(patient, "owner__organization"), value, insensitive=True)
    )


def _date(column: str, value: str, fuzzy: bool) -> Q:
    low, high = _range(value, _parse_date)
    return _between(column, low, high)


def _time(column: str, value: str, fuzzy: bool) -> Q:
    low, high = _range(value, _parse_time)
    return _between(column, low, high)


def _range(value: str, parse: Callable[[str], date | time]):
    if "-" not in value:
        one = parse(value)
        return one, one
    start, _, end = value.partition("-")
    if not start and not end:
        raise BadRequest("A range needs a start, an end, or both.")
    return (parse(start) if start else None), (parse(end) if end else None)


def _between(column: str, low, high) -> Q:
    match = Q()
    if low is not None:
        match &= Q(**{f"{column}__gte": low})
    if high is not None:
        match &= Q(**{f"{column}__lte": high})
    return match


def _parse_date(text: str) -> date:
    try:
        return datetime.strptime(text.strip().replace("-", "").replace(".", ""), "%Y%m%d").date()
    except ValueError:
        raise BadRequest(f"{text!r} is not a date (YYYYMMDD).") from None


def _parse_time(text: str) -> time:
    digits = text.strip().replace(":", "").split(".")[0]
    for fmt in ("%H%M%S", "%H%M", "%H"):
        try:
            return datetime.strptime(digits, fmt).time()
        except ValueError:
            continue
    raise BadRequest(f"{text!r} is not a time (HHMMSS).")


def _int(column: str, value: str, fuzzy: bool) -> Q:
    try:
        numbers = [int(v) for v in value.split(",")]
    except ValueError:
        raise BadRequest(f"{value!r} is not a number.") from None
    return Q(**{f"{column}__in": numbers})


def _modalities(column: str, value: str, fuzzy: bool) -> Q:
    # Modalities in Study is stored backslash-separated ("CT\SR"): match whole values; a list
    # of modalities (comma or backslash) matches studies holding any of them.
    match = Q()
    for modality in (m.strip().upper() for m in re.split(r"[,\\]", value)):
        if modality:
            match |= (
                Q(**{column: modality})
                | Q(**{f"{column}__startswith": modality + "\\"})
                | Q(**{f"{column}__endswith": "\\" + modality})
                | Q(**{f"{column}__contains": "\\" + modality + "\\"})
            )
    return match


MATCHERS: dict[str, Callable[[str, str, bool], Q]] = {
    "uid": _uid,
    "text": _text,
    "itext": _itext,
    "pn": _person_name,
    "species": _species,
    "responsible": _responsible,
    "date": _date,
    "time": _time,
    "int": _int,
    "modalities": _modalities,
}


def with_served_names(rows: QuerySet, patient: str) -> QuerySet:
    """Annotate the name the portal serves (family^animal), so Patient's Name can match it.

    `patient` is the lookup from the rows to their patient (`patient`, `study__patient` …,
    or "" when the rows are patients)."""
    family = Coalesce(
        NullIf(F(_at(patient, "owner__last_name")), Value("")),
        NullIf(F(_at(patient, "owner__organization")), Value("")),
        F(_at(patient, "responsible_person")),
    )
    name = Concat(family, Value("^"), F(_at(patient, "name")))
    return rows.alias(**{SERVED_NAME: name})
