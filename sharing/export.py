"""A share's download: a ZIP of its DICOM files with a DICOMDIR, and the signed report's PDF.

The ZIP is produced as a generator, entry by entry and chunk by chunk (ZIP64, stored, with data
descriptors), so a 2 GB study never sits in memory. The DICOMDIR is built first from the
files' headers alone (pydicom's FileSet, written to a temporary folder of header-only files),
then each full file is streamed under the path the DICOMDIR gives it.
"""

from __future__ import annotations

import io
import logging
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from pydicom import dcmread
from pydicom.fileset import FileSet

from imaging import storage
from imaging.models import Instance
from sharing.anonymize import Anonymizer
from sharing.models import Share
from sharing.scope import share_instances

logger = logging.getLogger(__name__)

CHUNK = 1024 * 1024


class _Pipe:
    """A write-only file that zipfile writes into and the generator drains."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self.written = 0

    def write(self, data) -> int:
        self._chunks.append(bytes(data))
        self.written += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> Iterator[bytes]:
        chunks, self._chunks = self._chunks, []
        yield from chunks


def instance_bytes(instance: Instance, anonymizer: Anonymizer | None) -> Iterator[bytes]:
    """The instance's file in chunks: as stored, or anonymized (one file in memory at a time)."""
    if anonymizer is None:
        with storage.instance_open(instance.storage_key) as handle:
            while chunk := handle.read(CHUNK):
                yield chunk
        return
    with storage.instance_open(instance.storage_key) as handle:
        ds = dcmread(handle)
    anonymizer.dataset(ds)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    yield out.getvalue()


def share_anonymizer(share: Share) -> Anonymizer | None:
    return Anonymizer(share.salt) if share.anonymize else None


def _dicomdir(
    instances: list[Instance], anonymizer: Anonymizer | None, folder: Path
) -> tuple[bytes, dict[int, str]]:
    """The DICOMDIR and each instance's path in the ZIP (instances it cannot index go under
    OTHER/ without a record)."""
    fileset = FileSet()
    fileset.ID = "VETSHARE"
    paths: dict[int, str] = {}
    staged: dict[str, int] = {}
    for instance in instances:
        with storage.instance_open(instance.storage_key) as handle:
            header = dcmread(handle, stop_before_pixels=True)
        if anonymizer is not None:
            anonymizer.dataset(header)
        # PS3.3 F.5: the PATIENT and STUDY records need these even where the file leaves
        # them empty (Annex E empties Study ID); only the index carries the placeholder.
        for keyword, placeholder in (("PatientID", "UNKNOWN"), ("StudyID", "1")):
            if not header.get(keyword):
                setattr(header, keyword, placeholder)
        try:
            added = fileset.add(header)
        except (ValueError, KeyError, AttributeError) as exc:
            logger.info("instance %s left out of the DICOMDIR: %s", instance.pk, exc)
            paths[instance.pk] = f"OTHER/{instance.pk:08d}.dcm"
            continue
        staged[added.SOPInstanceUID] = instance.pk
    fileset.write(folder)
    for record in fileset:
        paths[staged[record.SOPInstanceUID]] = Path(record.FileID).as_posix()
    return (folder / "DICOMDIR").read_bytes(), paths


def report_pdf_of(share: Share) -> bytes | None:
    """The study's report as PDF when the share includes it and it is signed (final)."""
    if not share.include_report:
        return None
    from reports.pdf import report_pdf
    from reports.reports import report_of

    report = report_of(share.study)
    if report is None or not report.locked:
        return None
    return report_pdf(report)


def share_zip(share: Share) -> Iterator[bytes]:
    """The share's ZIP, chunk by chunk."""
    anonymizer = share_anonymizer(share)
    instances = list(
        share_instances(share)
        .select_related("series")
        .order_by("series__series_number", "series__pk", "instance_number", "pk")
    )
    with tempfile.TemporaryDirectory(prefix="share-zip-") as tmp:
        dicomdir, paths = _dicomdir(instances, anonymizer, Path(tmp))
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr("DICOMDIR", dicomdir)
        yield from pipe.drain()
        for instance in instances:
            with zf.open(paths[instance.pk], mode="w", force_zip64=True) as entry:
                for chunk in instance_bytes(instance, anonymizer):
                    entry.write(chunk)
                    yield from pipe.drain()
            yield from pipe.drain()
        pdf = report_pdf_of(share)
        if pdf is not None:
            zf.writestr("REPORT.pdf", pdf)
    yield from pipe.drain()


def zip_name(share: Share) -> str:
    study = share.study
    if share.anonymize:
        return f"study-share-{share.pk}.zip"
    when = study.study_date.strftime("%Y%m%d") if study.study_date else "study"
    return f"{study.patient.name or 'study'}-{when}.zip".replace(" ", "_")
