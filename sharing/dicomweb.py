"""A share's own DICOMweb door: `/share/v/<id>/dicomweb/…`.

Each request is checked against the share (session bound to it, not revoked, not expired),
then handed to imaging's DICOMweb view with `request.portal_share` set, so imaging's scope hook
(`sharing.scope.share_scope`) narrows every query to the share's study and series. For an
anonymized share, UIDs in the URL are translated back from the share's replacements, QIDO
filters are limited to paging, metadata answers are anonymized, and retrieves send anonymized
files (pixels, frames, rendered images and thumbnails are passed through unchanged).
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import Resolver404, resolve

from imaging.dicomweb import multipart
from imaging.dicomweb.errors import error_response
from imaging.models import Instance, Series
from sharing.access import access_record_request
from sharing.anonymize import Anonymizer
from sharing.export import instance_bytes, share_anonymizer
from sharing.models import AccessAction, Share
from sharing.scope import share_instances, share_series

_ANONYMIZED_QUERY = {"includefield", "limit", "offset", "fuzzymatching"}
_SERIES_VIEWS = {"series-metadata", "series", "series-instances"}
_RETRIEVE_VIEWS = {"study", "series", "instance"}
_SESSION_VIEWED = "share_viewed_series"


# A viewer asks for hundreds of frames: the table is built once per share and study version.
_TABLES: dict[tuple, dict[str, str]] = {}
_MAX_TABLES = 64


def real_uids(share: Share, anonymizer: Anonymizer) -> dict[str, str]:
    """The share's replacement UIDs → the real ones (study, its series and instances)."""
    study = share.study
    key = (share.pk, study.instance_count, study.updated_at)
    table = _TABLES.get(key)
    if table is None:
        if len(_TABLES) >= _MAX_TABLES:
            _TABLES.clear()
        table = _TABLES[key] = _real_uids(share, anonymizer)
    return table


def _real_uids(share: Share, anonymizer: Anonymizer) -> dict[str, str]:
    table = {anonymizer.uid(share.study.study_instance_uid): share.study.study_instance_uid}
    for uid in share_series(share).values_list("series_instance_uid", flat=True):
        table[anonymizer.uid(uid)] = uid
    for uid in share_instances(share).values_list("sop_instance_uid", flat=True):
        table[anonymizer.uid(uid)] = uid
    return table


def _real_path(rest: str, table: dict[str, str]) -> str:
    parts = rest.split("/")
    for index in range(1, len(parts)):
        if parts[index - 1] in ("studies", "series", "instances"):
            # An unknown (or real, unanonymized) UID is left to fail as "not found".
            parts[index] = table.get(parts[index], "unknown-" + parts[index][:64])
    return "/".join(parts)


def share_dicomweb(request: HttpRequest, share: Share, rest: str) -> HttpResponse:
    anonymizer = share_anonymizer(share)
    path = rest
    if anonymizer is not None:
        if set(request.GET) - _ANONYMIZED_QUERY:
            return error_response(
                "Searching by attributes is not offered on an anonymized share.", 400
            )
        path = _real_path(rest, real_uids(share, anonymizer))
    try:
        match = resolve("/dicomweb/" + path)
    except Resolver404:
        return error_response("Not a DICOMweb resource.", 404)
    if match.namespace != "dicomweb":
        return error_response("Not a DICOMweb resource.", 404)
    if anonymizer is not None and match.url_name == "bulkdata":
        if match.kwargs.get("path", "").strip("/").upper() != "7FE00010":
            return error_response("Only pixel data is offered on an anonymized share.", 404)
    request.portal_share = share
    if anonymizer is not None and match.url_name in _RETRIEVE_VIEWS:
        response = _anonymized_retrieve(request, share, anonymizer, match.kwargs)
    else:
        response = match.func(request, *match.args, **match.kwargs)
    if response.status_code == 200 and match.url_name in _SERIES_VIEWS:
        series_viewed_log(request, share, match.kwargs["series"])
    if anonymizer is not None and response.status_code == 200:
        content_type = response.get("Content-Type", "")
        if content_type.startswith("application/dicom+json") and not response.streaming:
            body = anonymizer.json(json.loads(response.content or b"[]"))
            response.content = json.dumps(body).encode()
    return response


def _anonymized_retrieve(
    request: HttpRequest, share: Share, anonymizer: Anonymizer, kwargs: dict
) -> HttpResponse:
    """Study, series or instance retrieve: the files as stored, each anonymized."""
    rows = share_instances(share).filter(series__study__study_instance_uid=kwargs["study"])
    if "series" in kwargs:
        rows = rows.filter(series__series_instance_uid=kwargs["series"])
    if "instance" in kwargs:
        rows = rows.filter(sop_instance_uid=kwargs["instance"])
    instances = list(rows.order_by("series__series_number", "series__pk", "instance_number"))
    if not instances:
        return error_response("Not found.", 404)
    boundary = multipart.boundary_new()

    def parts():
        for instance in instances:
            yield multipart.Part("application/dicom", _bytes(instance, anonymizer))

    response = StreamingHttpResponse(
        multipart.stream(parts(), boundary),
        content_type=multipart.content_type("application/dicom", boundary),
    )
    return response


def _bytes(instance: Instance, anonymizer: Anonymizer):
    yield from instance_bytes(instance, anonymizer)


def series_viewed_log(request: HttpRequest, share: Share, series_uid: str) -> None:
    """One "viewed series" entry per series and visit (a viewer asks for it many times).

    `series_uid` is the stored (real) UID of a series the share opens."""
    seen = request.session.get(_SESSION_VIEWED, [])
    key = f"{share.pk}:{series_uid}"
    if key in seen:
        return
    request.session[_SESSION_VIEWED] = [*seen, key][-500:]
    anonymizer = share_anonymizer(share)
    shown = anonymizer.uid(series_uid) if anonymizer else series_uid
    description = (
        Series.objects.filter(study_id=share.study_id, series_instance_uid=series_uid)
        .values_list("description", flat=True)
        .first()
    )
    access_record_request(
        share=share,
        request=request,
        action=AccessAction.VIEWED_SERIES,
        detail=f"{description or 'series'} ({shown})",
    )
