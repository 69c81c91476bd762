"""Pages for clinic staff: arrivals, studies, patients and owners, and the thumbnails they show.

Views check a permission, read through selectors, call a service for writes, and render.
"""

import hashlib
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, F, Prefetch
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.request import split_domain_port
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from clinic.models import Owner, Patient
from imaging import selectors, storage, studies
from imaging.models import Instance, Series, Study, StudyStatus

from .forms import ArrivalsFilter, ArrivalsFilterForm, PatientSearchForm, StudyReassignForm

ARRIVALS_LIMIT = 200  # rows on one arrivals page; narrower filters find older studies
STRIP_LIMIT = 48  # instance thumbnails shown per series on the study page
LIVE_DIGEST = "X-Live-Digest"  # fragment responses carry it; the page script replaces on change
LIVE_FINAL = "X-Live-Final"  # "1": nothing more will change by itself, stop polling


def permission(perm: str) -> Callable:
    """Signed-out visitors go to the login page; signed-in staff without `perm` get the 403 page."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.has_perm(perm):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class PortalLoginView(LoginView):
    """After signing in, each role lands on the first page it may open."""

    def get_default_redirect_url(self) -> str:
        user = self.request.user
        if user.has_perm("imaging.view_study"):
            return reverse("arrivals")
        if user.has_perm("clinic.view_patient"):
            return reverse("patient-list")
        return reverse("arrivals")


def _fragment(html: str, *, final: bool = False) -> HttpResponse:
    response = HttpResponse(html)
    response[LIVE_DIGEST] = hashlib.sha256(html.encode()).hexdigest()[:16]
    if final:
        response[LIVE_FINAL] = "1"
    response["Cache-Control"] = "no-store"
    return response


# Arrivals -----------------------------------------------------------------------------------


def _arrivals_rows(request: HttpRequest) -> tuple[str, ArrivalsFilter, ArrivalsFilterForm]:
    form = ArrivalsFilterForm(request.GET or None)
    filters = form.filters()
    received_after, received_before = filters.received_range()
    arrived = selectors.study_list(
        user=request.user,
        received_after=received_after,
        received_before=received_before,
        modality=filters.modality,
        status=filters.status,
        q=filters.search,
    )
    # The order each study was matched to, with what its completeness needs.
    arrived = arrived.select_related("order__procedure", "order__patient").prefetch_related(
        "order__procedure__views"
    )
    found = list(arrived[: ARRIVALS_LIMIT + 1])
    today = timezone.localdate()
    context = {
        "studies": found[:ARRIVALS_LIMIT],
        "truncated": len(found) > ARRIVALS_LIMIT,
        "limit": ARRIVALS_LIMIT,
        "filters": filters,
        "today": today,
        "only_today": filters.day_from == filters.day_to == today,
        "filtered": bool(filters.modality or filters.status or filters.search),
        "ae_title": settings.DICOM_AE_TITLE,
        "dicom_port": settings.DICOM_PORT,
        "dicom_host": split_domain_port(request.get_host())[0] or request.get_host(),
    }
    html = render_to_string("frontend/_arrival_rows.html", context, request=request)
    return html, filters, form


@require_GET
@permission("imaging.view_study")
def arrivals(request: HttpRequest) -> HttpResponse:
    """Today's studies (or the filtered range), newest first, refreshed in place by arrivals.js."""
    rows_html, filters, form = _arrivals_rows(request)
    query = request.GET.urlencode()
    context = {
        "nav": "arrivals",
        "form": form,
        "filters": filters,
        "rows_html": rows_html,
        "rows_digest": hashlib.sha256(rows_html.encode()).hexdigest()[:16],
        "rows_url": reverse("arrivals-rows") + (f"?{query}" if query else ""),
    }
    return render(request, "frontend/arrivals.html", context)


@require_GET
@permission("imaging.view_study")
def arrivals_rows(request: HttpRequest) -> HttpResponse:
    """The arrivals list alone, for polling with the same query string as the page."""
    rows_html, _, _ = _arrivals_rows(request)
    return _fragment(rows_html)


# Studies ------------------------------------------------------------------------------------


def _study_live_context(request: HttpRequest, study: Study) -> dict:
    instances = Instance.objects.only(
        "pk", "series_id", "instance_number", "sha256", "thumbnail_key", "thumbnail_state",
        "thumbnail_error", "number_of_frames", "received_at",
    ).order_by(F("instance_number").asc(nulls_last=True), "received_at", "pk")  # fmt: skip
    series_list = list(
        study.series.order_by(F("series_number").asc(nulls_last=True), "received_at", "pk")
        .prefetch_related(Prefetch("instances", queryset=instances))
    )  # fmt: skip
    for series in series_list:
        shown = list(series.instances.all())
        series.strip = shown[:STRIP_LIMIT]
        series.strip_more = max(len(shown) - STRIP_LIMIT, 0)
    pending = "thumbnails_pending" in selectors.study_display_statuses(study)
    return {
        "study": study,
        "series_list": series_list,
        "thumbnails_pending": pending,
        "events": study.events.select_related("user")[:50],
        "final": study.status == StudyStatus.COMPLETE and not pending,
    }


def _study(pk: int) -> Study:
    return get_object_or_404(Study.objects.select_related("patient__owner", "device"), pk=pk)


@require_GET
@permission("imaging.view_study")
def study_detail(request: HttpRequest, pk: int) -> HttpResponse:
    study = _study(pk)
    context = _study_live_context(request, study)
    live_html = render_to_string("frontend/_study_live.html", context, request=request)
    context.update(
        nav="arrivals",
        live_html=live_html,
        live_digest=hashlib.sha256(live_html.encode()).hexdigest()[:16],
        patient=study.patient,
    )
    user = request.user
    can_move = user.has_perm("imaging.change_study") and user.has_perm("clinic.view_patient")
    find = request.GET.get("find", "").strip()[:100]
    if can_move:
        context.update(can_move=True, find=find, candidates=[])
        if find:
            context["candidates"] = (
                Patient.objects.search(find)
                .exclude(pk=study.patient_id)
                .select_related("owner")[:10]
            )
    context["can_verify"] = not study.patient.verified and user.has_perm("clinic.change_patient")
    return render(request, "frontend/study_detail.html", context)


@require_GET
@permission("imaging.view_study")
def study_live(request: HttpRequest, pk: int) -> HttpResponse:
    """The study page's changing part (status, series, thumbnails, history) for polling."""
    context = _study_live_context(request, _study(pk))
    html = render_to_string("frontend/_study_live.html", context, request=request)
    return _fragment(html, final=context["final"])


@require_POST
@permission("imaging.change_study")
def study_move(request: HttpRequest, pk: int) -> HttpResponse:
    """File a wrong-patient arrival under the patient it belongs to."""
    if not request.user.has_perm("clinic.view_patient"):
        raise PermissionDenied
    study = _study(pk)
    form = StudyReassignForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the patient this study belongs to.")
        return redirect(study)
    patient = Patient.objects.filter(pk=form.cleaned_data["patient"]).first()
    if patient is None:
        messages.error(request, "That patient no longer exists. Search again.")
        return redirect(study)
    studies.study_reassign(study=study, patient=patient, user=request.user)
    messages.success(request, f"Study moved to {patient.name} (ID {patient.patient_id}).")
    return redirect(study)


@require_POST
@permission("clinic.change_patient")
def patient_verify(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient, pk=pk)
    studies.patient_verify(patient=patient, user=request.user)
    messages.success(request, f"{patient.name} is now a confirmed patient.")
    back = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect(patient)


# Patients and owners ------------------------------------------------------------------------


@require_GET
@permission("clinic.view_patient")
def patient_list(request: HttpRequest) -> HttpResponse:
    form = PatientSearchForm(request.GET or None)
    text = form.text()
    patients = (
        Patient.objects.search(text)
        .select_related("owner")
        .annotate(study_count=Count("studies"))
        .order_by("name", "pk")
    )
    page = Paginator(patients, 50).get_page(request.GET.get("page"))
    context = {"nav": "patients", "form": form, "page": page, "text": text}
    return render(request, "frontend/patient_list.html", context)


@require_GET
@permission("clinic.view_patient")
def patient_detail(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient.objects.select_related("owner"), pk=pk)
    patient_studies = None
    if request.user.has_perm("imaging.view_study"):
        patient_studies = (
            Study.objects.visible_to(request.user)
            .filter(patient=patient)
            .select_related("device")
            .prefetch_related("series")
            .order_by("-received_at")
        )
    context = {
        "nav": "patients",
        "patient": patient,
        "studies": patient_studies,
        "can_verify": not patient.verified and request.user.has_perm("clinic.change_patient"),
    }
    return render(request, "frontend/patient_detail.html", context)


@require_GET
@permission("clinic.view_owner")
def owner_detail(request: HttpRequest, pk: int) -> HttpResponse:
    owner = get_object_or_404(Owner, pk=pk)
    patients = (
        owner.patients.order_by("name") if request.user.has_perm("clinic.view_patient") else None
    )
    return render(
        request,
        "frontend/owner_detail.html",
        {"nav": "patients", "owner": owner, "patients": patients},
    )


# Thumbnails ---------------------------------------------------------------------------------


def _png(key: str) -> FileResponse:
    """A stored thumbnail. URLs carry a version, so browsers may keep it for a while."""
    if not key:
        raise Http404("This image has not been rendered yet.")
    try:
        handle = storage.thumbnail_open(key)
    except (FileNotFoundError, OSError) as exc:
        raise Http404("This image is not on storage.") from exc
    response = FileResponse(handle, content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_GET
@permission("imaging.view_study")
def series_thumbnail(request: HttpRequest, pk: int) -> FileResponse:
    series = get_object_or_404(Series.objects.only("thumbnail_key"), pk=pk)
    return _png(series.thumbnail_key)


@require_GET
@permission("imaging.view_study")
def instance_thumbnail(request: HttpRequest, pk: int) -> FileResponse:
    instance = get_object_or_404(Instance.objects.only("thumbnail_key"), pk=pk)
    return _png(instance.thumbnail_key)
