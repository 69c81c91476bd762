"""Pages for sending studies on: the send panel of a study, the sends page with live progress,
and (administrators) destinations with "Test connection" and auto-routing rules."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_POST

from imaging import destinations, receipts, routing, send
from imaging.models import Destination, RoutingRule, SendJob, Study

from . import setup_pages
from .views import _fragment, permission

SENDS_LIMIT = 100  # rows on the sends page


class SendForm(forms.Form):
    destination = forms.ModelChoiceField(queryset=Destination.objects.filter(active=True))
    series = forms.MultipleChoiceField(required=False)
    everything = forms.BooleanField(required=False, label="Also what it already confirmed")

    def __init__(self, *args, study: Study, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["series"].choices = [
            (s.series_instance_uid, str(s)) for s in study.series.all()
        ]


class DestinationForm(forms.ModelForm):
    class Meta:
        model = Destination
        fields = [
            *Destination.ADDRESS_FIELDS, "kind", "max_associations", "storage_commitment",
            "query_retrieve", "preferred_transfer_syntax", *Destination.TLS_FIELDS, "active",
        ]  # fmt: skip

    def _post_clean(self) -> None:
        super()._post_clean()  # copies the fields onto the instance and runs full_clean()
        try:
            destinations.destination_validate(self.instance)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                if field in self.fields and field not in self.errors:
                    self.add_error(field, errors)


def _job_rows(jobs) -> list[tuple[SendJob, dict]]:
    return [(job, receipts.send_job_progress(job)) for job in jobs]


def _all_final(rows) -> bool:
    return all(progress["finished"] for _, progress in rows)


def study_send_context(request: HttpRequest, study: Study) -> dict:
    """The study page's send panel: the form and this study's sends with their progress."""
    jobs = study.send_jobs.select_related("destination")[:10]
    rows = _job_rows(jobs)
    return {
        "study": study,
        "send_rows": rows,
        "send_form": SendForm(study=study),
        "can_send": request.user.has_perm("imaging.add_sendjob"),
        "send_final": _all_final(rows),
    }


@require_GET
@permission("imaging.view_sendjob")
def study_sends_live(request: HttpRequest, pk: int) -> HttpResponse:
    study = get_object_or_404(Study, pk=pk)
    context = study_send_context(request, study)
    html = render_to_string("frontend/sends_rows.html", context, request=request)
    return _fragment(html, final=context["send_final"])


@require_POST
@permission("imaging.add_sendjob")
def study_send(request: HttpRequest, pk: int) -> HttpResponse:
    study = get_object_or_404(Study, pk=pk)
    form = SendForm(request.POST, study=study)
    if not form.is_valid():
        messages.error(request, "Choose a destination to send to.")
        return redirect(study)
    try:
        job = send.send_job_create(
            study=study,
            destination=form.cleaned_data["destination"],
            series_uids=form.cleaned_data["series"] or None,
            everything=form.cleaned_data["everything"],
            user=request.user,
        )
    except send.SendError as exc:
        messages.error(request, str(exc))
        return redirect(study)
    messages.success(request, f"Sending {job.instances_total} instances to {job.destination.name}.")
    return redirect(f"{study.get_absolute_url()}#sends")


def _sends_context() -> dict:
    jobs = SendJob.objects.select_related("destination", "study__patient")[:SENDS_LIMIT]
    rows = _job_rows(jobs)
    # The sends page keeps polling: new sends appear on it as they are queued.
    return {"send_rows": rows, "send_final": False, "show_study": True}


@require_GET
@permission("imaging.view_sendjob")
def sends(request: HttpRequest) -> HttpResponse:
    context = _sends_context()
    html = render_to_string("frontend/sends_rows.html", context, request=request)
    context.update(nav="sends", rows_html=html)
    return render(request, "frontend/sends.html", context)


@require_GET
@permission("imaging.view_sendjob")
def sends_rows(request: HttpRequest) -> HttpResponse:
    context = _sends_context()
    html = render_to_string("frontend/sends_rows.html", context, request=request)
    return _fragment(html)


@require_POST
@permission("imaging.change_sendjob")
def send_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(SendJob, pk=pk)
    if send.send_job_cancel(job_id=job.pk, user=request.user):
        messages.success(request, "Send cancelled.")
    return redirect(request.POST.get("next") or "sends")


@require_POST
@permission("imaging.change_sendjob")
def send_resume(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(SendJob, pk=pk)
    try:
        send.send_job_resume(job_id=job.pk, user=request.user)
    except send.SendError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Sending what {job.destination.name} has not confirmed.")
    next_url = request.POST.get("next", "")
    return redirect(next_url if next_url.startswith("/") else "sends")


# Destinations (administrators) ------------------------------------------------------------


@permission("imaging.view_destination")
def destination_list(request: HttpRequest) -> HttpResponse:
    return setup_pages.list_with_add_form(
        request,
        form_class=DestinationForm,
        add_permission="imaging.add_destination",
        rows_name="destinations",
        rows=Destination.objects.all(),
        template="frontend/destinations.html",
        nav="destinations",
        added=lambda destination: f"{destination.name} added. Test the connection next.",
        list_url="destination-list",
    )


@permission("imaging.change_destination")
def destination_edit(request: HttpRequest, pk: int) -> HttpResponse:
    destination = get_object_or_404(Destination, pk=pk)
    return setup_pages.edit_form(
        request,
        instance=destination,
        form_class=DestinationForm,
        template="frontend/destination_form.html",
        nav="destinations",
        saved=f"{destination.name} saved.",
        list_url="destination-list",
    )


@require_POST
@permission("imaging.change_destination")
def destination_test(request: HttpRequest, pk: int) -> HttpResponse:
    destination = get_object_or_404(Destination, pk=pk)
    check = destinations.destination_test_connection(destination=destination)
    (messages.success if check.ok else messages.error)(request, check.message)
    return redirect("destination-list")


# Auto-routing rules (administrators) ------------------------------------------------------


class RoutingRuleForm(forms.ModelForm):
    destinations = forms.ModelMultipleChoiceField(
        queryset=Destination.objects.all(), widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = RoutingRule
        fields = [
            "name", "destinations", "device", "modality", "procedure", "body_part",
            "quiet_seconds", "active",
        ]  # fmt: skip
        labels = {"quiet_seconds": "Quiet period (seconds)", "device": "Sending device"}

    def _post_clean(self) -> None:
        super()._post_clean()
        try:
            routing.rule_validate(
                self.instance, destinations=list(self.cleaned_data.get("destinations") or [])
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                if field in self.fields and field not in self.errors:
                    self.add_error(field, errors)


@permission("imaging.view_routingrule")
def routing_rule_list(request: HttpRequest) -> HttpResponse:
    return setup_pages.list_with_add_form(
        request,
        form_class=RoutingRuleForm,
        add_permission="imaging.add_routingrule",
        rows_name="rules",
        rows=RoutingRule.objects.prefetch_related("destinations").select_related("device"),
        template="frontend/routing_rules.html",
        nav="destinations",
        added=lambda rule: f"Rule {rule.name} added.",
        list_url="routing-rule-list",
    )


@permission("imaging.change_routingrule")
def routing_rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(RoutingRule, pk=pk)
    return setup_pages.edit_form(
        request,
        instance=rule,
        form_class=RoutingRuleForm,
        template="frontend/routing_rule_form.html",
        nav="destinations",
        saved=f"Rule {rule.name} saved.",
        list_url="routing-rule-list",
    )


@require_POST
@permission("imaging.delete_routingrule")
def routing_rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = get_object_or_404(RoutingRule, pk=pk)
    rule.delete()
    messages.success(request, f"Rule {rule.name} deleted.")
    return redirect("routing-rule-list")
