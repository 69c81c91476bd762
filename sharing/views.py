"""The specialist's pages under /share/: no account, the link (and passcode) is the credential.

Nothing of the study is shown unless the session is bound to an open share. Refusals are
answered without Django's request log (its 4xx lines would carry the link's token); the
portal's own log names the share by its number only.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from imaging.dicomweb.errors import error_response
from sharing import replies
from sharing.access import access_record_request, request_agent, request_ip
from sharing.dicomweb import share_dicomweb
from sharing.export import report_pdf_of, share_anonymizer, share_zip, zip_name
from sharing.models import AccessAction, Share
from sharing.scope import share_series
from sharing.security import (
    SESSION_PENDING,
    protected_headers,
    session_grant,
    session_share,
    share_csrf,
    share_headers,
)
from sharing.shares import PasscodeResult, passcode_check, share_by_token
from sharing.summary import patient_summary

logger = logging.getLogger(__name__)


def _refused(request: HttpRequest, status: int = 404, *, reason: str = "") -> HttpResponse:
    response = render(request, "sharing/unavailable.html", {"reason": reason}, status=status)
    response._has_been_logged = True  # keep the URL (with its token) out of django.request
    return response


@share_headers
def share_open(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link: check the token, then ask for the passcode or open the study."""
    share = share_by_token(token)
    if share is None:
        logger.info("share link with an unknown token refused")
        return _refused(request)
    if not share.is_open():
        access_record_request(share=share, request=request, action=AccessAction.REFUSED,
                              detail=share.state_label())  # fmt: skip
        logger.info("share %s refused: %s", share.pk, share.state())
        return _refused(request, 410, reason=share.state())
    if share.has_passcode:
        request.session[SESSION_PENDING] = share.pk
        return redirect("sharing:passcode", pk=share.pk)
    session_grant(request, share)
    access_record_request(share=share, request=request, action=AccessAction.OPENED)
    return redirect("sharing:study", pk=share.pk)


@share_headers
@share_csrf
@require_http_methods(["GET", "POST"])
def share_passcode(request: HttpRequest, pk: int) -> HttpResponse:
    if request.session.get(SESSION_PENDING) != pk:
        return _refused(request, 403)
    share = Share.objects.filter(pk=pk).first()
    if share is None or not share.is_open():
        return _refused(request, 410)
    context = {"clinic_name": settings.PORTAL_CLINIC_NAME, "share_pk": pk}
    if request.method == "POST":
        result = passcode_check(
            share=share,
            passcode=request.POST.get("passcode", "")[:200],
            ip=request_ip(request),
            user_agent=request_agent(request),
        )
        if result == PasscodeResult.OK:
            session_grant(request, share)
            access_record_request(share=share, request=request, action=AccessAction.OPENED)
            return redirect("sharing:study", pk=share.pk)
        context["error"] = (
            "Too many wrong passcodes: this link is locked for a while. Ask the clinic."
            if result == PasscodeResult.LOCKED
            else "That passcode is not right."
        )
        status = 429 if result == PasscodeResult.LOCKED else 403
        response = render(request, "sharing/passcode.html", context, status=status)
        response._has_been_logged = True
        return response
    return render(request, "sharing/passcode.html", context)


def _granted(request: HttpRequest, pk: int) -> Share:
    share = session_share(request, pk)
    if share is None:
        raise Http404
    return share


@share_headers
def share_study(request: HttpRequest, pk: int) -> HttpResponse:
    share = session_share(request, pk)
    if share is None:
        return _refused(request)
    return render(request, "sharing/study.html", _study_context(request, share))


def _study_context(request: HttpRequest, share: Share, **extra) -> dict:
    anonymizer = share_anonymizer(share)
    base = reverse("sharing:dicomweb", args=[share.pk, ""])
    study_uid = share.study.study_instance_uid
    shown_study = anonymizer.uid(study_uid) if anonymizer else study_uid
    series = []
    for row in share_series(share).order_by("series_number", "pk"):
        uid = anonymizer.uid(row.series_instance_uid) if anonymizer else row.series_instance_uid
        series.append(
            {
                "label": f"Series {row.series_number}" if row.series_number is not None else "",
                "description": row.description,
                "modality": row.modality,
                "view": row.view_position,
                "instances": row.instance_count,
                "thumbnail": f"{base}studies/{shown_study}/series/{uid}/thumbnail",
            }
        )
    return {
        "clinic_name": settings.PORTAL_CLINIC_NAME,
        "share": share,
        "summary": patient_summary(share),
        "series": series,
        "report_available": report_pdf_of_available(share),
        "replies": share.replies.prefetch_related("attachments"),
        "dicomweb_root": base.rstrip("/"),
        **extra,
    }


def report_pdf_of_available(share: Share) -> bool:
    from reports.reports import report_of

    if not share.include_report:
        return False
    report = report_of(share.study)
    return bool(report and report.locked)


@share_headers
def share_download(request: HttpRequest, pk: int) -> HttpResponse:
    share = session_share(request, pk)
    if share is None or not share.allow_download:
        return _refused(request)
    access_record_request(share=share, request=request, action=AccessAction.DOWNLOADED)
    response = StreamingHttpResponse(share_zip(share), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{zip_name(share)}"'
    return response


@share_headers
def share_report(request: HttpRequest, pk: int) -> HttpResponse:
    share = session_share(request, pk)
    pdf = report_pdf_of(share) if share is not None else None
    if pdf is None:
        return _refused(request)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = 'inline; filename="report.pdf"'
    return response


@share_headers
@share_csrf
@require_POST
def share_reply(request: HttpRequest, pk: int) -> HttpResponse:
    share = session_share(request, pk)
    if share is None:
        return _refused(request)
    try:
        replies.consult_reply_create(
            share=share,
            findings=request.POST.get("findings", ""),
            impression=request.POST.get("impression", ""),
            author=request.POST.get("author", ""),
            attachments=request.FILES.getlist("attachments"),
            ip=request_ip(request),
            user_agent=request_agent(request),
        )
    except replies.ReplyError as exc:
        context = _study_context(request, share, reply_error=str(exc), reply_form=request.POST)
        return render(request, "sharing/study.html", context, status=400)
    return redirect(reverse("sharing:study", args=[share.pk]) + "?replied=1#reply")


def share_dicomweb_view(request: HttpRequest, pk: str, rest: str) -> HttpResponse:
    share = session_share(request, int(pk))
    if share is None:
        response = error_response("This share is not open in this browser.", 401)
    else:
        response = share_dicomweb(request, share, rest)
    response._has_been_logged = True
    return protected_headers(response)
