"""Receiving an instance: the one path every arriving DICOM file takes into the portal.

A success here is a promise to the sender that it may delete its copy, so an instance is
indexed only after its file is complete on storage, and both are durable before we return.
Only the header is parsed (up to the pixel data); pixels are stored as they arrived.
"""

import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from django.db import IntegrityError, transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone
from pydicom import Dataset, dcmread, dcmwrite
from pydicom.errors import InvalidDicomError

from clinic.matching import patient_match
from imaging import storage, thumbnails
from imaging.dicom import status
from imaging.models import Device, Instance, Series, Study, StudyEvent, StudyStatus, ThumbnailState

logger = logging.getLogger(__name__)

# Sent after commit when a study is first seen: `study_id`. Higher apps (the worklist) match it.
study_arrived = Signal()


class IngestError(Exception):
    """A data set we refuse, with the DICOM status to answer and a reason in plain words."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class IngestCache:
    """Study and series rows one association already found or made, so a 500-slice series
    costs one lookup of each, not 500. Filled only after a commit, so it never holds a row
    that was rolled back."""

    studies: dict[str, Study] = field(default_factory=dict)
    series: dict[str, Series] = field(default_factory=dict)

    def clear(self) -> None:
        self.studies.clear()
        self.series.clear()


@dataclass(frozen=True)
class Received:
    instance: Instance
    created: bool
    replaced: bool = False
    duplicate: bool = False


def _uid(ds: Dataset, keyword: str) -> str:
    value = str(ds.get(keyword, "") or "").strip().rstrip("\0")
    if not value:
        raise IngestError(f"{keyword} is missing", status=status.DATASET_DOES_NOT_MATCH_SOP_CLASS)
    if len(value) > 64:
        raise IngestError(
            f"{keyword} is longer than 64 characters",
            status=status.DATASET_DOES_NOT_MATCH_SOP_CLASS,
        )
    return value


def _str(ds: Dataset, keyword: str, limit: int) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    if getattr(value, "VM", 1) > 1 and not isinstance(value, str):
        value = "\\".join(str(v) for v in value)
    return str(value).strip()[:limit]


def _int(ds: Dataset, keyword: str) -> int | None:
    try:
        value = ds.get(keyword)
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _da(value: str) -> date | None:
    try:
        return datetime.strptime(value[:8], "%Y%m%d").date() if value else None
    except ValueError:
        return None


def _tm(value: str) -> time | None:
    digits = value.split(".")[0].replace(":", "")
    for fmt in ("%H%M%S", "%H%M", "%H"):
        try:
            return datetime.strptime(digits, fmt).time()
        except ValueError:
            continue
    return None


def _read_header(path: Path) -> Dataset:
    try:
        ds = dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, EOFError, ValueError, KeyError, TypeError, OverflowError) as exc:
        raise IngestError(
            f"not a readable DICOM file: {exc}", status=status.CANNOT_UNDERSTAND
        ) from exc
    except Exception as exc:  # pydicom raises a wide variety on corrupt input
        raise IngestError(
            f"not a readable DICOM file: {exc}", status=status.CANNOT_UNDERSTAND
        ) from exc
    return ds


def instance_receive_dataset(*, dataset: Dataset, calling_ae: str = "") -> Received:
    """Receive an in-memory data set (written to a staging file first, then as any file)."""
    fd, name = tempfile.mkstemp(dir=storage.staging_dir(), suffix=".dcm")
    os.close(fd)
    path = Path(name)
    try:
        dcmwrite(path, dataset, enforce_file_format=True)
    except Exception as exc:
        path.unlink(missing_ok=True)
        raise IngestError(
            f"data set cannot be encoded: {exc}", status=status.CANNOT_UNDERSTAND
        ) from exc
    return instance_receive_file(path=path, calling_ae=calling_ae)


def instance_receive_file(
    *, path: Path, calling_ae: str = "", cache: IngestCache | None = None
) -> Received:
    """Store and index the Part-10 file at `path` (consumed). Raises IngestError for bad input.

    `cache` lets one association's instances share their study and series lookups."""
    path = Path(path)
    try:
        ds = _read_header(path)
        study_uid = _uid(ds, "StudyInstanceUID")
        series_uid = _uid(ds, "SeriesInstanceUID")
        sop_uid = _uid(ds, "SOPInstanceUID")
        sop_class = _uid(ds, "SOPClassUID")
        meta = getattr(ds, "file_meta", None)
        transfer_syntax = str(getattr(meta, "TransferSyntaxUID", "") or "")
        if not transfer_syntax:
            raise IngestError("file has no transfer syntax", status=status.CANNOT_UNDERSTAND)
        sha256, size = storage.file_sha256(path)
        received = _index(
            ds=ds,
            path=path,
            calling_ae=calling_ae,
            uids=(study_uid, series_uid, sop_uid, sop_class),
            transfer_syntax=transfer_syntax,
            sha256=sha256,
            size=size,
            cache=cache if cache is not None else IngestCache(),
        )
    finally:
        path.unlink(missing_ok=True)
    return received


def _index(*, ds, path, calling_ae, uids, transfer_syntax, sha256, size, cache) -> Received:
    study_uid, series_uid, sop_uid, sop_class = uids
    for attempt in range(3):
        try:
            with transaction.atomic():
                received, study, series = _index_once(
                    ds=ds, path=path, calling_ae=calling_ae, uids=uids,
                    transfer_syntax=transfer_syntax, sha256=sha256, size=size, cache=cache,
                )  # fmt: skip
        except IntegrityError:
            # A concurrent association created the same study, series or instance first (or a
            # cached row was deleted): retry from the database. More than three tries means
            # something else is wrong.
            cache.clear()
            if attempt == 2:
                raise
            continue
        cache.studies[study_uid] = study
        cache.series[series_uid] = series
        return received
    raise AssertionError("unreachable")


def _index_once(*, ds, path, calling_ae, uids, transfer_syntax, sha256, size, cache):
    study_uid, series_uid, sop_uid, sop_class = uids
    now = timezone.now()
    study, study_created = _study_for(
        ds, study_uid=study_uid, calling_ae=calling_ae, now=now, cached=cache.studies.get(study_uid)
    )
    series, series_created = _series_for(
        ds, study=study, series_uid=series_uid, now=now, cached=cache.series.get(series_uid)
    )
    existing = Instance.objects.select_for_update().filter(sop_instance_uid=sop_uid).first()
    if existing and existing.sha256 == sha256:
        return Received(instance=existing, created=False, duplicate=True), study, series

    key = storage.instance_key(
        study_uid=study_uid, series_uid=series_uid, sop_uid=sop_uid, sha256=sha256
    )
    storage.file_store(src=path, key=key)
    fields = {
        "series": series,
        "sop_class_uid": sop_class,
        "instance_number": _int(ds, "InstanceNumber"),
        "transfer_syntax_uid": transfer_syntax,
        "rows": _int(ds, "Rows"),
        "columns": _int(ds, "Columns"),
        "number_of_frames": _int(ds, "NumberOfFrames") or 1,
        "size_bytes": size,
        "sha256": sha256,
        "storage_key": key,
        "received_at": now,
        "thumbnail_key": "",
        "thumbnail_state": ThumbnailState.PENDING,
        "thumbnail_error": "",
    }
    if existing:
        instance = _replace(existing, fields=fields, study=study, now=now)
    else:
        instance = Instance.objects.create(sop_instance_uid=sop_uid, **fields)
        Series.objects.filter(pk=series.pk).update(instance_count=F("instance_count") + 1)
        Study.objects.filter(pk=study.pk).update(
            instance_count=F("instance_count") + 1,
            series_count=F("series_count") + (1 if series_created else 0),
            size_bytes=F("size_bytes") + size,
            updated_at=now,
            status=StudyStatus.RECEIVING,
        )
    thumbnails.series_thumbnails_request(series_id=series.pk)
    if study_created:
        study_id = study.pk
        transaction.on_commit(lambda: study_arrived.send(sender=Study, study_id=study_id))
    received = Received(instance=instance, created=existing is None, replaced=existing is not None)
    return received, study, series


def _replace(existing: Instance, *, fields: dict, study: Study, now) -> Instance:
    """A new version of an instance we hold: index it, then drop the old file after commit."""
    old_key, old_size, old_series_id = existing.storage_key, existing.size_bytes, existing.series_id
    for name, value in fields.items():
        setattr(existing, name, value)
    existing.save()
    if old_series_id != existing.series_id:
        Series.objects.filter(pk=old_series_id).update(instance_count=F("instance_count") - 1)
        Series.objects.filter(pk=existing.series_id).update(instance_count=F("instance_count") + 1)
    Study.objects.filter(pk=study.pk).update(
        size_bytes=F("size_bytes") + existing.size_bytes - old_size,
        updated_at=now,
        status=StudyStatus.RECEIVING,
    )
    StudyEvent.objects.create(
        study=study,
        kind="instance_replaced",
        message=f"Instance {existing.sop_instance_uid} was sent again with different content; "
        f"the new version replaced the old one.",
    )
    if old_key != existing.storage_key:
        transaction.on_commit(lambda: storage.file_delete(old_key))
    return existing


def _study_for(
    ds: Dataset, *, study_uid: str, calling_ae: str, now, cached: Study | None
) -> tuple[Study, bool]:
    study = cached or Study.objects.filter(study_instance_uid=study_uid).first()
    modality = _str(ds, "Modality", 16)
    if study:
        if modality and modality not in study.modalities.split("\\"):
            study.modalities = "\\".join(filter(None, [study.modalities, modality]))[:64]
            Study.objects.filter(pk=study.pk).update(modalities=study.modalities)
        return study, False
    patient = patient_match(dataset=ds, fallback_key=study_uid)
    study = Study.objects.create(
        study_instance_uid=study_uid,
        patient=patient,
        accession_number=_str(ds, "AccessionNumber", 16),
        study_id=_str(ds, "StudyID", 16),
        study_date=_da(_str(ds, "StudyDate", 8)),
        study_time=_tm(_str(ds, "StudyTime", 16)),
        description=_str(ds, "StudyDescription", 64),
        modalities=modality,
        referring_physician=_str(ds, "ReferringPhysicianName", 200),
        institution=_str(ds, "InstitutionName", 64),
        sending_ae_title=calling_ae[:16],
        device=Device.objects.filter(ae_title=calling_ae).first() if calling_ae else None,
        received_at=now,
        updated_at=now,
    )
    return study, True


def _series_for(
    ds: Dataset, *, study: Study, series_uid: str, now, cached: Series | None
) -> tuple[Series, bool]:
    series = cached or Series.objects.filter(series_instance_uid=series_uid).first()
    if series:
        return series, False
    series = Series.objects.create(
        study=study,
        series_instance_uid=series_uid,
        series_number=_int(ds, "SeriesNumber"),
        modality=_str(ds, "Modality", 16),
        description=_str(ds, "SeriesDescription", 64),
        body_part=_str(ds, "BodyPartExamined", 64),
        view_position=_str(ds, "ViewPosition", 16),
        laterality=_str(ds, "ImageLaterality", 2) or _str(ds, "Laterality", 2),
        protocol_name=_str(ds, "ProtocolName", 64),
        received_at=now,
    )
    return series, True


def studies_complete(*, study_ids: Iterable[int]) -> int:
    """The sender released (or lost) its association: its studies are complete until more arrives."""
    ids = list(study_ids)
    if not ids:
        return 0
    with transaction.atomic():
        completed = Study.objects.filter(pk__in=ids, status=StudyStatus.RECEIVING).update(
            status=StudyStatus.COMPLETE, updated_at=timezone.now()
        )
        thumbnails.study_thumbnails_request(study_ids=ids)
    return completed


def studies_complete_idle(*, idle_seconds: int = 300) -> int:
    """Studies still 'receiving' with nothing new for a while (a sender that vanished) are complete."""
    cutoff = timezone.now() - timezone.timedelta(seconds=idle_seconds)
    idle = Study.objects.filter(status=StudyStatus.RECEIVING, updated_at__lt=cutoff)
    return studies_complete(study_ids=idle.values_list("pk", flat=True))
