"""WADO-RS views: retrieve, metadata, frames and bulk data. Thin: scope, look up, answer."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from imaging.dicomweb import media, metadata, multipart, wado
from imaging.dicomweb.errors import NotAcceptable, NotFound, dicomweb_view
from imaging.dicomweb.lookup import dicomweb_root, instance_get, series_get, study_get
from imaging.dicomweb.scope import scope_for
from imaging.models import Instance


def _json(body: bytes) -> HttpResponse:
    return HttpResponse(body, content_type=media.DICOM_JSON)


@dicomweb_view
def study_metadata(request: HttpRequest, study: str) -> HttpResponse:
    scope = scope_for(request)
    found = study_get(scope, study)
    series = list(scope.series.filter(study=found).order_by("series_number", "received_at"))
    return _json(metadata.study_metadata(found, series, root=dicomweb_root(request)))


@dicomweb_view
def series_metadata(request: HttpRequest, study: str, series: str) -> HttpResponse:
    found = series_get(scope_for(request), study, series)
    return _json(metadata.series_metadata(found, study=found.study, root=dicomweb_root(request)))


@dicomweb_view
def instance_metadata(request: HttpRequest, study: str, series: str, instance: str) -> HttpResponse:
    found = instance_get(scope_for(request), study, series, instance)
    body = metadata.instance_metadata(
        found, study=found.series.study, series_uid=series, root=dicomweb_root(request)
    )
    return _json(body)


@dicomweb_view
def frames(
    request: HttpRequest, study: str, series: str, instance: str, frames: str
) -> HttpResponse:
    found = instance_get(scope_for(request), study, series, instance, with_study=False)
    bodies = wado.FrameBodies(found, wado.frame_numbers(frames), request.headers.get("Accept", ""))
    return _frames_response(bodies)


@dicomweb_view
def bulkdata(
    request: HttpRequest, study: str, series: str, instance: str, path: str
) -> HttpResponse:
    found = instance_get(scope_for(request), study, series, instance, with_study=False)
    accept = request.headers.get("Accept", "")
    if path.strip("/").upper() == "7FE00010":
        return _frames_response(wado.bulk_pixel_parts(found, accept))
    value = wado.bulk_value(found, path)
    ranges = media.accept_parse(accept) or [media.MediaRange("*/*")]
    if any(r.type == media.OCTET_STREAM for r in ranges) and not any(
        r.type in (media.MULTIPART, "*/*") for r in ranges[:1]
    ):
        return HttpResponse(value, content_type=media.OCTET_STREAM)
    boundary = multipart.boundary_new()
    part = multipart.Part(media.OCTET_STREAM, value)
    return HttpResponse(
        multipart.body([part], boundary),
        content_type=multipart.content_type(media.OCTET_STREAM, boundary),
    )


def _frames_response(bodies: wado.FrameBodies) -> HttpResponse:
    if not bodies.answer.multipart:
        return HttpResponse(bodies.first(), content_type=bodies.content_type)
    boundary = multipart.boundary_new()
    part_type = bodies.content_type.split(";")[0]
    content_type = multipart.content_type(
        part_type, boundary, transfer_syntax=bodies.answer.transfer_syntax
    )
    if len(bodies.numbers) <= 4:
        return HttpResponse(multipart.body(bodies.parts(), boundary), content_type=content_type)
    return StreamingHttpResponse(
        multipart.stream(bodies.parts(), boundary), content_type=content_type
    )


@dicomweb_view
def study_retrieve(request: HttpRequest, study: str) -> HttpResponse:
    scope = scope_for(request)
    found = study_get(scope, study)
    instances = scope.instances.filter(series__study=found).order_by(
        "series__series_number", "series__received_at", "instance_number", "pk"
    )
    return _instances_response(request, _rows(instances))


@dicomweb_view
def series_retrieve(request: HttpRequest, study: str, series: str) -> HttpResponse:
    scope = scope_for(request)
    found = series_get(scope, study, series)
    instances = scope.instances.filter(series=found).order_by("instance_number", "pk")
    return _instances_response(request, _rows(instances))


@dicomweb_view
def instance_retrieve(request: HttpRequest, study: str, series: str, instance: str) -> HttpResponse:
    found = instance_get(scope_for(request), study, series, instance, with_study=False)
    return _instances_response(request, [found])


def _rows(instances) -> list[Instance]:
    """The instances to send, without their other columns (only their files are read)."""
    return list(instances.only("sop_instance_uid", "storage_key", "transfer_syntax_uid"))


def _instances_response(request: HttpRequest, rows: list[Instance]) -> HttpResponse:
    if not rows:
        raise NotFound("Nothing to retrieve.")
    stored = {row.transfer_syntax_uid for row in rows}
    try:
        is_multipart, target = media.instances_negotiate(request.headers.get("Accept", ""), stored)
    except ValueError as exc:
        raise NotAcceptable(str(exc)) from exc
    if not is_multipart:
        if len(rows) != 1:
            raise NotAcceptable("Several instances can only be sent as multipart/related.")
        part = next(wado.instance_parts(rows, target))
        body = part.body if isinstance(part.body, bytes) else b"".join(part.body)
        return HttpResponse(body, content_type=part.content_type)
    boundary = multipart.boundary_new()
    ts = target or (next(iter(stored)) if len(stored) == 1 else "")
    content_type = multipart.content_type(media.DICOM, boundary, transfer_syntax=ts)
    return StreamingHttpResponse(
        multipart.stream(wado.instance_parts(rows, target), boundary), content_type=content_type
    )
