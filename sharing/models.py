"""Consultants, share links for them, what each link was used for, and their consult replies."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from imaging.models import Destination, Study


class Consultant(models.Model):
    """An outside specialist the clinic shares studies with."""

    name = models.CharField(max_length=200)
    practice = models.CharField(max_length=200, blank=True)
    specialty = models.CharField(max_length=100, blank=True)
    email = models.EmailField()
    phone = models.CharField(max_length=40, blank=True)
    destination = models.ForeignKey(
        Destination,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="consultants",
        help_text="Where studies for this consultant are pushed over DICOM, if anywhere.",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.practice})" if self.practice else self.name


class ShareState(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"
    LOCKED = "locked", "Locked (passcode attempts)"


class Share(models.Model):
    """A link that lets one outside specialist see one study (or some of its series).

    Only the SHA-256 of the link's token is kept; the passcode, if any, is kept as a Django
    password hash. `salt` is the share's secret for its anonymized UIDs and date shift.
    """

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="shares")
    consultant = models.ForeignKey(
        Consultant, null=True, blank=True, on_delete=models.SET_NULL, related_name="shares"
    )
    email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True)
    salt = models.CharField(max_length=64)
    series_uids = models.JSONField(default=list, blank=True, help_text="Empty: the whole study.")
    include_report = models.BooleanField(default=False)
    include_annotations = models.BooleanField(default=False)
    question = models.TextField("clinical question", blank=True)
    expires_at = models.DateTimeField()
    passcode_hash = models.CharField(max_length=128, blank=True)
    allow_download = models.BooleanField(default=True)
    anonymize = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    failed_attempts = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Share {self.pk} of {self.study} with {self.email}"

    @property
    def has_passcode(self) -> bool:
        return bool(self.passcode_hash)

    def state(self, now=None) -> str:
        now = now or timezone.now()
        if self.revoked_at:
            return ShareState.REVOKED
        if self.expires_at <= now:
            return ShareState.EXPIRED
        if self.locked_until and self.locked_until > now:
            return ShareState.LOCKED
        return ShareState.ACTIVE

    def is_open(self, now=None) -> bool:
        """Neither revoked nor expired (a passcode lockout only stops new passcode tries)."""
        return self.state(now) in (ShareState.ACTIVE, ShareState.LOCKED)

    def state_label(self) -> str:
        return ShareState(self.state()).label


class AccessAction(models.TextChoices):
    OPENED = "opened", "Opened"
    PASSCODE_FAILED = "passcode_failed", "Wrong passcode"
    LOCKED = "locked", "Locked after wrong passcodes"
    REFUSED = "refused", "Refused (expired or revoked)"
    VIEWED_SERIES = "viewed_series", "Viewed series"
    DOWNLOADED = "downloaded", "Downloaded"
    REPLIED = "replied", "Replied"
    MEASURED = "measured", "Measured"


class ShareAccess(models.Model):
    """One use of a share link, for the clinic's access log."""

    share = models.ForeignKey(Share, on_delete=models.CASCADE, related_name="accesses")
    at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    action = models.CharField(max_length=20, choices=AccessAction.choices)
    detail = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name_plural = "share accesses"

    def __str__(self) -> str:
        return f"{self.get_action_display()} at {self.at:%Y-%m-%d %H:%M}"


class ConsultReply(models.Model):
    """A specialist's consult report, sent back through a share link."""

    share = models.ForeignKey(Share, on_delete=models.CASCADE, related_name="replies")
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="consult_replies")
    author = models.CharField(max_length=200, blank=True)
    findings = models.TextField()
    impression = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "consult replies"

    def __str__(self) -> str:
        return f"Consult reply on {self.study} ({self.created_at:%Y-%m-%d})"


class ConsultAttachment(models.Model):
    reply = models.ForeignKey(ConsultReply, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to="consults/%Y/%m/")
    name = models.CharField(max_length=200)
    size = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.name
