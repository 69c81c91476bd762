"""Pages to add photos, videos and PDFs to a patient's study, and their playback for the viewer.

The page posts each file to the REST endpoint (`/api/media/`) to show per-file progress;
without JavaScript the form posts every file here and the results are shown the same way.
"""

from __future__ import annotations

import re
import uuid

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_http_methods

from clinic.models import Patient
from imaging.convert import ENDOSCOPY, OTHER
from imaging.convert.extract import NoMedia, instance_media_open, is_document, is_video
from imaging.media_api import MediaAttachInput, media_attach_request
from imaging.models import Instance, Study

from .views import permission

ACCEPT = ".jpg,.jpeg,.png,.mp4,.m4v,.pdf,image/jpeg,image/png,video/mp4,application/pdf"
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _page(request: HttpRequest, *, patient: Patient, study: Study | None) -> HttpResponse:
    results = []
    batch = request.POST.get("batch") or uuid.uuid4().hex
    if request.method == "POST":
        choice = request.POST.get("study", "")
        for upload in request.FILES.getlist("file"):
            form = MediaAttachInput(
                data={
                    "file": upload,
                    "patient": patient.pk,
                    "study": int(choice) if choice.isdigit() else None,
                    "study_description": request.POST.get("study_description", ""),
                    "video_kind": request.POST.get("video_kind") or OTHER,
                    "batch": batch,
                }
            )
            if form.is_valid():
                results.append(
                    media_attach_request(
                        data=form.validated_data, user=request.user, default_batch=batch
                    )
                )
            else:
                results.append(
                    {"status": "refused", "message": f"{upload.name}: the form is incomplete"}
                )
    studies = (
        Study.objects.visible_to(request.user).filter(patient=patient).order_by("-received_at")
    )
    context = {
        "nav": "patients" if study is None else "arrivals",
        "patient": patient,
        "study": study,
        "studies": studies[:50],
        "batch": uuid.uuid4().hex,
        "accept": ACCEPT,
        "video_kinds": [(OTHER, "Other (ultrasound export, camera …)"), (ENDOSCOPY, "Endoscopy")],
        "results": results,
    }
    return render(request, "frontend/attach_media.html", context, status=200)


@require_http_methods(["GET", "POST"])
@permission("imaging.add_instance")
@permission("imaging.view_study")
def study_attach_media(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Add photos, videos or documents" from a study page: the study is chosen already."""
    study = get_object_or_404(Study.objects.select_related("patient__owner"), pk=pk)
    return _page(request, patient=study.patient, study=study)


@require_http_methods(["GET", "POST"])
@permission("imaging.add_instance")
@permission("imaging.view_study")
def patient_attach_media(request: HttpRequest, pk: int) -> HttpResponse:
    """The same from a patient's record: choose one of their studies or start a new one."""
    patient = get_object_or_404(Patient.objects.select_related("owner"), pk=pk)
    return _page(request, patient=patient, study=None)


@require_GET
@permission("imaging.view_study")
@xframe_options_sameorigin  # the viewer shows a PDF in a frame of its own page
def instance_media(request: HttpRequest, pk: int, uid: str) -> HttpResponse:
    """A stored video (video.mp4) or PDF (document.pdf) of the study, with byte ranges for seeking."""
    instance = get_object_or_404(
        Instance.objects.select_related("series"), series__study_id=pk, sop_instance_uid=uid
    )
    wanted_video = request.path.endswith(".mp4")
    if (wanted_video and not is_video(instance)) or (
        not wanted_video and not is_document(instance)
    ):
        raise Http404("This instance holds no such video or document.")
    return media_response(request, instance)


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
