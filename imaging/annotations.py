"""Annotations drawn on a study's images: create, change, delete, and their measured values.

Values are always computed here, from the geometry and the image's calibration (never taken
from the client). A manual calibration is an annotation too: drawing, changing or deleting
one recomputes every other measurement on that image and frame.

Marks drawn through a share link carry the share's key (`share_key`, opaque here): only the
same key changes them, and a share's key never changes the clinic's own marks. Each share
measures with its own manual calibrations (else the image's spacing), so an outside
specialist's calibration line never changes the clinic's values, nor the other way round.
"""

from __future__ import annotations

import logging

import numpy as np
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from pydicom import Dataset, dcmread
from pydicom.pixels import apply_modality_lut

from clinic.models import Species
from imaging import measurements, storage
from imaging.annotation_values import geometry_clean, values_measure
from imaging.measurements import Calibration, GeometryError
from imaging.models import Annotation, AnnotationTool, Instance, Study

logger = logging.getLogger(__name__)

_ROI_TOOLS = (AnnotationTool.ELLIPSE, AnnotationTool.RECTANGLE)


class AnnotationForbidden(Exception):
    """The caller may see the annotation but not change or delete it."""


class AnnotationInvalid(Exception):
    """What was sent cannot be saved; `errors` maps field names to plain-words messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(errors)
        self.errors = errors


# --- Reading the image ----------------------------------------------------------------------


def image_dataset(instance: Instance, *, pixels: bool = False) -> Dataset:
    with storage.instance_open(instance.storage_key) as handle:
        return dcmread(handle, stop_before_pixels=not pixels)


def _pixel_measures(ds: Dataset, frame: int):
    """Pixel Spacing of a frame: per-frame, then shared functional groups (enhanced
    multi-frame, PS3.3 C.7.6.16.2.1), then the top-level attribute."""
    for sequence, index in (
        ("PerFrameFunctionalGroupsSequence", frame - 1),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        groups = ds.get(sequence)
        if groups is None or len(groups) <= index:
            continue
        measures = groups[index].get("PixelMeasuresSequence")
        if measures and "PixelSpacing" in measures[0]:
            return measures[0].PixelSpacing
    return ds.get("PixelSpacing")


def header_calibration(ds: Dataset, frame: int = 1) -> Calibration:
    """The calibration the image carries itself (see measurements.calibration_from_header)."""
    magnification = ds.get("EstimatedRadiographicMagnificationFactor")
    return measurements.calibration_from_header(
        pixel_spacing=_pixel_measures(ds, frame),
        imager_pixel_spacing=ds.get("ImagerPixelSpacing"),
        magnification=float(magnification) if magnification else None,
    )


def _manual_calibration(
    instance: Instance, frame: int, base: Calibration, share_key: str = ""
) -> Calibration | None:
    latest = (
        Annotation.objects.filter(
            instance=instance, frame=frame, tool=AnnotationTool.CALIBRATION, share_key=share_key
        )
        .order_by("-updated_at", "-pk")
        .first()
    )
    if latest is None:
        return None
    geometry = latest.geometry
    return measurements.calibration_manual(geometry["points"], geometry["known_mm"], base)


def image_calibration(
    *, instance: Instance, frame: int, ds: Dataset | None = None, share_key: str = ""
) -> Calibration:
    """Latest manual calibration on this image and frame (the clinic's, or the share's when
    `share_key` is given), else the image's own spacing."""
    base = header_calibration(ds if ds is not None else image_dataset(instance), frame)
    return _manual_calibration(instance, frame, base, share_key) or base


def _frame_values(ds: Dataset, frame: int) -> tuple[np.ndarray | None, str]:
    """One frame's stored values through the modality LUT (rescale), and their unit."""
    if int(ds.get("SamplesPerPixel", 1)) != 1 or "PixelData" not in ds:
        return None, ""
    try:
        pixels = ds.pixel_array
    except Exception:  # no decoder here for its transfer syntax: the area is still measured
        logger.warning("cannot decode pixels of %s for ROI statistics", ds.get("SOPInstanceUID"))
        return None, ""
    if int(ds.get("NumberOfFrames", 1) or 1) > 1:
        pixels = pixels[frame - 1]
    values = apply_modality_lut(pixels, ds)
    unit = str(ds.get("RescaleType", "") or "")
    if ds.get("Modality") == "CT" and unit in ("", "HU"):
        unit = "HU"
    elif unit == "US":  # PS3.3 C.11.1.1.2: "unspecified"
        unit = ""
    return values, unit


# --- Measuring ------------------------------------------------------------------------------


def _reference(study: Study) -> dict | None:
    patient = study.patient
    species = patient.species_text if patient.species == Species.OTHER else patient.species
    return measurements.vhs_reference(species, patient.breed)


def _measure(annotation: Annotation, *, ds: Dataset | None = None) -> None:
    """Fill in values and calibration from the geometry and the image (not saved)."""
    tool = annotation.tool
    if ds is None or (tool in _ROI_TOOLS and "PixelData" not in ds):
        ds = image_dataset(annotation.instance, pixels=tool in _ROI_TOOLS)
    base = header_calibration(ds, annotation.frame)
    if tool == AnnotationTool.CALIBRATION:
        geometry = annotation.geometry
        calibration = measurements.calibration_manual(
            geometry["points"], geometry["known_mm"], base
        )
    else:
        calibration = (
            _manual_calibration(annotation.instance, annotation.frame, base, annotation.share_key)
            or base
        )
    pixels, unit = _frame_values(ds, annotation.frame) if tool in _ROI_TOOLS else (None, "")
    annotation.values = values_measure(
        tool,
        annotation.geometry,
        calibration,
        pixels=pixels,
        pixel_unit=unit,
        reference=_reference(annotation.study) if tool == AnnotationTool.VHS else None,
    )
    annotation.calibration_source = calibration.source
    annotation.calibration_note = calibration.note


def image_annotations_recompute(*, instance: Instance, frame: int, share_key: str = "") -> int:
    """Recompute the measurements on one image and frame after its calibration changed (the
    clinic's, or one share's: each measures with its own calibration)."""
    measured = list(
        Annotation.objects.filter(instance=instance, frame=frame, share_key=share_key)
        .exclude(tool=AnnotationTool.CALIBRATION)
        .select_related("study__patient")
    )
    if not measured:
        return 0
    ds = image_dataset(instance, pixels=any(a.tool in _ROI_TOOLS for a in measured))
    count = 0
    for annotation in measured:
        annotation.instance = instance
        _measure(annotation, ds=ds)
        annotation.save(update_fields=["values", "calibration_source", "calibration_note"])
        count += 1
    return count


def _clean(tool: str, geometry, text: str) -> dict:
    try:
        return geometry_clean(tool, geometry, text)
    except GeometryError as exc:
        raise AnnotationInvalid({exc.field: [str(exc)]}) from exc


def _measure_or_invalid(annotation: Annotation) -> None:
    try:
        _measure(annotation)
    except GeometryError as exc:
        raise AnnotationInvalid({exc.field: [str(exc)]}) from exc


# --- Writes ---------------------------------------------------------------------------------


def _check_may_change(annotation: Annotation, *, author, share_key: str) -> None:
    """A share changes only its own marks; the clinic's marks change only outside shares, by
    their author (when an author is named: internal callers name none)."""
    if share_key or annotation.share_key:
        if annotation.share_key != share_key:
            raise AnnotationForbidden(
                "This annotation was drawn by the clinic; it cannot be changed here."
                if not annotation.share_key
                else "This annotation was drawn through a share link; only it can change it."
            )
        return
    if author is not None and annotation.author_id != author.pk:
        raise AnnotationForbidden("Only the author of an annotation can change or delete it.")


@transaction.atomic
def annotation_create(
    *,
    study: Study,
    author=None,
    sop_instance_uid: str,
    frame: int,
    tool: str,
    geometry,
    text: str = "",
    share_key: str = "",
    author_label: str = "",
) -> Annotation:
    """Draw a mark on one image of the study; `share_key` and `author_label` when it comes
    through a share link (then `author` is None)."""
    instance = Instance.objects.filter(
        sop_instance_uid=sop_instance_uid, series__study=study
    ).first()
    if instance is None:
        raise AnnotationInvalid({"sop_instance_uid": ["This image is not part of the study."]})
    if frame < 1 or frame > (instance.number_of_frames or 1):
        raise AnnotationInvalid(
            {"frame": [f"This image has frames 1 to {instance.number_of_frames or 1}."]}
        )
    if tool not in AnnotationTool.values:
        raise AnnotationInvalid({"tool": [f"Unknown tool “{tool}”."]})
    now = timezone.now()
    annotation = Annotation(
        study=study,
        instance=instance,
        frame=frame,
        tool=tool,
        geometry=_clean(tool, geometry, text),
        text=text,
        author=None if share_key else author,
        share_key=share_key,
        author_label=author_label[:200],
        created_at=now,
        updated_at=now,
    )
    _measure_or_invalid(annotation)
    annotation.save()
    if tool == AnnotationTool.CALIBRATION:
        image_annotations_recompute(instance=instance, frame=frame, share_key=share_key)
    return annotation


@transaction.atomic
def annotation_update(
    *,
    annotation: Annotation,
    geometry=None,
    text: str | None = None,
    author=None,
    share_key: str = "",
) -> Annotation:
    """Change the geometry and/or text; values are measured again.

    Raises AnnotationForbidden when `author`/`share_key` may not change it."""
    _check_may_change(annotation, author=author, share_key=share_key)
    if text is not None:
        annotation.text = text
    annotation.geometry = _clean(
        annotation.tool, annotation.geometry if geometry is None else geometry, annotation.text
    )
    annotation.updated_at = timezone.now()
    _measure_or_invalid(annotation)
    annotation.save()
    if annotation.tool == AnnotationTool.CALIBRATION:
        image_annotations_recompute(
            instance=annotation.instance, frame=annotation.frame, share_key=annotation.share_key
        )
    return annotation


@transaction.atomic
def annotation_delete(*, annotation: Annotation, author=None, share_key: str = "") -> None:
    """Raises AnnotationForbidden when `author`/`share_key` may not delete it."""
    _check_may_change(annotation, author=author, share_key=share_key)
    instance, frame, tool = annotation.instance, annotation.frame, annotation.tool
    annotation.delete()
    if tool == AnnotationTool.CALIBRATION:
        image_annotations_recompute(instance=instance, frame=frame, share_key=share_key)


# --- Reads ----------------------------------------------------------------------------------


def study_annotations(
    study: Study, *, share_key: str | None = None, with_clinic: bool = True
) -> QuerySet[Annotation]:
    """The study's annotations as the clinic sees them (every one, those drawn through shares
    included), or as one share sees them: its own, plus the clinic's when `with_clinic`."""
    rows = Annotation.objects.filter(study=study)
    if share_key is not None:
        keys = [share_key, ""] if with_clinic else [share_key]
        rows = rows.filter(share_key__in=keys)
    return rows.select_related("instance__series", "author").order_by("created_at", "pk")
