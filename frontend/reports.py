"""Pages for a study's report: the editor (draft, template, key images), signing, addenda,
the PDF download and emailing it to the referring vet."""

from collections.abc import Callable
from functools import wraps

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from imaging.models import Instance, Study
from reports import reports as service
from reports.catalog import template_for_study
from reports.dicom_pdf import report_store_missing, report_unstored
from reports.facts import report_facts
from reports.key_images import key_image_bytes
from reports.mailing import pdf_filename, referring_email, report_email
from reports.measurement_table import measurement_rows
from reports.models import KeyImage, Report, ReportTemplate
from reports.pdf import report_pdf

from .views import permission


class ReportTextForm(forms.Form):
    findings = forms.CharField(required=False, widget=forms.Textarea)
    impression = forms.CharField(required=False, widget=forms.Textarea)
    template = forms.ModelChoiceField(
        queryset=ReportTemplate.objects.filter(active=True), required=False
    )


class AddendumForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea)


class EmailForm(forms.Form):
    to = forms.EmailField(label="Referring vet's email")
    message = forms.CharField(required=False, widget=forms.Textarea)


class KeyImageForm(forms.Form):
    instance = forms.IntegerField()
    frame = forms.IntegerField(min_value=1, initial=1)


def report_permission(perm: str) -> Callable:
    """`perm`, and seeing the study the report belongs to."""

    def decorator(view: Callable) -> Callable:
        @permission(perm)
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.has_perm("imaging.view_study"):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _study(pk: int) -> Study:
    return get_object_or_404(Study.objects.select_related("patient__owner"), pk=pk)


def _editor_url(study: Study) -> str:
    return reverse("report-editor", args=[study.pk])


def study_report_context(request: HttpRequest, study: Study) -> dict:
    """The study page's report panel: status, who signed, and what the user may open."""
    report = service.report_of(study)
    return {"study": study, "report": report}


@require_GET
@report_permission("reports.view_report")
def report_editor(request: HttpRequest, pk: int) -> HttpResponse:
    study = _study(pk)
    report = service.report_of(study)
    user = request.user
    can_edit = user.has_perm("reports.change_report") and (report is None or not report.locked)
    context = {
        "nav": "arrivals",
        "study": study,
        "patient": study.patient,
        "report": report,
        "facts": report_facts(study),
        "can_edit": can_edit,
        "can_sign": user.has_perm("reports.sign_report"),
        "templates": ReportTemplate.objects.filter(active=True),
        "suggested": template_for_study(study),
        "measurements": measurement_rows(study),
    }
    if report is not None:
        context.update(
            key_images=report.key_images.select_related("instance__series"),
            addenda=report.addenda.all(),
            versions=report.versions.select_related("saved_by").order_by("-number"),
            events=report.events.select_related("user"),
            email_to=referring_email(report),
            unstored=report_unstored(report),
        )
    if can_edit:
        context["image_choices"] = (
            Instance.objects.filter(series__study=study, rows__isnull=False)
            .select_related("series")
            .order_by("series__series_number", "instance_number", "pk")
        )
    return render(request, "frontend/report_editor.html", context)


@require_POST
@report_permission("reports.add_report")
def report_start(request: HttpRequest, pk: int) -> HttpResponse:
    study = _study(pk)
    template = None
    template_id = request.POST.get("template")
    if template_id and template_id.isdigit():
        template = ReportTemplate.objects.filter(pk=template_id, active=True).first()
    service.report_start(study=study, user=request.user, template=template)
    return redirect(_editor_url(study))


def _draft(request: HttpRequest, study: Study) -> Report:
    report = service.report_of(study)
    if report is None:
        report = service.report_start(study=study, user=request.user)
    return report


@require_POST
@report_permission("reports.change_report")
def report_save(request: HttpRequest, pk: int) -> HttpResponse:
    """The editor's form: "Save draft", "Use template" and "Sign" all send the typed text."""
    study = _study(pk)
    form = ReportTextForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The report could not be read; try again.")
        return redirect(_editor_url(study))
    action = request.POST.get("action", "save")
    if action == "sign" and not request.user.has_perm("reports.sign_report"):
        raise PermissionDenied
    data = form.cleaned_data
    report = _draft(request, study)
    try:
        report = service.report_save(
            report=report,
            findings=data["findings"],
            impression=data["impression"],
            user=request.user,
        )
        if action == "template":
            if data["template"] is None:
                messages.error(request, "Choose a template first.")
            else:
                service.report_apply_template(
                    report=report, template=data["template"], user=request.user
                )
                messages.success(request, f"The {data['template'].name} template is applied.")
        elif action == "sign":
            report = service.report_sign(report=report, user=request.user)
            messages.success(request, f"Report signed by {report.signed_by_name}.")
        else:
            messages.success(request, "Draft saved.")
    except service.ReportError as exc:
        messages.error(request, str(exc))
    return redirect(_editor_url(study))


@require_POST
@report_permission("reports.sign_report")
def report_sign(request: HttpRequest, pk: int) -> HttpResponse:
    study = _study(pk)
    report = service.report_of(study)
    if report is None:
        messages.error(request, "There is no report to sign yet.")
        return redirect(_editor_url(study))
    try:
        report = service.report_sign(report=report, user=request.user)
        messages.success(request, f"Report signed by {report.signed_by_name}.")
    except service.ReportError as exc:
        messages.error(request, str(exc))
    return redirect(_editor_url(study))


@require_POST
@report_permission("reports.add_addendum")
def report_addendum(request: HttpRequest, pk: int) -> HttpResponse:
    study = _study(pk)
    report = get_object_or_404(Report, study=study)
    form = AddendumForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Write the addendum's text.")
        return redirect(_editor_url(study))
    try:
        addendum = service.addendum_add(
            report=report, text=form.cleaned_data["text"], user=request.user
        )
        messages.success(request, f"Addendum {addendum.number} added.")
    except service.ReportError as exc:
        messages.error(request, str(exc))
    return redirect(_editor_url(study))


@require_POST
@report_permission("reports.email_report")
def report_send_email(request: HttpRequest, pk: int) -> HttpResponse:
    study = _study(pk)
    report = get_object_or_404(Report, study=study)
    form = EmailForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter the referring vet's email address.")
        return redirect(_editor_url(study) + "#email")
    to = form.cleaned_data["to"]
    try:
        report_email(report=report, to=to, user=request.user, message=form.cleaned_data["message"])
        messages.success(request, f"Report emailed to {to}.")
    except service.ReportError as exc:
        messages.error(request, str(exc))
    return redirect(_editor_url(study) + "#email")


@require_POST
@report_permission("reports.change_report")
def report_store(request: HttpRequest, pk: int) -> HttpResponse:
    """Store the signed report into its study again after a failure."""
    study = _study(pk)
    report = get_object_or_404(Report, study=study)
    if report_store_missing(report=report, user=request.user):
        messages.success(request, "The report is stored in the study.")
    elif report_unstored(report):
        messages.error(request, "Storing the report failed again; the history says why.")
    return redirect(_editor_url(study) + "#history")


@require_GET
@report_permission("reports.view_report")
def report_pdf_download(request: HttpRequest, pk: int) -> HttpResponse:
    study = _study(pk)
    report = get_object_or_404(Report, study=study)
    response = HttpResponse(report_pdf(report), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{pdf_filename(report)}"'
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@report_permission("reports.change_report")
def key_image_add(request: HttpRequest, pk: int) -> HttpResponse:
    study = _study(pk)
    form = KeyImageForm(request.POST)
    instance = None
    if form.is_valid():
        instance = Instance.objects.filter(
            pk=form.cleaned_data["instance"], series__study=study
        ).first()
    if instance is None:
        messages.error(request, "Choose one of the study's images.")
        return redirect(_editor_url(study) + "#key-images")
    try:
        service.key_image_add(
            study=study,
            sop_instance_uid=instance.sop_instance_uid,
            frame=form.cleaned_data["frame"],
            user=request.user,
        )
    except service.ReportError as exc:
        messages.error(request, str(exc))
    return redirect(_editor_url(study) + "#key-images")


@require_POST
@report_permission("reports.change_report")
def key_image_remove(request: HttpRequest, pk: int, key_image_pk: int) -> HttpResponse:
    study = _study(pk)
    key_image = get_object_or_404(KeyImage, pk=key_image_pk, report__study=study)
    try:
        service.key_image_remove(key_image=key_image, user=request.user)
    except service.ReportError as exc:
        messages.error(request, str(exc))
    return redirect(_editor_url(study) + "#key-images")


@require_GET
@report_permission("reports.view_report")
def key_image_png(request: HttpRequest, pk: int, key_image_pk: int) -> HttpResponse:
    key_image = get_object_or_404(
        KeyImage.objects.select_related("instance"), pk=key_image_pk, report__study_id=pk
    )
    size = 1024 if request.GET.get("size") == "large" else 320
    response = HttpResponse(key_image_bytes(key_image, max_size=size), content_type="image/png")
    response["Cache-Control"] = "private, no-cache"
    return response
