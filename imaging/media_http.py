"""A stored video or PDF served to a browser, and which series the viewer plays or opens as one.

One place for every page that shows them: the staff viewer (frontend) and the specialist's
viewer under a share (sharing). Each caller decides who may fetch what and builds its own URLs.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from pydicom.uid import EncapsulatedPDFStorage, MPEGTransferSyntaxes

from imaging.convert.extract import NoMedia, instance_media_open
from imaging.models import Instance, Series

VIDEO = "video"
DOCUMENT = "document"

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def series_media_first(series: Series) -> tuple[str, str] | None:
    """(kind, SOP Instance UID) of the series' first instance when it is a video or a PDF."""
    first = (
        series.instances.order_by("instance_number", "pk")
        .values("sop_instance_uid", "transfer_syntax_uid", "sop_class_uid")
        .first()
    )
    if first is None:
        return None
    if first["transfer_syntax_uid"] in MPEGTransferSyntaxes:
        return VIDEO, first["sop_instance_uid"]
    if first["sop_class_uid"] == EncapsulatedPDFStorage:
        return DOCUMENT, first["sop_instance_uid"]
    return None


def series_media(series: Series, url: Callable[[Series, str, str], str]) -> dict | None:
    """Where the viewer plays a video series or opens a PDF series: `{"kind", "url"}`, or None.

    `url(series, sop_instance_uid, kind)` gives the address under the caller's own door."""
    found = series_media_first(series)
    if found is None:
        return None
    kind, sop_uid = found
    return {"kind": kind, "url": url(series, sop_uid, kind)}


def media_response(request: HttpRequest, instance: Instance) -> HttpResponse:
    """The media as a (partial, RFC 9110 14) response; the stored file stays open while it streams."""
    opened = instance_media_open(instance)
    try:
        media, handle = opened.__enter__()
    except (NoMedia, FileNotFoundError) as exc:
        raise Http404("The video or document cannot be read.") from exc
    start, stop, partial = 0, media.length, False
    match = _RANGE.match(request.headers.get("Range", "").strip())
    if match and (match[1] or match[2]):
        if match[1]:
            start = int(match[1])
            stop = min(media.length, int(match[2]) + 1) if match[2] else media.length
        else:
            start = max(0, media.length - int(match[2]))
        if start >= media.length or start >= stop:
            opened.__exit__(None, None, None)
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{media.length}"
            return response
        partial = True

    def body():
        try:
            yield from media.read(handle, start, stop)
        finally:
            opened.__exit__(None, None, None)

    response = StreamingHttpResponse(
        body(), content_type=media.content_type, status=206 if partial else 200
    )
    response["Content-Length"] = str(stop - start)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=3600"
    if partial:
        response["Content-Range"] = f"bytes {start}-{stop - 1}/{media.length}"
    if media.content_type == "application/pdf":
        response["Content-Disposition"] = f'inline; filename="{instance.sop_instance_uid}.pdf"'
    return response
