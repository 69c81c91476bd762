"""The procedure catalog, booked exams (orders) and what consoles report back (MPPS)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from clinic.models import Patient
from imaging.models import Device, Study


class Procedure(models.Model):
    """An exam the clinic books: "Thorax 3-view", "Abdominal ultrasound" …"""

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=64)
    modality = models.CharField(max_length=16, help_text="DX, CR, US, CT, IO …")
    body_part = models.CharField(max_length=64, blank=True)
    # Coding scheme of `code` in the Requested Procedure Code Sequence (PS3.3 C.4.11).
    coding_scheme = models.CharField(max_length=16, default="VETPORTAL")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["modality", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.modality})"


class ExpectedView(models.Model):
    """A view or series a procedure should produce, and how consoles label it."""

    procedure = models.ForeignKey(Procedure, on_delete=models.CASCADE, related_name="views")
    name = models.CharField(max_length=64, help_text='e.g. "Right lateral"')
    order = models.PositiveSmallIntegerField(default=0)
    # Matched against arriving series, case-insensitive; any one matching is enough.
    view_positions = models.CharField(
        max_length=100, blank=True, help_text="Comma-separated View Position values: RL, R LAT …"
    )
    description_patterns = models.CharField(
        max_length=200,
        blank=True,
        help_text="Comma-separated words in Series Description or Protocol Name: 'r lat, right lat'",
    )

    class Meta:
        ordering = ["procedure", "order", "pk"]

    def __str__(self) -> str:
        return f"{self.procedure.code}: {self.name}"


class OrderStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    ARRIVED = "arrived", "Arrived"  # images received, no MPPS (yet)
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    DISCONTINUED = "discontinued", "Discontinued"
    CANCELLED = "cancelled", "Cancelled"


class Priority(models.TextChoices):
    # PS3.3 C.4.11 Requested Procedure Priority / Scheduled Procedure Step Priority.
    ROUTINE = "ROUTINE", "Routine"
    HIGH = "HIGH", "High"
    STAT = "STAT", "Stat"


class Order(models.Model):
    """A booked exam: one requested procedure with one scheduled procedure step."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="orders")
    procedure = models.ForeignKey(Procedure, on_delete=models.PROTECT, related_name="orders")
    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="orders")
    scheduled_at = models.DateTimeField(db_index=True)
    requesting_vet = models.CharField(max_length=100, blank=True)
    referring_vet = models.CharField(max_length=100, blank=True)
    # Who performs the exam at the console: Scheduled Performing Physician's Name in the worklist.
    performing_vet = models.CharField("performing vet / technician", max_length=100, blank=True)
    reason = models.TextField("reason / clinical history", blank=True)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.ROUTINE)
    accession_number = models.CharField(max_length=16, unique=True)
    requested_procedure_id = models.CharField(max_length=16)
    scheduled_step_id = models.CharField(max_length=16)
    study_instance_uid = models.CharField(max_length=64, unique=True)
    status = models.CharField(
        max_length=16, choices=OrderStatus.choices, default=OrderStatus.SCHEDULED, db_index=True
    )
    status_reason = models.CharField(max_length=200, blank=True)
    # The arrived study this order was matched to, once it arrives.
    study = models.OneToOneField(
        Study, null=True, blank=True, on_delete=models.SET_NULL, related_name="order"
    )
    # How the arrived study was found ("study_uid", "accession", "patient_date"), and what the
    # console said that disagrees with this order's patient (empty when it agrees).
    matched_by = models.CharField(max_length=16, blank=True)
    mismatch = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["scheduled_at"]
        indexes = [
            # "Today, my station": the query every console sends.
            models.Index(fields=["device", "scheduled_at"], name="order_device_time_idx"),
            models.Index(fields=["status", "scheduled_at"], name="order_status_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.accession_number} {self.procedure.name} — {self.patient.name}"


class PerformedStepStatus(models.TextChoices):
    # PS3.3 C.4.14 Performed Procedure Step Status.
    IN_PROGRESS = "IN PROGRESS", "In progress"
    COMPLETED = "COMPLETED", "Completed"
    DISCONTINUED = "DISCONTINUED", "Discontinued"


class PerformedStep(models.Model):
    """A Modality Performed Procedure Step a console created (N-CREATE) and updated (N-SET)."""

    sop_instance_uid = models.CharField(max_length=64, unique=True)
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="performed_steps"
    )
    status = models.CharField(max_length=16, choices=PerformedStepStatus.choices)
    station_ae_title = models.CharField(max_length=16, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Performed Series Sequence as reported: [{"series_uid", "description", "instances": n}, …]
    performed_series = models.JSONField(default=list, blank=True)
    discontinuation_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"MPPS {self.sop_instance_uid} {self.status}"


class OrderEvent(models.Model):
    """A line in a booking's history: booked, changed (with why), cancelled, status changes."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16)
    message = models.TextField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"
