"""Pages for printing on the clinic's DICOM printers: the prints page with live status and
"Try again", and (administrators) the printers with "Test printer"."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from printing import jobs
from printing.models import FILM_SIZE_CHOICES, LAYOUT_CHOICES, PrintDestination, PrintJob

from . import setup_pages
from .views import _fragment, permission

PRINTS_LIMIT = 100  # rows on the prints page


class PrintDestinationForm(forms.ModelForm):
    film_sizes = forms.MultipleChoiceField(
        choices=FILM_SIZE_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        label="Film sizes offered",
        help_text="As the printer's DICOM conformance statement lists them.",
    )

    class Meta:
        model = PrintDestination
        fields = [
            *PrintDestination.ADDRESS_FIELDS, "film_sizes", "default_film_size",
            "orientation", "magnification", "medium_type", *PrintDestination.TLS_FIELDS, "active",
        ]  # fmt: skip
        labels = {"magnification": "Magnification type", "orientation": "Default orientation"}

    def _post_clean(self) -> None:
        super()._post_clean()  # copies the fields onto the instance and runs full_clean()
        try:
            jobs.print_destination_validate(self.instance)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                if field in self.fields and field not in self.errors:
                    self.add_error(field, errors)


# Prints -----------------------------------------------------------------------------------


def _prints_context() -> dict:
    printed = PrintJob.objects.select_related("destination", "study__patient", "created_by")
    return {"print_jobs": printed[:PRINTS_LIMIT]}


@require_GET
@permission("printing.view_printjob")
def prints(request: HttpRequest) -> HttpResponse:
    context = _prints_context()
    html = render_to_string("frontend/prints_rows.html", context, request=request)
    context.update(nav="prints", rows_html=html)
    return render(request, "frontend/prints.html", context)


@require_GET
@permission("printing.view_printjob")
def prints_rows(request: HttpRequest) -> HttpResponse:
    html = render_to_string("frontend/prints_rows.html", _prints_context(), request=request)
    return _fragment(html)


@require_POST
@permission("printing.change_printjob")
def print_retry(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(PrintJob, pk=pk)
    try:
        jobs.print_job_retry(job_id=job.pk)
    except jobs.PrintError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Printing again on {job.destination.name}.")
    return redirect("prints")


# Printers (administrators) ----------------------------------------------------------------


@permission("printing.view_printdestination")
def printer_list(request: HttpRequest) -> HttpResponse:
    return setup_pages.list_with_add_form(
        request,
        form_class=PrintDestinationForm,
        add_permission="printing.add_printdestination",
        rows_name="printers",
        rows=PrintDestination.objects.all(),
        template="frontend/printers.html",
        nav="prints",
        added=lambda printer: f"{printer.name} added. Test the printer next.",
        list_url="printer-list",
    )


@permission("printing.change_printdestination")
def printer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    printer = get_object_or_404(PrintDestination, pk=pk)
    return setup_pages.edit_form(
        request,
        instance=printer,
        form_class=PrintDestinationForm,
        template="frontend/printer_form.html",
        nav="prints",
        saved=f"{printer.name} saved.",
        list_url="printer-list",
    )


@require_POST
@permission("printing.change_printdestination")
def printer_test(request: HttpRequest, pk: int) -> HttpResponse:
    printer = get_object_or_404(PrintDestination, pk=pk)
    check = jobs.print_destination_test(destination=printer)
    (messages.success if check.ok else messages.error)(request, check.message)
    return redirect("printer-list")


# The viewer's Print dialog --------------------------------------------------------------------


def viewer_print_config(request: HttpRequest, study) -> dict | None:
    """What the viewer's Print dialog needs, or None when the user may not print."""
    if not request.user.has_perm("printing.add_printjob"):
        return None
    return {
        "jobs": reverse("api-print-jobs"),
        "destinations": reverse("api-print-destinations"),
        "prints_page": reverse("prints"),
        "study": study.pk,
        "layouts": [{"value": value, "label": label} for value, label in LAYOUT_CHOICES],
    }
