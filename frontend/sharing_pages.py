"""Staff pages for sharing a study with a specialist: the panel's create, revoke and push,
the consultants directory, and consult reply attachments."""

from __future__ import annotations

import secrets

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from imaging.models import Study
from imaging.send import SendError
from sharing import consultants, push, shares
from sharing.mailing import share_link_email
from sharing.models import Consultant, ConsultAttachment, Share
from sharing.security import protected_headers

from .views import permission


class ShareForm(forms.Form):
    consultant = forms.ModelChoiceField(
        queryset=Consultant.objects.filter(active=True), required=False
    )
    email = forms.EmailField(required=False)
    series = forms.MultipleChoiceField(required=False)
    include_report = forms.BooleanField(required=False)
    include_annotations = forms.BooleanField(required=False)
    question = forms.CharField(required=False, max_length=4000)
    expires_days = forms.IntegerField(min_value=1, required=False)
    passcode = forms.CharField(required=False, max_length=64)
    generate_passcode = forms.BooleanField(required=False)
    view_only = forms.BooleanField(required=False)
    anonymize = forms.BooleanField(required=False)

    def __init__(self, *args, study: Study, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["series"].choices = [
            (s.series_instance_uid, str(s)) for s in study.series.all()
        ]
        self.fields["expires_days"].max_value = settings.SHARE_MAX_EXPIRY_DAYS


class ConsultantForm(forms.ModelForm):
    class Meta:
        model = Consultant
        fields = ["name", "practice", "specialty", "email", "phone", "destination", "active"]


@require_POST
@permission("sharing.add_share")
def study_share_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Create the share, email the link and show the link and passcode once."""
    study = get_object_or_404(Study.objects.select_related("patient"), pk=pk)
    form = ShareForm(request.POST, study=study)
    if not form.is_valid():
        messages.error(request, "Share not created: " + "; ".join(
            f"{k}: {' '.join(v)}" for k, v in form.errors.items()))  # fmt: skip
        return redirect(study.get_absolute_url() + "#sharing")
    data = form.cleaned_data
    passcode = data["passcode"] or (secrets.token_hex(4) if data["generate_passcode"] else "")
    try:
        created = shares.share_create(
            study=study,
            consultant=data["consultant"],
            email=data["email"],
            series_uids=data["series"],
            include_report=data["include_report"],
            include_annotations=data["include_annotations"],
            question=data["question"],
            expires_days=data["expires_days"],
            passcode=passcode,
            allow_download=not data["view_only"],
            anonymize=data["anonymize"],
            user=request.user,
        )
    except shares.ShareError as exc:
        messages.error(request, f"Share not created: {exc}")
        return redirect(study.get_absolute_url() + "#sharing")
    url = created.url(request.build_absolute_uri("/"))
    emailed = share_link_email(share=created.share, url=url)
    context = {"study": study, "share": created.share, "url": url, "passcode": passcode,
               "emailed": emailed}  # fmt: skip
    # The link and passcode are on this page only: never cached, never sent on as a referrer.
    return protected_headers(render(request, "frontend/share_created.html", context))


@require_POST
@permission("sharing.change_share")
def share_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    share = get_object_or_404(Share, pk=pk)
    shares.share_revoke(share=share, user=request.user)
    messages.success(request, f"The share with {share.email} is revoked.")
    return redirect(share.study.get_absolute_url() + "#sharing")


@require_POST
@permission("sharing.change_share")
def share_push(request: HttpRequest, pk: int) -> HttpResponse:
    share = get_object_or_404(Share.objects.select_related("consultant__destination"), pk=pk)
    if not request.user.has_perm("imaging.add_sendjob"):
        return redirect(share.study.get_absolute_url() + "#sharing")
    try:
        push.share_push(share=share, user=request.user)
    except (shares.ShareError, SendError) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Sending to {share.consultant.destination.name}.")
    return redirect(share.study.get_absolute_url() + "#sends")


@permission("sharing.view_consultreply")
def consult_attachment(request: HttpRequest, pk: int) -> HttpResponse:
    attachment = get_object_or_404(ConsultAttachment, pk=pk)
    return FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.name)


@require_http_methods(["GET", "POST"])
@permission("sharing.view_consultant")
def consultant_list(request: HttpRequest) -> HttpResponse:
    form = ConsultantForm()
    if request.method == "POST":
        if not request.user.has_perm("sharing.add_consultant"):
            return redirect("consultant-list")
        form = ConsultantForm(request.POST)
        if form.is_valid():
            consultants.consultant_create(**form.cleaned_data)
            messages.success(request, "Consultant added.")
            return redirect("consultant-list")
    context = {"consultants": Consultant.objects.select_related("destination"), "form": form,
               "nav": "arrivals"}  # fmt: skip
    return render(request, "frontend/share_consultants.html", context)


@require_http_methods(["GET", "POST"])
@permission("sharing.change_consultant")
def consultant_edit(request: HttpRequest, pk: int) -> HttpResponse:
    consultant = get_object_or_404(Consultant, pk=pk)
    form = ConsultantForm(request.POST or None, instance=consultant)
    if request.method == "POST" and form.is_valid():
        consultants.consultant_update(consultant=consultant, **form.cleaned_data)
        messages.success(request, "Consultant saved.")
        return redirect("consultant-list")
    return render(
        request, "frontend/share_consultants.html",
        {"consultants": Consultant.objects.all(), "form": form, "editing": consultant},
    )  # fmt: skip


def study_share_context(request: HttpRequest, study: Study) -> dict:
    """The study page's sharing panel."""
    user = request.user
    share_list = (
        Share.objects.filter(study=study)
        .select_related("consultant__destination")
        .prefetch_related("accesses")
    )
    return {
        "study": study,
        "shares": share_list,
        "replies": study.consult_replies.select_related("share").prefetch_related("attachments"),
        "can_share": user.has_perm("sharing.add_share"),
        "can_revoke": user.has_perm("sharing.change_share"),
        "can_push": user.has_perm("imaging.add_sendjob"),
        "share_form": ShareForm(study=study),
        "default_days": settings.SHARE_DEFAULT_EXPIRY_DAYS,
        "max_days": settings.SHARE_MAX_EXPIRY_DAYS,
    }
