"""Studies, series and instances as they arrive, the devices that send them, and study history."""

from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from clinic.models import Patient

if TYPE_CHECKING:
    from imaging.dicom.scu import Peer

# The association log lives in its own module; imported here so Django finds the model.
from imaging.association_models import AssociationRecord  # noqa: F401


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
    study_date = models.DateField(null=True, blank=True, db_index=True)  # date-range searches
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


# --- Destinations and sends -------------------------------------------------------------


class DestinationKind(models.TextChoices):
    PACS = "pacs", "PACS"
    ARCHIVE = "archive", "Archive"
    SPECIALIST = "specialist", "Specialist"


class DicomNode(models.Model):
    """A DICOM node the portal opens associations to: where it is, as whom, and over TLS or not."""

    # The node's fields as forms and serializers list them: the address first, TLS later.
    ADDRESS_FIELDS = ("name", "ae_title", "host", "port")
    TLS_FIELDS = ("tls", "tls_ca_file", "tls_cert_file", "tls_key_file")

    name = models.CharField(max_length=64, unique=True)
    ae_title = models.CharField("AE title", max_length=16)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField()
    tls = models.BooleanField("TLS", default=False)
    tls_ca_file = models.CharField("TLS CA certificate file", max_length=255, blank=True)
    tls_cert_file = models.CharField("TLS client certificate file", max_length=255, blank=True)
    tls_key_file = models.CharField("TLS client key file", max_length=255, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.ae_title}@{self.host}:{self.port})"

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def address_errors(self) -> dict[str, str]:
        """What `full_clean()` lets through but no association survives, in a clinic's words."""
        errors = {}
        if not 1 <= self.port <= 65535:
            errors["port"] = "The port must be between 1 and 65535."
        # PS3.5 6.2: an AE title is characters of the default repertoire, without backslash.
        if "\\" in self.ae_title or not self.ae_title.isprintable():
            errors["ae_title"] = "An AE title cannot contain backslashes or control characters."
        return errors

    def peer(self) -> "Peer":
        """The node as the network code sees it (`imaging.dicom.scu`)."""
        from imaging.dicom.scu import Peer  # the DICOM code imports the models: not at load

        return Peer(
            ae_title=self.ae_title,
            host=self.host,
            port=self.port,
            tls=self.tls,
            tls_ca_file=self.tls_ca_file,
            tls_cert_file=self.tls_cert_file,
            tls_key_file=self.tls_key_file,
        )


class Destination(DicomNode):
    """A DICOM node the portal sends studies to."""

    kind = models.CharField(
        max_length=16, choices=DestinationKind.choices, default=DestinationKind.PACS
    )
    preferred_transfer_syntax = models.CharField(
        max_length=64, blank=True, help_text="Transfer syntax UID to propose first (optional)"
    )
    max_associations = models.PositiveIntegerField(
        default=2, help_text="Sends to this destination at the same time, across all workers"
    )
    storage_commitment = models.BooleanField(
        default=False, help_text="Offers Storage Commitment (signed receipts)"
    )
    query_retrieve = models.BooleanField(
        default=False, help_text="Answers C-FIND, so what arrived can be checked"
    )

    @property
    def confirms(self) -> bool:
        """Whether the portal can learn that an instance really arrived there."""
        return self.storage_commitment or self.query_retrieve


class SendState(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent, unconfirmed"
    CONFIRMED = "confirmed", "Confirmed"
    PARTIAL = "partial", "Partially confirmed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class SendJobQuerySet(models.QuerySet):
    def active(self) -> "SendJobQuerySet":
        return self.filter(state__in=[SendState.QUEUED, SendState.SENDING])


class SendJob(models.Model):
    """One request to send (part of) a study to a destination, and how it went."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="send_jobs")
    destination = models.ForeignKey(Destination, on_delete=models.PROTECT, related_name="jobs")
    created_by = models.ForeignKey("auth.User", null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=16, choices=SendState.choices, default=SendState.QUEUED)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Refreshed while sending: a job "sending" with an old heartbeat lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    instances_total = models.PositiveIntegerField(default=0)
    bytes_sent = models.BigIntegerField(default=0)
    seconds_sending = models.FloatField(default=0.0)
    # Storage commitment: the Transaction UID of the last N-ACTION (PS3.4 J.3.2).
    transaction_uid = models.CharField(max_length=64, blank=True, db_index=True)
    commitment_requested_at = models.DateTimeField(null=True, blank=True)
    # A change applied to every instance on its way out ("name:argument", see
    # imaging/send_transforms.py), e.g. a share's anonymization; empty: files go as stored.
    transform = models.CharField(max_length=100, blank=True)
    # Set when a DICOM node asked for this send with a C-MOVE (PS3.4 C.4.2): who asked.
    requested_by_ae = models.CharField(
        "requested by AE title",
        max_length=16,
        blank=True,
        help_text="The AE title whose C-MOVE started this send (blank: started in the portal)",
    )

    objects = SendJobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["destination", "state"], name="sendjob_dest_state_idx")]

    def __str__(self) -> str:
        return f"Send of {self.study_id} to {self.destination.name} ({self.state})"

    @property
    def mb_per_second(self) -> float:
        if not self.seconds_sending:
            return 0.0
        return self.bytes_sent / self.seconds_sending / 1e6

    @property
    def finished(self) -> bool:
        """Nothing more will happen without a person resuming it."""
        if self.state == SendState.SENT:
            # A confirming destination that never answered ends "sent, unconfirmed" too.
            return not self.destination.confirms or self.finished_at is not None
        return self.state in (
            SendState.CONFIRMED, SendState.PARTIAL, SendState.FAILED, SendState.CANCELLED
        )  # fmt: skip


class SendItemState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    CONFIRMED = "confirmed", "Confirmed"
    FAILED = "failed", "Failed"


class SendItem(models.Model):
    """One instance of a send job and what the destination said about it."""

    job = models.ForeignKey(SendJob, on_delete=models.CASCADE, related_name="items")
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="send_items")
    state = models.CharField(
        max_length=16, choices=SendItemState.choices, default=SendItemState.PENDING
    )
    status = models.PositiveIntegerField(null=True, blank=True, help_text="Last DIMSE status")
    error = models.CharField(max_length=255, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["job", "instance"], name="senditem_job_instance_uniq")
        ]
        indexes = [models.Index(fields=["job", "state"], name="senditem_job_state_idx")]

    def __str__(self) -> str:
        return f"{self.instance_id} {self.state}"


class SendAttempt(models.Model):
    """One association opened for a job: when, how much went, and the error if any."""

    job = models.ForeignKey(SendJob, on_delete=models.CASCADE, related_name="attempts_made")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    instances_sent = models.PositiveIntegerField(default=0)
    bytes_sent = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    permanent = models.BooleanField(default=False)

    class Meta:
        ordering = ["number", "pk"]

    def __str__(self) -> str:
        return f"attempt {self.number} of job {self.job_id}"


class RoutingRule(models.Model):
    """Send arriving studies on automatically, once they are complete and quiet.

    Empty criteria match everything; a study must match every criterion given.
    """

    name = models.CharField(max_length=64, unique=True)
    destinations = models.ManyToManyField(Destination, related_name="routing_rules")
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.CASCADE)
    modality = models.CharField(max_length=16, blank=True)
    procedure = models.CharField(
        max_length=64, blank=True, help_text="Words in the study description, e.g. 'Thorax'"
    )
    body_part = models.CharField(max_length=64, blank=True, help_text="Body Part Examined")
    quiet_seconds = models.PositiveIntegerField(
        default=120, help_text="Wait this long after the study's last instance"
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RoutingFiring(models.Model):
    """How much of a study a rule has sent on, so later arrivals send only what is new."""

    rule = models.ForeignKey(RoutingRule, on_delete=models.CASCADE, related_name="firings")
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="routing_firings")
    instance_count = models.PositiveIntegerField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "study"], name="routingfiring_rule_study_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.rule} → study {self.study_id} ({self.instance_count})"


# --- Annotations (measurements and marks drawn in the viewer) -----------------------------


class AnnotationTool(models.TextChoices):
    LENGTH = "length", "Length"
    ANGLE = "angle", "Angle"
    COBB = "cobb", "Cobb angle"
    ARROW = "arrow", "Arrow with text"
    ELLIPSE = "ellipse", "Elliptical ROI"
    RECTANGLE = "rectangle", "Rectangular ROI"
    TEXT = "text", "Text"
    VHS = "vhs", "Vertebral heart score"
    NORBERG = "norberg", "Norberg angle"
    TPA = "tpa", "Tibial plateau angle"
    CALIBRATION = "calibration", "Manual calibration"


class CalibrationSource(models.TextChoices):
    PIXEL_SPACING = "pixel_spacing", "Pixel Spacing"
    IMAGER_PIXEL_SPACING = "imager_pixel_spacing", "Imager Pixel Spacing (at the detector)"
    MANUAL = "manual", "Manual calibration"
    NONE = "none", "Not calibrated"


class Annotation(models.Model):
    """A mark on one frame of one image, drawn by a person.

    `geometry` holds points in image pixel coordinates ([column, row], origin at the top-left
    pixel's centre, as the viewer's image coordinates); its shape depends on the tool (see
    imaging/measurements.py). `values` are computed by the server from the geometry and the
    image's calibration: a list of {"name", "value", "unit"}.
    """

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="annotations")
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="annotations")
    frame = models.PositiveIntegerField(default=1, help_text="1-based frame number")
    tool = models.CharField(max_length=16, choices=AnnotationTool.choices)
    geometry = models.JSONField()
    text = models.CharField(max_length=500, blank=True)
    values = models.JSONField(default=list, blank=True)
    calibration_source = models.CharField(
        max_length=24, choices=CalibrationSource.choices, default=CalibrationSource.NONE
    )
    # What a person should know about the calibration, e.g. "measured at the detector".
    calibration_note = models.CharField(max_length=200, blank=True)
    author = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Marks drawn by someone outside the clinic through a share link: the share's key
    # ("share:<id>", opaque here) and who drew them, in words. Empty for the clinic's own.
    share_key = models.CharField(max_length=64, blank=True, db_index=True)
    author_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["study", "instance"], name="annotation_study_idx")]

    def __str__(self) -> str:
        return f"{self.get_tool_display()} on {self.instance_id} frame {self.frame}"

    @property
    def via_share(self) -> bool:
        return bool(self.share_key)

    def author_name(self) -> str:
        """Who drew it, in words: the share's label, else the clinic user's name."""
        if self.share_key or self.author is None:
            return self.author_label
        return self.author.get_full_name() or self.author.get_username()


# --- Imports (browser uploads, STOW-RS, the drop folder) --------------------------------


class ImportSource(models.TextChoices):
    UPLOAD = "upload", "Browser upload"
    STOW = "stow", "DICOMweb (STOW-RS)"
    DROP_FOLDER = "drop_folder", "Drop folder"


class ImportOutcome(models.TextChoices):
    IMPORTED = "imported", "Imported"
    DUPLICATE = "duplicate", "Already held"
    REPLACED = "replaced", "Replaced"
    REFUSED = "refused", "Refused"
    IGNORED = "ignored", "Ignored"


class ImportBatch(models.Model):
    """One import: the files of one upload, STOW-RS request or drop-folder scan, and who sent them."""

    source = models.CharField(max_length=16, choices=ImportSource.choices)
    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    imported = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    replaced = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    ignored = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at", "-pk"]
        permissions = [("import_study", "Can import studies (upload, STOW-RS)")]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.started_at:%Y-%m-%d %H:%M}"


class ImportItem(models.Model):
    """What became of one file of an import, with the reason in words when it was refused."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="items")
    name = models.CharField(max_length=500)
    outcome = models.CharField(max_length=16, choices=ImportOutcome.choices)
    reason = models.CharField(max_length=500, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    study = models.ForeignKey(
        Study, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sop_class_uid = models.CharField(max_length=64, blank=True)
    sop_instance_uid = models.CharField(max_length=64, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.name}: {self.get_outcome_display()}"
