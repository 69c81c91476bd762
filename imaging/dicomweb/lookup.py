"""Finding the study, series or instance a DICOMweb URL names, within the requester's scope."""

from __future__ import annotations

import re

from django.http import HttpRequest

from imaging.dicomweb.errors import NotFound
from imaging.dicomweb.scope import Scope
from imaging.models import Instance, Series, Study

_RESOURCE = re.compile(r"^(.*?)/(studies|series|instances)(/|$)")


def dicomweb_root(request: HttpRequest) -> str:
    """The absolute URL of the DICOMweb root this request came through (no trailing slash).

    Taken from the request's own path, so the same views mounted elsewhere (a share link's
    prefix) point their RetrieveURLs and BulkDataURIs back through that prefix.
    """
    match = _RESOURCE.match(request.path)
    prefix = match.group(1) if match else request.path.rstrip("/")
    return request.build_absolute_uri(prefix)


def study_get(scope: Scope, study_uid: str) -> Study:
    study = (
        scope.studies.select_related("patient__owner").filter(study_instance_uid=study_uid).first()
    )
    if study is None:
        raise NotFound(f"Study {study_uid} not found.")
    return study


def series_get(scope: Scope, study_uid: str, series_uid: str) -> Series:
    series = (
        scope.series.select_related("study__patient__owner")
        .filter(series_instance_uid=series_uid, study__study_instance_uid=study_uid)
        .first()
    )
    if series is None:
        raise NotFound(f"Series {series_uid} of study {study_uid} not found.")
    return series


def instance_get(
    scope: Scope, study_uid: str, series_uid: str, sop_uid: str, *, with_study: bool = True
) -> Instance:
    """The instance; `with_study=False` loads only its own row (a frame request's hot path)."""
    rows = scope.instances.filter(
        sop_instance_uid=sop_uid,
        series__series_instance_uid=series_uid,
        series__study__study_instance_uid=study_uid,
    ).order_by()
    if with_study:
        rows = rows.select_related("series__study__patient__owner")
    instance = next(iter(rows[:1]), None)
    if instance is None:
        raise NotFound(f"Instance {sop_uid} of series {series_uid} not found.")
    return instance
