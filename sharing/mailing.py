"""Emails of share links (to the consultant) and of consult replies (to the sharing vet)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMessage

from sharing.models import ConsultReply, Share

logger = logging.getLogger(__name__)


def share_link_email(*, share: Share, url: str, message: str = "") -> bool:
    """Email the link to the share's address; the passcode never goes with it."""
    clinic = settings.PORTAL_CLINIC_NAME
    lines = [
        f"{clinic} has shared imaging with you for a consultation.",
        "",
        f"Open: {url}",
        f"The link works until {share.expires_at:%d %b %Y %H:%M} UTC.",
    ]
    if share.has_passcode:
        lines.append("You also need the passcode, which the clinic gives you separately.")
    if share.question:
        lines += ["", "Clinical question:", share.question]
    if message:
        lines += ["", message]
    email = EmailMessage(
        subject=f"Imaging shared with you by {clinic}",
        body="\n".join(lines),
        to=[share.email],
        reply_to=[settings.PORTAL_CLINIC_EMAIL] if settings.PORTAL_CLINIC_EMAIL else None,
    )
    try:
        email.send()
    except Exception as exc:  # the share stands; the vet can still copy the link
        logger.warning("share %s: emailing the link failed: %s", share.pk, type(exc).__name__)
        return False
    logger.info("share %s: link emailed", share.pk)
    return True


def consult_reply_email(*, reply: ConsultReply) -> bool:
    share = reply.share
    vet = share.created_by
    address = getattr(vet, "email", "") or settings.PORTAL_CLINIC_EMAIL
    if not address:
        return False
    body = "\n".join(
        [
            f"{share.email} replied to the consultation on {reply.study}.",
            "",
            "Findings:",
            reply.findings,
            "",
            "Impression:",
            reply.impression or "—",
            "",
            f"Open the study: {settings.SHARE_LINK_BASE_URL}{reply.study.get_absolute_url()}",
        ]
    )
    try:
        EmailMessage(subject=f"Consult reply: {reply.study}", body=body, to=[address]).send()
    except Exception as exc:
        logger.warning("consult reply %s: email failed: %s", reply.pk, type(exc).__name__)
        return False
    return True
