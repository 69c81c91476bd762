"""QIDO-RS views (PS3.18 10.6): the six search resources, answered from the portal's index."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse

from imaging.dicomweb import media, qido
from imaging.dicomweb.errors import dicomweb_view
from imaging.dicomweb.lookup import dicomweb_root, series_get, study_get
from imaging.dicomweb.scope import scope_for


def _answer(request: HttpRequest, level: str, rows) -> HttpResponse:
    query = qido.query_parse(request.GET, level=level)
    results, more = qido.search(query, rows, root=dicomweb_root(request))
    body = json.dumps(results, separators=(",", ":"), ensure_ascii=False)
    response = HttpResponse(body, content_type=media.DICOM_JSON)
    if more:
        # PS3.18 8.3.4.4: more matched than one answer holds; ask again with offset.
        response["Warning"] = (
            '299 dicomweb: "The number of results exceeded the maximum supported by the '
            'server. Additional results can be requested."'
        )
    return response


@dicomweb_view
def studies(request: HttpRequest) -> HttpResponse:
    return _answer(request, qido.STUDY, scope_for(request).studies)


@dicomweb_view
def all_series(request: HttpRequest) -> HttpResponse:
    return _answer(request, qido.SERIES, scope_for(request).series)


@dicomweb_view
def study_series(request: HttpRequest, study: str) -> HttpResponse:
    scope = scope_for(request)
    found = study_get(scope, study)
    return _answer(request, qido.SERIES, scope.series.filter(study=found))


@dicomweb_view
def all_instances(request: HttpRequest) -> HttpResponse:
    return _answer(request, qido.INSTANCE, scope_for(request).instances)


@dicomweb_view
def study_instances(request: HttpRequest, study: str) -> HttpResponse:
    scope = scope_for(request)
    found = study_get(scope, study)
    return _answer(request, qido.INSTANCE, scope.instances.filter(series__study=found))


@dicomweb_view
def series_instances(request: HttpRequest, study: str, series: str) -> HttpResponse:
    scope = scope_for(request)
    found = series_get(scope, study, series)
    return _answer(request, qido.INSTANCE, scope.instances.filter(series=found))
