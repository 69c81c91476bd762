"""Rendered images and thumbnails of studies, series, instances and frames (PS3.18 10.4.1.1.3)."""

from __future__ import annotations

from django.db.models import F
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from imaging.dicomweb import multipart, rendered
from imaging.dicomweb.errors import DicomWebError, NotFound, dicomweb_view
from imaging.dicomweb.lookup import instance_get, series_get, study_get
from imaging.dicomweb.scope import scope_for
from imaging.models import Instance


def _rendering(request: HttpRequest, *, thumbnail: bool = False) -> rendered.Rendering:
    return rendered.rendering_parse(
        request.GET, request.headers.get("Accept", ""), thumbnail=thumbnail
    )


def _image(body: bytes, rendering: rendered.Rendering) -> HttpResponse:
    return HttpResponse(body, content_type=rendering.media_type)


def _ordered(instances):
    return instances.order_by(
        F("series__series_number").asc(nulls_last=True),
        "series__received_at",
        F("instance_number").asc(nulls_last=True),
        "pk",
    )


def _images(instances, rendering: rendered.Rendering) -> HttpResponse:
    """Every instance's rendered image as one part each, rendered as the answer streams."""
    rows = list(_ordered(instances).filter(rows__isnull=False))
    if not rows:
        raise NotFound("Nothing here has an image to render.")
    boundary = multipart.boundary_new()
    parts = (multipart.Part(rendering.media_type, _lazy(row, rendering)) for row in rows)
    return StreamingHttpResponse(
        multipart.stream(parts, boundary),
        content_type=multipart.content_type(rendering.media_type, boundary),
    )


def _lazy(instance: Instance, rendering: rendered.Rendering):
    try:
        yield rendered.instance_render(instance, rendering)
    except DicomWebError as exc:
        # The answer has started: an image that cannot be drawn shows why instead.
        yield rendered.placeholder_image(str(exc), rendering)


@dicomweb_view
def study_rendered(request: HttpRequest, study: str) -> HttpResponse:
    scope = scope_for(request)
    found = study_get(scope, study)
    return _images(scope.instances.filter(series__study=found), _rendering(request))


@dicomweb_view
def series_rendered(request: HttpRequest, study: str, series: str) -> HttpResponse:
    scope = scope_for(request)
    found = series_get(scope, study, series)
    return _images(scope.instances.filter(series=found), _rendering(request))


@dicomweb_view
def instance_rendered(request: HttpRequest, study: str, series: str, instance: str) -> HttpResponse:
    found = instance_get(scope_for(request), study, series, instance, with_study=False)
    rendering = _rendering(request)
    return _image(rendered.instance_render(found, rendering), rendering)


@dicomweb_view
def frame_rendered(
    request: HttpRequest, study: str, series: str, instance: str, frame: int
) -> HttpResponse:
    found = instance_get(scope_for(request), study, series, instance, with_study=False)
    rendering = _rendering(request)
    return _image(rendered.instance_render(found, rendering, frame=frame), rendering)


def _representative(instances) -> Instance:
    """The middle image of the first series with images: what a series strip would show."""
    rows = list(_ordered(instances).filter(rows__isnull=False).select_related("series"))
    if not rows:
        raise NotFound("Nothing here has an image to show.")
    first_series = [row for row in rows if row.series_id == rows[0].series_id]
    return first_series[len(first_series) // 2]


@dicomweb_view
def study_thumbnail(request: HttpRequest, study: str) -> HttpResponse:
    scope = scope_for(request)
    found = study_get(scope, study)
    instance = _representative(scope.instances.filter(series__study=found))
    rendering = _rendering(request, thumbnail=True)
    body = rendered.thumbnail(instance, rendering, stored_key=instance.series.thumbnail_key)
    return _image(body, rendering)


@dicomweb_view
def series_thumbnail(request: HttpRequest, study: str, series: str) -> HttpResponse:
    scope = scope_for(request)
    found = series_get(scope, study, series)
    instance = _representative(scope.instances.filter(series=found))
    rendering = _rendering(request, thumbnail=True)
    return _image(
        rendered.thumbnail(instance, rendering, stored_key=found.thumbnail_key), rendering
    )


@dicomweb_view
def instance_thumbnail(
    request: HttpRequest, study: str, series: str, instance: str
) -> HttpResponse:
    found = instance_get(scope_for(request), study, series, instance, with_study=False)
    rendering = _rendering(request, thumbnail=True)
    return _image(rendered.thumbnail(found, rendering, stored_key=found.thumbnail_key), rendering)


@dicomweb_view
def frame_thumbnail(
    request: HttpRequest, study: str, series: str, instance: str, frame: int
) -> HttpResponse:
    found = instance_get(scope_for(request), study, series, instance, with_study=False)
    rendering = _rendering(request, thumbnail=True)
    return _image(rendered.instance_render(found, rendering, frame=frame), rendering)
