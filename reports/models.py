"""Imaging reports: a study's findings and impression, their history, signature and addenda."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from imaging.models import Instance, Study


class ReportTemplate(models.Model):
    """Starting text for a kind of study ("Thorax", "Dental" …), edited by administrators.

    A study's template is found by its order's procedure code first, then by modality and body
    part, then by modality alone (see reports/catalog.py, `template_for_study`).
    """

    name = models.CharField(max_length=64, unique=True)
    procedure_codes = models.CharField(
        max_length=200, blank=True, help_text="Comma-separated procedure codes: THX3, THX2"
    )
    modalities = models.CharField(
        max_length=64, blank=True, help_text="Comma-separated modalities: DX, CR, CT"
    )
    body_parts = models.CharField(
        max_length=200, blank=True, help_text="Comma-separated Body Part Examined values: CHEST"
    )
    findings = models.TextField(blank=True)
    impression = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=0, help_text="Position in the template list")

    class Meta:
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def _words(value: str) -> set[str]:
        return {part.strip().upper() for part in value.split(",") if part.strip()}

    @property
    def procedure_code_set(self) -> set[str]:
        return self._words(self.procedure_codes)

    @property
    def modality_set(self) -> set[str]:
        return self._words(self.modalities)

    @property
    def body_part_set(self) -> set[str]:
        return self._words(self.body_parts)


class ReportStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    FINAL = "final", "Final (signed)"


class Report(models.Model):
    """The report of one study. A draft changes freely (each save kept as a version); once
    signed it is locked and only addenda follow."""

    study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="report")
    status = models.CharField(
        max_length=8, choices=ReportStatus.choices, default=ReportStatus.DRAFT
    )
    template = models.ForeignKey(
        ReportTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    findings = models.TextField(blank=True)
    impression = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    # The signer's name as printed in the signature block, kept even if the account changes.
    signed_by_name = models.CharField(max_length=200, blank=True)
    # The last address the report was emailed to (prefills the next send).
    email_to = models.EmailField(blank=True)
    # The DICOM series the report's Encapsulated PDF instances go into (one per signature or
    # addendum), made when the report is first stored into its study.
    dicom_series_uid = models.CharField(max_length=64, blank=True)
    # The Encapsulated PDF stored when the report was signed.
    dicom_sop_instance_uid = models.CharField(max_length=64, blank=True)

    class Meta:
        permissions = [
            ("sign_report", "Can sign (finalize) reports"),
            ("email_report", "Can email reports to referring vets"),
        ]
        indexes = [models.Index(fields=["status", "-updated_at"], name="report_status_idx")]

    def __str__(self) -> str:
        return f"Report of {self.study}"

    @property
    def locked(self) -> bool:
        return self.status == ReportStatus.FINAL

    @property
    def is_empty(self) -> bool:
        return not (self.findings.strip() or self.impression.strip())


class ReportVersion(models.Model):
    """A saved state of a report's text: every draft save, and the text as signed."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    findings = models.TextField(blank=True)
    impression = models.TextField(blank=True)
    template_name = models.CharField(max_length=64, blank=True)
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    saved_at = models.DateTimeField(default=timezone.now)
    signed = models.BooleanField(default=False, help_text="The text as it was signed")

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["report", "number"], name="reportversion_number_uniq")
        ]

    def __str__(self) -> str:
        return f"version {self.number} of report {self.report_id}"


class Addendum(models.Model):
    """Text added to a signed report, with its author and time; never changed afterwards."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="addenda")
    number = models.PositiveIntegerField()
    text = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    dicom_sop_instance_uid = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["number"]
        verbose_name_plural = "addenda"
        constraints = [
            models.UniqueConstraint(fields=["report", "number"], name="addendum_number_uniq")
        ]

    def __str__(self) -> str:
        return f"addendum {self.number} to report {self.report_id}"


class KeyImage(models.Model):
    """A frame chosen for the report; drawn with its annotations burned in."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="key_images")
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="+")
    frame = models.PositiveIntegerField(default=1, help_text="1-based frame number")
    caption = models.CharField(max_length=200, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["added_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["report", "instance", "frame"], name="keyimage_report_frame_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"key image {self.instance_id} frame {self.frame}"


class ReportEventKind(models.TextChoices):
    CREATED = "created", "Draft started"
    SAVED = "saved", "Draft saved"
    SIGNED = "signed", "Signed"
    ADDENDUM = "addendum", "Addendum"
    KEY_IMAGE_ADDED = "key_image_added", "Key image added"
    KEY_IMAGE_REMOVED = "key_image_removed", "Key image removed"
    STORED = "stored", "Stored in the study (DICOM)"
    STORE_FAILED = "store_failed", "Storing in the study failed"
    EMAILED = "emailed", "Emailed"
    EMAIL_FAILED = "email_failed", "Email failed"


class ReportEvent(models.Model):
    """A line in a report's history: saves, the signature, addenda, emails, DICOM storage."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=24, choices=ReportEventKind.choices)
    message = models.TextField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.report_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"
