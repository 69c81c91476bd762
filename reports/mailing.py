"""Emailing the report's PDF to the referring vet, with the send recorded in its history."""

import re
import smtplib
import socket

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db.models import Q

from reports.facts import report_facts
from reports.models import Report, ReportEvent, ReportEventKind
from reports.pdf import report_pdf
from reports.reports import ReportError, person_label

_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def referring_email(report: Report) -> str:
    """The address the portal knows for the report's referring vet: the last one used for this
    report, else for another report of the same referring vet, else one written in the name."""
    if report.email_to:
        return report.email_to
    referring = report_facts(report.study).referring_vet.strip()
    if not referring:
        return ""
    found = _ADDRESS.search(referring)
    if found:
        return found.group(0)
    earlier = (
        Report.objects.exclude(pk=report.pk)
        .exclude(email_to="")
        .filter(
            Q(study__order__referring_vet__iexact=referring)
            | Q(study__referring_physician__iexact=referring)
            | Q(study__referring_physician__iexact=report.study.referring_physician or referring)
        )
        .order_by("-updated_at")
        .values_list("email_to", flat=True)
        .first()
    )
    return earlier or ""


def pdf_filename(report: Report) -> str:
    facts = report_facts(report.study)
    name = re.sub(r"[^A-Za-z0-9]+", "-", f"{facts.patient_name} {facts.study_date}").strip("-")
    return f"report-{name or report.study_id}.pdf"


def report_email(*, report: Report, to: str, user, message: str = "") -> None:
    """Send the report's PDF to `to`; raises ReportError saying what to fix when it fails."""
    to = to.strip()
    try:
        validate_email(to)
    except ValidationError:
        raise ReportError(f"“{to}” is not an email address.") from None
    if not report.locked:
        raise ReportError("Sign the report before emailing it: drafts are not sent out.")
    facts = report_facts(report.study)
    subject = f"Imaging report: {facts.patient_name} ({facts.owner}), {facts.study_date}"
    body = (message.strip() + "\n\n" if message.strip() else "") + (
        f"Please find attached the imaging report for {facts.patient_name}"
        f"{' (' + facts.species + ')' if facts.species else ''}, {facts.procedure or 'study'} "
        f"of {facts.study_date}.\n\n{person_label(user)}\n{settings.PORTAL_CLINIC_NAME}\n"
        + "\n".join(v for v in (settings.PORTAL_CLINIC_PHONE, settings.PORTAL_CLINIC_EMAIL) if v)
    )
    email = EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        reply_to=[settings.PORTAL_CLINIC_EMAIL] if settings.PORTAL_CLINIC_EMAIL else None,
    )
    email.attach(pdf_filename(report), report_pdf(report), "application/pdf")
    try:
        email.send(fail_silently=False)
    except Exception as exc:
        reason = _failure_reason(exc)
        ReportEvent.objects.create(
            report=report,
            kind=ReportEventKind.EMAIL_FAILED,
            message=f"Email to {to} failed: {reason}",
            user=user,
        )
        raise ReportError(f"The email to {to} was not sent: {reason}") from exc
    Report.objects.filter(pk=report.pk).update(email_to=to)
    report.email_to = to
    ReportEvent.objects.create(
        report=report, kind=ReportEventKind.EMAILED, message=f"PDF emailed to {to}.", user=user
    )


def _failure_reason(exc: Exception) -> str:
    """What went wrong, and which setting to look at."""
    server = f"{settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return (
            f"the mail server {server} refused the login; "
            "check EMAIL_HOST_USER and EMAIL_HOST_PASSWORD."
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "the mail server refused the recipient's address; check it."
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return f"the mail server refused the sender {settings.DEFAULT_FROM_EMAIL}; check DEFAULT_FROM_EMAIL."
    if isinstance(exc, ConnectionRefusedError):
        return f"nothing answers at {server}; check EMAIL_HOST and EMAIL_PORT."
    if isinstance(exc, socket.gaierror):
        return f"the mail server name {settings.EMAIL_HOST!r} is unknown; check EMAIL_HOST."
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"the mail server {server} did not answer in time; check EMAIL_HOST, EMAIL_PORT and the firewall."
    if isinstance(exc, smtplib.SMTPException | OSError):
        return f"{exc} (mail server {server}; check the EMAIL_* settings)."
    return f"{exc}; check the EMAIL_* settings."
