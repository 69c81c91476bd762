"""Pages to add photos, videos and PDFs to a patient's study, and their playback for the viewer.

The page posts each file to the REST endpoint (`/api/media/`) to show per-file progress;
without JavaScript the form posts every file here and the results are shown the same way.
"""

from __future__ import annotations

import uuid

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_http_methods

from clinic.models import Patient
from imaging.convert import ENDOSCOPY, OTHER
from imaging.convert.extract import is_document, is_video
from imaging.media_api import MediaAttachInput, media_attach_request
from imaging.media_http import media_response
from imaging.models import Instance, Study

from .views import permission

ACCEPT = ".jpg,.jpeg,.png,.mp4,.m4v,.pdf,image/jpeg,image/png,video/mp4,application/pdf"


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
