"""A share's videos and PDFs for its viewer: `/share/v/<id>/media/<uid>`.

The same checks as the share's DICOMweb door (session bound to the share, not revoked, not
expired, the instance within the share's scope: `sharing.scope.share_media_instances`); anything
else answers 404. The bytes come from imaging's range-serving `media_response`.

On an anonymized share a video plays as an image shows: the DICOMweb door passes pixel data
through unchanged (only headers are anonymized), and the MP4 taken out of the file carries no
DICOM header, so the video is served as stored under the share's replacement UID. A PDF is
never opened on an anonymized share: its text names the owner and the animal and cannot be
cleaned (`share_documents` holds none there).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from imaging.convert.extract import is_document
from imaging.media_http import media_response, series_media_first
from imaging.models import Instance, Series
from sharing.dicomweb import real_uids, series_viewed_log
from sharing.export import share_anonymizer
from sharing.models import Share
from sharing.scope import share_media_instances
from sharing.security import protected_headers, session_share


def share_media_instance(share: Share, uid: str) -> Instance | None:
    """The video or PDF the share opens under `uid` (its replacement UID when anonymized)."""
    anonymizer = share_anonymizer(share)
    if anonymizer is not None:
        uid = real_uids(share, anonymizer).get(uid, "")
    if not uid:
        return None
    return (
        share_media_instances(share).select_related("series").filter(sop_instance_uid=uid).first()
    )


def share_media_url(share: Share) -> Callable[[Series], dict | None]:
    """The viewer's `media_url` for the share: each video or PDF series' address at this door."""
    anonymizer = share_anonymizer(share)
    opened = set(share_media_instances(share).values_list("sop_instance_uid", flat=True))

    def media(series: Series) -> dict | None:
        found = series_media_first(series)
        if found is None or found[1] not in opened:
            return None
        kind, sop_uid = found
        shown = anonymizer.uid(sop_uid) if anonymizer else sop_uid
        return {"kind": kind, "url": reverse("sharing:media", args=[share.pk, shown])}

    return media


@require_GET
def share_media(request: HttpRequest, pk: int, uid: str) -> HttpResponse:
    """The video (with byte ranges) or PDF, for the share's viewer page only."""
    share = session_share(request, pk)
    instance = share_media_instance(share, uid) if share is not None else None
    if instance is None:
        return _not_found()
    try:
        response = media_response(request, instance)
    except Http404:
        return _not_found()
    if response.status_code in (200, 206):
        series_viewed_log(request, share, instance.series.series_instance_uid)
    # The viewer frames a PDF from its own page (frontend/viewer/media.js); a video stays
    # unframeable like every other share response.
    return protected_headers(response, framed=is_document(instance))


def _not_found() -> HttpResponse:
    """The same answer for anything the share does not open, however it is not."""
    response = HttpResponse("Not found.", status=404, content_type="text/plain")
    response._has_been_logged = True
    return protected_headers(response)
