"""Creating, opening and revoking share links; passcodes with a lockout.

A link carries a 256-bit token from `secrets`; the database keeps only its SHA-256, so a copy
of the database opens nothing. The token itself is never written to a log.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from imaging.models import Study, StudyEvent
from sharing.access import access_record
from sharing.models import AccessAction, Consultant, Share

logger = logging.getLogger(__name__)

TOKEN_BYTES = 32  # 256 bits


class ShareError(ValueError):
    """A share cannot be created as asked; `str(e)` says why."""


@dataclass(frozen=True)
class Created:
    """A new share with its link: the token exists only here, never in the database."""

    share: Share
    token: str

    @property
    def path(self) -> str:
        return reverse("sharing:open", args=[self.token])

    def url(self, base: str | None = None) -> str:
        return (base or settings.SHARE_LINK_BASE_URL).rstrip("/") + self.path


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def share_create(
    *,
    study: Study,
    email: str = "",
    consultant: Consultant | None = None,
    series_uids: list[str] | None = None,
    include_report: bool = False,
    include_annotations: bool = False,
    question: str = "",
    expires_days: int | None = None,
    passcode: str = "",
    allow_download: bool = True,
    anonymize: bool = False,
    user=None,
) -> Created:
    """A new share of the study; its token is returned once and stored only as a hash."""
    email = (email or (consultant.email if consultant else "")).strip()
    if not email:
        raise ShareError("Choose a consultant or type an email address.")
    days = settings.SHARE_DEFAULT_EXPIRY_DAYS if expires_days is None else expires_days
    if not 1 <= days <= settings.SHARE_MAX_EXPIRY_DAYS:
        raise ShareError(
            f"A share expires after 1 to {settings.SHARE_MAX_EXPIRY_DAYS} days, not {days}."
        )
    wanted = sorted(set(series_uids or []))
    if wanted:
        known = set(
            study.series.filter(series_instance_uid__in=wanted).values_list(
                "series_instance_uid", flat=True
            )
        )
        if unknown := set(wanted) - known:
            raise ShareError(f"Not series of this study: {', '.join(sorted(unknown))}.")
    if passcode and len(passcode) < 4:
        raise ShareError("A passcode has at least 4 characters.")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction.atomic():
        share = Share.objects.create(
            study=study,
            consultant=consultant,
            email=email,
            token_hash=token_hash(token),
            salt=secrets.token_hex(32),
            series_uids=wanted,
            include_report=include_report,
            include_annotations=include_annotations,
            question=question.strip(),
            expires_at=timezone.now() + timedelta(days=days),
            passcode_hash=make_password(passcode) if passcode else "",
            allow_download=allow_download,
            anonymize=anonymize,
            created_by=user,
        )
        scope = f"{len(wanted)} series" if wanted else "the whole study"
        StudyEvent.objects.create(
            study=study,
            kind="share",
            message=f"Shared {scope} with {email} until {share.expires_at:%Y-%m-%d}"
            + (" (anonymized)" if anonymize else "")
            + ".",
            user=user if getattr(user, "pk", None) else None,
        )
    logger.info("share %s of study %s created for %s", share.pk, study.pk, email)
    return Created(share=share, token=token)


def share_revoke(*, share: Share, user=None) -> Share:
    """Close the link; the next request through it is refused."""
    if share.revoked_at:
        return share
    with transaction.atomic():
        Share.objects.filter(pk=share.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=user if getattr(user, "pk", None) else None
        )
        share.refresh_from_db()
        StudyEvent.objects.create(
            study=share.study,
            kind="share",
            message=f"Share with {share.email} revoked.",
            user=user if getattr(user, "pk", None) else None,
        )
    logger.info("share %s revoked", share.pk)
    return share


def share_by_token(token: str) -> Share | None:
    """The share this token opens, if any (open or not: the caller decides what to show)."""
    if not token or len(token) > 200:
        return None
    digest = token_hash(token)
    share = Share.objects.select_related("study").filter(token_hash=digest).first()
    # The lookup is by hash, so its timing says nothing about the token; compare anyway.
    if share is None or not hmac.compare_digest(share.token_hash, digest):
        return None
    return share


class PasscodeResult:
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"


def passcode_check(*, share: Share, passcode: str, ip: str | None, user_agent: str) -> str:
    """Check a passcode; too many wrong ones lock the share for a while (and say so in the log)."""
    now = timezone.now()
    with transaction.atomic():
        share = Share.objects.select_for_update().get(pk=share.pk)
        if share.locked_until and share.locked_until > now:
            access_record(
                share=share, action=AccessAction.LOCKED, ip=ip, user_agent=user_agent,
                detail="passcode tried while locked",
            )  # fmt: skip
            logger.warning("share %s: passcode tried while locked", share.pk)
            return PasscodeResult.LOCKED
        if check_password(passcode, share.passcode_hash):
            Share.objects.filter(pk=share.pk).update(failed_attempts=0, locked_until=None)
            return PasscodeResult.OK
        attempts = share.failed_attempts + 1
        locked_until = None
        if attempts >= settings.SHARE_PASSCODE_ATTEMPTS:
            locked_until = now + timedelta(minutes=settings.SHARE_PASSCODE_LOCKOUT_MINUTES)
            attempts = 0
        Share.objects.filter(pk=share.pk).update(
            failed_attempts=attempts, locked_until=locked_until
        )
        access_record(
            share=share, action=AccessAction.PASSCODE_FAILED, ip=ip, user_agent=user_agent
        )
        if locked_until:
            access_record(
                share=share, action=AccessAction.LOCKED, ip=ip, user_agent=user_agent,
                detail=f"until {locked_until:%Y-%m-%d %H:%M} UTC",
            )  # fmt: skip
            logger.warning(
                "share %s locked until %s after %s wrong passcodes (last from %s)",
                share.pk, locked_until.isoformat(), settings.SHARE_PASSCODE_ATTEMPTS, ip,
            )  # fmt: skip
            return PasscodeResult.LOCKED
        logger.info("share %s: wrong passcode from %s", share.pk, ip)
        return PasscodeResult.WRONG
