"""Emailing the signed report's PDF to the referring vet: captured by Django's locmem backend,
recorded in the history; a failure says what to fix."""

import socket

import pytest
from django.core import mail

from reports import reports as service
from reports.mailing import referring_email, report_email
from reports.models import Report, ReportEventKind
from tests.reports.conftest import ingest_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed(study, vet) -> Report:
    report = service.report_start(study=study, user=vet)
    service.report_sign(report=report, user=vet, impression="Normal thorax.")
    report.refresh_from_db()
    return report


def test_the_pdf_is_emailed_and_the_send_recorded(signed, tech, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "imaging@riverside.example"
    report_email(
        report=signed, to="dr.jones@referrals.example", user=tech, message="Dear Dr Jones,"
    )
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["dr.jones@referrals.example"]
    assert email.from_email == "imaging@riverside.example"
    assert "Rex" in email.subject
    assert email.body.startswith("Dear Dr Jones,")
    (name, content, mimetype) = email.attachments[0]
    assert mimetype == "application/pdf" and name.endswith(".pdf")
    assert content.startswith(b"%PDF")
    event = signed.events.get(kind=ReportEventKind.EMAILED)
    assert "dr.jones@referrals.example" in event.message and event.user == tech
    signed.refresh_from_db()
    assert signed.email_to == "dr.jones@referrals.example"


def test_drafts_and_bad_addresses_are_not_sent(study, vet, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    draft = service.report_start(study=study, user=vet)
    with pytest.raises(service.ReportError, match="Sign the report"):
        report_email(report=draft, to="dr.jones@referrals.example", user=vet)
    service.report_sign(report=draft, user=vet, impression="Fine.")
    with pytest.raises(service.ReportError, match="not an email address"):
        report_email(report=draft, to="dr jones", user=vet)
    assert mail.outbox == []


def test_an_unreachable_mail_server_says_what_to_fix(signed, vet, settings):
    # A port with nothing listening: bind one, then close it.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
    with pytest.raises(service.ReportError) as failure:
        report_email(report=signed, to="dr.jones@referrals.example", user=vet)
    message = str(failure.value)
    assert f"127.0.0.1:{port}" in message and "EMAIL_HOST" in message and "EMAIL_PORT" in message
    event = signed.events.get(kind=ReportEventKind.EMAIL_FAILED)
    assert "check EMAIL_HOST and EMAIL_PORT" in event.message
    assert not signed.events.filter(kind=ReportEventKind.EMAILED).exists()


def test_the_address_is_prefilled_from_what_the_portal_knows(signed, vet, rex, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert referring_email(signed) == ""
    report_email(report=signed, to="anna.vet@referrals.example", user=vet)
    signed.refresh_from_db()
    assert referring_email(signed) == "anna.vet@referrals.example"
    # The next study referred by the same vet ("Vet^Anna") gets the same address.
    later = service.report_start(study=ingest_study(), user=vet)
    assert referring_email(later) == "anna.vet@referrals.example"
