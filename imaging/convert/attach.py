"""Adding a clinic's photos, videos and PDFs to a patient's study as proper DICOM.

Each file is converted, written as a Part-10 file into storage's staging folder and handed to
the same ingest service as the DICOM listener, so thumbnails, history, routing and sends treat
it like any arriving instance. Files added in one go (a batch) share a series per kind.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from django.db.models import Max

from clinic.models import Patient
from imaging import storage
from imaging.convert import document, photo, video
from imaging.convert.common import (
    COPY_CHUNK,
    MediaRefused,
    Target,
    append_encapsulated_fragment,
    base_dataset,
    derived_uid,
    instance_uid,
    write_part10,
)
from imaging.ingest import IngestError, instance_receive_file, studies_complete
from imaging.models import Instance, Series, Study, StudyEvent

logger = logging.getLogger(__name__)

PHOTO, VIDEO, DOCUMENT = "photo", "video", "document"
_IMAGE_WORDS = {b"GIF8": "GIF", b"BM": "BMP", b"II*\0": "TIFF", b"MM\0*": "TIFF"}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif"}


@dataclass(frozen=True)
class Attached:
    """One file's outcome: `added` or `duplicate` (already in the study); refusals raise."""

    kind: str
    status: str
    instance: Instance
    study: Study
    series_description: str


def media_kind(head: bytes) -> str:
    """PHOTO, VIDEO or DOCUMENT from the file's first bytes. Raises MediaRefused with the reason."""
    if head.startswith(b"\xff\xd8\xff") or head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PHOTO
    if head.startswith(b"%PDF-"):
        return DOCUMENT
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            raise MediaRefused("HEIC photos are not supported: export the photo as JPEG")
        if brand == b"qt  ":
            raise MediaRefused("QuickTime (MOV) videos are not supported: export the video as MP4")
        return VIDEO
    if head[128:132] == b"DICM":
        raise MediaRefused("this is already a DICOM file: add it on the Import page")
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        raise MediaRefused("WebP images are not supported: export the photo as JPEG or PNG")
    for magic, name in _IMAGE_WORDS.items():
        if head.startswith(magic):
            raise MediaRefused(f"{name} images are not supported: export the photo as JPEG or PNG")
    raise MediaRefused(
        "this kind of file is not supported: add JPEG or PNG photos, MP4 videos or PDF documents"
    )


def _sha256(source: BinaryIO) -> str:
    digest = hashlib.sha256()
    source.seek(0)
    while chunk := source.read(COPY_CHUNK):
        digest.update(chunk)
    source.seek(0)
    return digest.hexdigest()


def _target(
    *, patient: Patient, study: Study | None, batch: str, series_key: str, description: str
) -> Target:
    if study is None:
        # One batch of files for a new study makes one study, however many requests carry it.
        study_uid = derived_uid("portal-media-study", patient.pk, batch)
        study = Study.objects.filter(study_instance_uid=study_uid).first()
    else:
        study_uid = study.study_instance_uid
    if study is not None:
        patient = study.patient
    series_uid = derived_uid("portal-media-series", study_uid, batch, series_key)
    number = (
        Series.objects.filter(series_instance_uid=series_uid)
        .values_list("series_number", flat=True)
        .first()
    )
    if number is None:
        highest = (
            Series.objects.filter(study=study).aggregate(top=Max("series_number"))["top"]
            if study is not None
            else None
        )
        number = (highest or 0) + 1
    return Target(
        patient=patient,
        study=study,
        study_uid=study_uid,
        series_uid=series_uid,
        series_number=number,
        study_description=description,
    )


def media_attach(
    *,
    source: BinaryIO,
    filename: str,
    patient: Patient,
    study: Study | None,
    batch: str,
    video_kind: str = video.OTHER,
    study_description: str = "",
    user=None,
) -> Attached:
    """Convert one uploaded file and receive it into `study` (None: the batch's new study).

    Raises MediaRefused with a reason in the clinic's words for a file that cannot be added."""
    if study is not None and study.patient_id != patient.pk:
        raise MediaRefused("the study belongs to another patient")
    source.seek(0)
    head = source.read(512)
    kind = media_kind(head)
    sha256 = _sha256(source)
    series_key = f"{kind}-{video_kind}" if kind == VIDEO else kind
    target = _target(
        patient=patient,
        study=study,
        batch=batch,
        series_key=series_key,
        description=study_description or "Photos, videos and documents",
    )
    sop_uid = instance_uid(sha256=sha256, study_uid=target.study_uid)
    existing = (
        Instance.objects.select_related("series__study").filter(sop_instance_uid=sop_uid).first()
    )
    if existing is not None:
        # The same file added again (perhaps in another batch): one instance, nothing written.
        return Attached(
            kind, "duplicate", existing, existing.series.study, existing.series.description
        )
    fd, name = tempfile.mkstemp(dir=storage.staging_dir(), suffix=".dcm")
    os.close(fd)
    path = Path(name)
    try:
        description = _write(kind=kind, path=path, source=source, target=target, sop_uid=sop_uid,
                             filename=filename, video_kind=video_kind)  # fmt: skip
        received = instance_receive_file(path=path)
    except IngestError as exc:
        logger.exception("converted file %s was not accepted by ingest", filename)
        raise MediaRefused(f"the converted file could not be stored ({exc})") from exc
    finally:
        path.unlink(missing_ok=True)
    added_study = received.instance.series.study
    # Each upload is a whole delivery, like a released association: the study is complete
    # again, so every thumbnail is drawn and routing sees what was added.
    studies_complete(study_ids=[added_study.pk])
    StudyEvent.objects.create(
        study=added_study,
        kind="media_added",
        message=f"{kind.capitalize()} “{filename[:100]}” added to {description}.",
        user=user if getattr(user, "is_authenticated", False) else None,
    )
    status = "added" if received.created else "duplicate"
    return Attached(kind, status, received.instance, added_study, description)


def _instance_number(target: Target) -> int:
    return Instance.objects.filter(series__series_instance_uid=target.series_uid).count() + 1


def _write(*, kind, path, source, target, sop_uid, filename, video_kind) -> str:
    """Write the Part-10 file for `kind`; returns the series description used."""
    number = _instance_number(target)
    if kind == PHOTO:
        converted = photo.photo_convert(source.read())
        ds = base_dataset(target=target, sop_class=photo.SOP_CLASS, sop_uid=sop_uid,
                          modality=photo.MODALITY, series_description="Photos",
                          instance_number=number, created=converted.taken)  # fmt: skip
        if converted.taken:
            ds.AcquisitionDateTime = converted.taken.strftime("%Y%m%d%H%M%S")
        ds.update(converted.pixels)
        write_part10(ds, path, transfer_syntax=converted.transfer_syntax)
        return "Photos"
    if kind == VIDEO:
        converted = video.video_convert(source, kind=video_kind)
        sop_class, modality, description = video.VIDEO_KINDS[video_kind]
        ds = base_dataset(target=target, sop_class=sop_class, sop_uid=sop_uid, modality=modality,
                          series_description=description, instance_number=number)  # fmt: skip
        ds.update(converted.pixels)
        write_part10(ds, path, transfer_syntax=converted.transfer_syntax)
        append_encapsulated_fragment(path, source, converted.length)
        return description
    title = Path(filename).stem.replace("_", " ").strip() or "Document"
    data = source.read(document.MAX_BYTES + 1)
    pixels = document.document_convert(data, title=title)
    description = "Documents (PDF)"
    ds = base_dataset(target=target, sop_class=document.SOP_CLASS, sop_uid=sop_uid,
                      modality=document.MODALITY, series_description=description,
                      instance_number=number)  # fmt: skip
    ds.update(pixels)
    write_part10(ds, path, transfer_syntax="1.2.840.10008.1.2.1")
    return description
