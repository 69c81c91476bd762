"""The diagnostic viewer page: the study's series, the patient and the built viewer bundle.

The viewer itself is JavaScript (frontend/viewer/, built by Vite into static/frontend/dist/);
this page hands it what it needs as JSON and includes the entry named in Vite's manifest.
"""

from pathlib import Path

from django.conf import settings
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from clinic.models import Patient
from imaging import media_http
from imaging import viewer_config as builder
from imaging.models import Study

from .printing_pages import viewer_print_config
from .views import permission

DIST = Path(__file__).resolve().parent / "static" / "frontend" / "dist"
MANIFEST = DIST / ".vite" / "manifest.json"


def viewer_bundle(manifest_path: Path | None = None) -> dict | None:
    """The built entry's script and stylesheets from Vite's manifest, or None when not built."""
    return builder.viewer_bundle(manifest_path or MANIFEST)


def patient_display_name(patient: Patient) -> str:
    """ "Rex (Smith)": the animal, then the owner, as the veterinary Patient's Name intends."""
    owner = patient.owner.last_name if patient.owner else ""
    if not owner and patient.responsible_person:
        owner = patient.responsible_person.split("^")[0]
    return f"{patient.name} ({owner})" if owner else patient.name


def _vhs_reference(patient: Patient) -> dict | None:
    try:
        from imaging.measurements import vhs_reference
    except ImportError:  # the measurement module is optional for viewing
        return None
    species = patient.species_text or patient.species
    return vhs_reference(species, patient.breed) or vhs_reference(patient.species, patient.breed)


def _thumbnail(series) -> str:
    if not series.thumbnail_key:
        return ""
    return reverse("series-thumbnail", args=[series.pk]) + f"?v={series.instance_count}"


def _media_url(series, sop_uid: str, kind: str) -> str:
    name = "instance-video" if kind == media_http.VIDEO else "instance-document"
    return reverse(name, args=[series.study_id, sop_uid])


def series_media(series) -> dict | None:
    """Where the viewer plays a video series or opens a PDF series (the first instance's)."""
    return media_http.series_media(series, _media_url)


def viewer_config(request: HttpRequest, study: Study) -> dict:
    """Everything the viewer script reads from the page (through json_script)."""
    series_list = study.series.order_by(
        F("series_number").asc(nulls_last=True), "view_position", "received_at", "pk"
    )
    patient = study.patient
    config = builder.build_viewer_config(
        study=study,
        study_pk=study.pk,
        study_url=study.get_absolute_url(),
        series=series_list,
        dicomweb_root="/dicomweb",
        api={
            "annotations": f"/api/studies/{study.pk}/annotations/",
            "annotation": "/api/annotations/",
            "export": f"/api/studies/{study.pk}/annotations/export",
            "key_images": f"/api/studies/{study.pk}/key-images/",
        },
        thumbnail_url=_thumbnail,
        media_url=series_media,
        patient={
            "name": patient_display_name(patient),
            "animal": patient.name,
            "owner": patient.owner_name,
            "species": patient.species_label,
            "breed": patient.breed,
            "patient_id": patient.patient_id,
        },
        user={
            "id": request.user.pk,
            "name": request.user.get_full_name() or request.user.get_username(),
        },
        vhs_reference=_vhs_reference(patient),
        csrf_token=get_token(request),
    )
    # The viewer's Print button (frontend/viewer/print.js), for staff who may print.
    config["print"] = viewer_print_config(request, study)
    return config


@require_GET
@permission("imaging.view_study")
def study_viewer(request: HttpRequest, pk: int) -> HttpResponse:
    study = get_object_or_404(Study.objects.select_related("patient__owner"), pk=pk)
    context = {
        "nav": "arrivals",
        "study": study,
        "patient": study.patient,
        "bundle": viewer_bundle(),
        "viewer_config": viewer_config(request, study),
        "debug": settings.DEBUG,
    }
    return render(request, "frontend/viewer.html", context)
