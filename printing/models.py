"""DICOM printers and film cameras, and the print jobs sent to them (PS3.4 Annex H)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from imaging.models import DicomNode, Instance, Study

# PS3.3 C.13.8 Film Size ID defined terms, with their size in inches (width, height) in
# portrait orientation.
FILM_SIZES: dict[str, tuple[float, float]] = {
    "8INX10IN": (8, 10),
    "8_5INX11IN": (8.5, 11),
    "10INX12IN": (10, 12),
    "10INX14IN": (10, 14),
    "11INX14IN": (11, 14),
    "11INX17IN": (11, 17),
    "14INX14IN": (14, 14),
    "14INX17IN": (14, 17),
    "24CMX24CM": (24 / 2.54, 24 / 2.54),
    "24CMX30CM": (24 / 2.54, 30 / 2.54),
    "A4": (210 / 25.4, 297 / 25.4),
    "A3": (297 / 25.4, 420 / 25.4),
}
FILM_SIZE_CHOICES = [(code, code) for code in FILM_SIZES]

# PS3.3 C.13.8 Image Display Format "STANDARD\C,R": C columns by R rows of image boxes.
LAYOUTS = {
    "STANDARD\\1,1": "1 image",
    "STANDARD\\1,2": "2 images, one above the other",
    "STANDARD\\2,1": "2 images side by side",
    "STANDARD\\2,2": "4 images (2 × 2)",
    "STANDARD\\2,3": "6 images (2 × 3)",
    "STANDARD\\3,3": "9 images (3 × 3)",
}
LAYOUT_CHOICES = list(LAYOUTS.items())


class FilmOrientation(models.TextChoices):
    PORTRAIT = "PORTRAIT", "Portrait"
    LANDSCAPE = "LANDSCAPE", "Landscape"


class MagnificationType(models.TextChoices):
    # PS3.3 C.13.8 Magnification Type defined terms.
    REPLICATE = "REPLICATE", "Replicate"
    BILINEAR = "BILINEAR", "Bilinear"
    CUBIC = "CUBIC", "Cubic"
    NONE = "NONE", "None"


class MediumType(models.TextChoices):
    # PS3.3 C.13.1 Medium Type defined terms.
    PAPER = "PAPER", "Paper"
    CLEAR_FILM = "CLEAR FILM", "Clear film"
    BLUE_FILM = "BLUE FILM", "Blue film"


class PrintDestination(DicomNode):
    """A DICOM printer or film camera (a Basic Grayscale Print Management SCP)."""

    film_sizes = models.JSONField(
        default=list, help_text="Film Size IDs the printer offers (PS3.3 C.13.8)"
    )
    default_film_size = models.CharField(
        max_length=16, choices=FILM_SIZE_CHOICES, default="14INX17IN"
    )
    orientation = models.CharField(
        max_length=9, choices=FilmOrientation.choices, default=FilmOrientation.PORTRAIT
    )
    magnification = models.CharField(
        max_length=9, choices=MagnificationType.choices, default=MagnificationType.CUBIC
    )
    medium_type = models.CharField(
        max_length=10, choices=MediumType.choices, default=MediumType.BLUE_FILM
    )

    def offered_film_sizes(self) -> list[str]:
        """The film sizes to choose from: those configured, else the default one."""
        return list(self.film_sizes or []) or [self.default_film_size]


class PrintState(models.TextChoices):
    QUEUED = "queued", "Queued"
    PRINTING = "printing", "Printing"
    DONE = "done", "Printed"
    FAILED = "failed", "Failed"


class PrintJob(models.Model):
    """One request to print images on a printer, and how it went."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="print_jobs")
    destination = models.ForeignKey(PrintDestination, on_delete=models.PROTECT, related_name="jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    layout = models.CharField(max_length=32, choices=LAYOUT_CHOICES, default="STANDARD\\1,1")
    film_size = models.CharField(max_length=16, choices=FILM_SIZE_CHOICES)
    orientation = models.CharField(max_length=9, choices=FilmOrientation.choices)
    copies = models.PositiveSmallIntegerField(default=1)
    annotations = models.BooleanField(default=True, help_text="Annotations burned in")
    state = models.CharField(max_length=8, choices=PrintState.choices, default=PrintState.QUEUED)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    films = models.PositiveSmallIntegerField(default=0, help_text="Films printed")
    # PS3.3 C.13.9 Printer Module: NORMAL / WARNING / FAILURE and the printer's own words.
    printer_status = models.CharField(max_length=16, blank=True)
    printer_status_info = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"print job {self.pk} on {self.destination.name}"

    @property
    def finished(self) -> bool:
        return self.state in (PrintState.DONE, PrintState.FAILED)

    @property
    def boxes_per_film(self) -> int:
        columns, rows = layout_grid(self.layout)
        return columns * rows


class PrintJobImage(models.Model):
    """One frame of a print job, in the order it goes onto the film."""

    job = models.ForeignKey(PrintJob, on_delete=models.CASCADE, related_name="images")
    position = models.PositiveSmallIntegerField()
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="+")
    frame = models.PositiveIntegerField(default=1, help_text="1-based frame number")
    # The window shown in the viewer (modality units); empty: the file's own window.
    window_center = models.FloatField(null=True, blank=True)
    window_width = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return f"image {self.position} of print job {self.job_id}"

    @property
    def window(self) -> tuple[float, float] | None:
        if self.window_center is None or not self.window_width:
            return None
        return (self.window_center, self.window_width)


def layout_grid(layout: str) -> tuple[int, int]:
    """(columns, rows) of a "STANDARD\\C,R" Image Display Format."""
    columns, rows = layout.split("\\", 1)[1].split(",")
    return int(columns), int(rows)
