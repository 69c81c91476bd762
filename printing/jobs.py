"""Print destinations and print jobs: creating, running and retrying them.

Record before acting: the job row exists (queued) before the task runs, the run claims it with
a conditional update, and the outcome (printed films, the printer's status, or the error in
plain words) goes on the same row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clinic import queue
from imaging.dicom import scu
from imaging.models import Instance, Study
from imaging.render import RenderError
from printing import dicom_print, prepare
from printing.models import (
    FILM_SIZES,
    LAYOUTS,
    FilmOrientation,
    PrintDestination,
    PrintJob,
    PrintJobImage,
    PrintState,
)

logger = logging.getLogger(__name__)

MAX_IMAGES = 36
MAX_COPIES = 99
# A job left "printing" this long lost its worker (the task's hard time limit is shorter).
STALE_AFTER = timedelta(minutes=15)


class PrintError(Exception):
    """A print job cannot be made as asked; `str(e)` is a sentence for the clinic."""


@dataclass(frozen=True)
class PrinterCheck:
    ok: bool
    message: str


# Destinations -----------------------------------------------------------------------------


def print_destination_validate(destination: PrintDestination) -> None:
    """Raise ValidationError with clinic-readable messages for a printer that cannot work."""
    destination.full_clean()
    errors = destination.address_errors()
    unknown = [size for size in destination.film_sizes or [] if size not in FILM_SIZES]
    if unknown:
        errors["film_sizes"] = f"Unknown film size {', '.join(unknown)}."
    offered = destination.film_sizes or []
    if offered and destination.default_film_size not in offered:
        errors["default_film_size"] = "The default film size must be one the printer offers."
    if errors:
        raise ValidationError(errors)


def print_destination_target(destination: PrintDestination) -> dicom_print.PrinterTarget:
    return dicom_print.PrinterTarget(
        peer=destination.peer(),
        name=destination.name,
        film_sizes=tuple(destination.film_sizes or ()),
    )


def print_destination_test(*, destination: PrintDestination) -> PrinterCheck:
    """C-ECHO and Printer N-GET; says in words whether the printer is ready."""
    try:
        seconds, status = dicom_print.printer_check(print_destination_target(destination))
    except scu.TransportError as exc:
        return PrinterCheck(ok=False, message=str(exc))
    said = status.status or "no status"
    info = f" ({status.info})" if status.info else ""
    ok = status.status in ("NORMAL", "WARNING", "")
    return PrinterCheck(
        ok=ok,
        message=(
            f"{destination.name} answered in {seconds * 1000:.0f} ms; printer status: {said}{info}."
        ),
    )


# Jobs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageChoice:
    sop_instance_uid: str
    frame: int = 1
    window_center: float | None = None
    window_width: float | None = None


def _key_image_choices(study: Study) -> list[ImageChoice]:
    from reports.models import KeyImage

    key_images = KeyImage.objects.filter(report__study=study).select_related("instance")
    return [ImageChoice(k.instance.sop_instance_uid, k.frame) for k in key_images]


def print_job_create(
    *,
    study: Study,
    destination: PrintDestination,
    images: list[ImageChoice] | None = None,
    key_images: bool = False,
    layout: str = "STANDARD\\1,1",
    film_size: str = "",
    orientation: str = "",
    copies: int = 1,
    annotations: bool = True,
    user=None,
) -> PrintJob:
    """Queue a print of the chosen frames (or the study's key images) on `destination`."""
    if not destination.active:
        raise PrintError(f"{destination.name} is switched off; choose another printer.")
    film_size = film_size or destination.default_film_size
    orientation = orientation or destination.orientation
    if film_size not in destination.offered_film_sizes():
        raise PrintError(
            f"{destination.name} does not offer film size {film_size}: it offers "
            f"{', '.join(destination.offered_film_sizes())}."
        )
    if layout not in LAYOUTS:
        raise PrintError(f"Unknown layout {layout!r}.")
    if orientation not in FilmOrientation.values:
        raise PrintError("Choose portrait or landscape.")
    if not 1 <= copies <= MAX_COPIES:
        raise PrintError(f"Print between 1 and {MAX_COPIES} copies.")
    chosen = _key_image_choices(study) if key_images else list(images or [])
    if not chosen:
        raise PrintError(
            "This study has no key images yet." if key_images else "Choose at least one image."
        )
    if len(chosen) > MAX_IMAGES:
        raise PrintError(f"Print at most {MAX_IMAGES} images at a time.")
    instances = {
        i.sop_instance_uid: i
        for i in Instance.objects.filter(
            series__study=study, sop_instance_uid__in=[c.sop_instance_uid for c in chosen]
        )
    }
    for choice in chosen:
        instance = instances.get(choice.sop_instance_uid)
        if instance is None:
            raise PrintError("An image chosen is not part of this study.")
        if not 1 <= choice.frame <= max(1, instance.number_of_frames):
            raise PrintError(f"Image {instance.instance_number or ''} has no frame {choice.frame}.")
    with transaction.atomic():
        job = PrintJob.objects.create(
            study=study,
            destination=destination,
            created_by=user if getattr(user, "pk", None) else None,
            layout=layout,
            film_size=film_size,
            orientation=orientation,
            copies=copies,
            annotations=annotations,
        )
        PrintJobImage.objects.bulk_create(
            PrintJobImage(
                job=job,
                position=position,
                instance=instances[choice.sop_instance_uid],
                frame=choice.frame,
                window_center=choice.window_center,
                window_width=choice.window_width,
            )
            for position, choice in enumerate(chosen, start=1)
        )
        _queue(job)
    return job


def _queue(job: PrintJob) -> None:
    from printing.tasks import print_job_run_task

    queue.enqueue(print_job_run_task, job.pk)


def print_job_retry(*, job_id: int) -> PrintJob:
    """Queue a failed job again (the whole job: a printer keeps nothing of a failed session),
    or one whose worker vanished mid-print."""
    stale = Q(state=PrintState.PRINTING, started_at__lt=timezone.now() - STALE_AFTER)
    with transaction.atomic():
        updated = (
            PrintJob.objects.filter(pk=job_id)
            .filter(Q(state=PrintState.FAILED) | stale)
            .update(state=PrintState.QUEUED, error="", started_at=None, finished_at=None)
        )
        job = PrintJob.objects.get(pk=job_id)
        if not updated:
            raise PrintError("Only a failed print can be tried again.")
        _queue(job)
    return job


def _claim(job_id: int) -> bool:
    now = timezone.now()
    return bool(
        PrintJob.objects.filter(pk=job_id)
        .filter(
            Q(state=PrintState.QUEUED)
            | Q(state=PrintState.PRINTING, started_at__lt=now - STALE_AFTER)
        )
        .update(state=PrintState.PRINTING, started_at=now, error="")
    )


def print_job_run(*, job_id: int) -> None:
    """Print a queued job and record how it went. Safe to run twice: only one run claims it.

    A failed print is not retried by itself: film costs money, and a printer that timed out
    after the print command may have printed; the clinic decides with "Try again"."""
    if not _claim(job_id):
        return
    job = PrintJob.objects.select_related("destination").get(pk=job_id)
    PrintJob.objects.filter(pk=job_id).update(attempts=job.attempts + 1)
    destination = job.destination
    try:
        images = prepare.print_job_images(job)
        outcome = dicom_print.film_print(
            print_destination_target(destination),
            dicom_print.FilmRequest(
                layout=job.layout,
                film_size=job.film_size,
                orientation=job.orientation,
                magnification=destination.magnification,
                medium_type=destination.medium_type,
                copies=job.copies,
                images=images,
                boxes_per_film=job.boxes_per_film,
            ),
        )
    except scu.TransportError as exc:
        _finish(job_id, state=PrintState.FAILED, error=str(exc))
        return
    except (RenderError, OSError) as exc:
        _finish(job_id, state=PrintState.FAILED, error=f"An image could not be prepared: {exc}")
        return
    except Exception:
        logger.exception("print job %s failed", job_id)
        _finish(
            job_id,
            state=PrintState.FAILED,
            error="The print failed on an unexpected error; the portal's log has the details.",
        )
        return
    status = outcome.after if outcome.after.status else outcome.before
    _finish(
        job_id,
        state=PrintState.DONE,
        films=outcome.films,
        printer_status=status.status,
        printer_status_info=status.info[:64],
    )


def _finish(job_id: int, *, state: str, **fields) -> None:
    PrintJob.objects.filter(pk=job_id, state=PrintState.PRINTING).update(
        state=state, finished_at=timezone.now(), **fields
    )
