"""Studies, series and instances as they arrive, the devices that send them, and study history."""

from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from clinic.models import Patient


class Device(models.Model):
    """A modality that sends to the portal, known by its AE title."""

    name = models.CharField(max_length=100)
    ae_title = models.CharField("AE title", max_length=16, unique=True)
    host = models.CharField(
        max_length=255, blank=True, help_text="Expected IP or host name (informative)"
    )
    modality = models.CharField(max_length=16, blank=True, help_text="CR, DX, US, CT, IO …")
    location = models.CharField(max_length=100, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.ae_title})"


class StudyStatus(models.TextChoices):
    RECEIVING = "receiving", "Receiving"
    COMPLETE = "complete", "Complete"


class ThumbnailState(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Could not render"


class StudyQuerySet(models.QuerySet):
    def arrived_between(self, start, end) -> "StudyQuerySet":
        return self.filter(received_at__gte=start, received_at__lt=end)

    def search(self, text: str) -> "StudyQuerySet":
        text = text.strip()
        if not text:
            return self
        return self.filter(
            Q(patient__name__icontains=text)
            | Q(patient__owner__last_name__icontains=text)
            | Q(patient__responsible_person__icontains=text)
            | Q(patient__patient_id__iexact=text)
            | Q(accession_number__iexact=text)
        )

    def with_status(self, status: str) -> "StudyQuerySet":
        """Filter by the status a technician sees (see `Study.display_statuses`)."""
        if status in (StudyStatus.RECEIVING, StudyStatus.COMPLETE):
            return self.filter(status=status)
        if status == "thumbnails_pending":
            return self.filter(series__instances__thumbnail_state=ThumbnailState.PENDING).distinct()
        if status == "unverified":
            return self.filter(patient__verified=False)
        return self

    def visible_to(self, user) -> "StudyQuerySet":
        if user.is_authenticated and user.has_perm("imaging.view_study"):
            return self
        return self.none()


class Study(models.Model):
    study_instance_uid = models.CharField("Study Instance UID", max_length=64, unique=True)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="studies")
    accession_number = models.CharField(max_length=16, blank=True, db_index=True)
    study_id = models.CharField("study ID", max_length=16, blank=True)
    study_date = models.DateField(null=True, blank=True)
    study_time = models.TimeField(null=True, blank=True)
    description = models.CharField(max_length=64, blank=True)
    modalities = models.CharField(
        max_length=64, blank=True, help_text="Modalities in study, e.g. 'DX' or 'CT\\SR'"
    )
    referring_physician = models.CharField(max_length=200, blank=True)
    institution = models.CharField(max_length=64, blank=True)
    sending_ae_title = models.CharField(max_length=16, blank=True)
    device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="studies"
    )
    received_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=16, choices=StudyStatus.choices, default=StudyStatus.RECEIVING
    )
    series_count = models.PositiveIntegerField(default=0)
    instance_count = models.PositiveIntegerField(default=0)
    size_bytes = models.BigIntegerField(default=0)

    objects = StudyQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "studies"
        indexes = [
            # The arrivals page: newest first within a day, optionally by modality or status.
            models.Index(fields=["-received_at"], name="study_received_idx"),
            models.Index(fields=["status", "-received_at"], name="study_status_received_idx"),
            models.Index(fields=["modalities", "-received_at"], name="study_modality_received_idx"),
            models.Index(fields=["patient", "-received_at"], name="study_patient_received_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.description or 'Study'} — {self.patient.name}"

    def get_absolute_url(self) -> str:
        return reverse("study-detail", args=[self.pk])


class Series(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="series")
    series_instance_uid = models.CharField("Series Instance UID", max_length=64, unique=True)
    series_number = models.IntegerField(null=True, blank=True)
    modality = models.CharField(max_length=16, blank=True)
    description = models.CharField(max_length=64, blank=True)
    body_part = models.CharField(max_length=64, blank=True)
    view_position = models.CharField(max_length=16, blank=True)
    laterality = models.CharField(max_length=2, blank=True)
    protocol_name = models.CharField(max_length=64, blank=True)
    instance_count = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)
    # Storage key of the series' representative thumbnail (PNG), empty until rendered.
    thumbnail_key = models.CharField(max_length=255, blank=True)
    # Claimed by a conditional update so many arriving instances queue one render, not many.
    thumbnail_render_queued = models.BooleanField(default=False)

    class Meta:
        ordering = ["series_number", "received_at"]
        verbose_name_plural = "series"

    def __str__(self) -> str:
        return f"Series {self.series_number or '?'} {self.description}".strip()


class Instance(models.Model):
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="instances")
    sop_instance_uid = models.CharField("SOP Instance UID", max_length=64, unique=True)
    sop_class_uid = models.CharField("SOP Class UID", max_length=64)
    instance_number = models.IntegerField(null=True, blank=True)
    transfer_syntax_uid = models.CharField(max_length=64)
    rows = models.PositiveIntegerField(null=True, blank=True)
    columns = models.PositiveIntegerField(null=True, blank=True)
    number_of_frames = models.PositiveIntegerField(default=1)
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    storage_key = models.CharField(max_length=255)
    received_at = models.DateTimeField(default=timezone.now)
    thumbnail_key = models.CharField(max_length=255, blank=True)
    thumbnail_state = models.CharField(
        max_length=8, choices=ThumbnailState.choices, default=ThumbnailState.PENDING
    )
    thumbnail_error = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["instance_number", "received_at"]
        indexes = [
            models.Index(fields=["series", "thumbnail_state"], name="instance_thumb_state_idx")
        ]

    def __str__(self) -> str:
        return self.sop_instance_uid


class StudyEvent(models.Model):
    """A line in a study's history: replaced instances, patient reassignments, and the like."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=32)
    message = models.TextField()
    user = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}"
