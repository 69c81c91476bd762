"""Importing files into the portal: each one through the same ingest as a modality's C-STORE.

A batch is one upload, STOW-RS request or drop-folder scan. Every file gets an ImportItem with
its outcome (imported, already held, replaced, refused with the reason, ignored), so the
summary survives a reload. Closing the batch completes its studies, which starts routing and
order matching exactly as when a modality releases its association.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from imaging import ingest, storage
from imaging.dicom import status
from imaging.imports import archives, files
from imaging.imports.files import Refused
from imaging.models import ImportBatch, ImportItem, ImportOutcome, StudyEvent

logger = logging.getLogger(__name__)

# A ZIP inside a ZIP is unpacked too, but not deeper: a clinic's exports never nest further.
MAX_ARCHIVE_DEPTH = 2


def batch_open(*, source: str, user=None) -> ImportBatch:
    return ImportBatch.objects.create(source=source, created_by=user)


def batch_path_import(
    *,
    batch: ImportBatch,
    path: Path,
    name: str,
    consume: bool,
    expect_study_uid: str = "",
    cache: ingest.IngestCache | None = None,
    depth: int = 0,
) -> list[ImportItem]:
    """Import a file, a ZIP archive or a folder (a CD is read through its DICOMDIR).

    `consume`: the path is ours to delete (a staged upload); otherwise it is left in place."""
    cache = cache if cache is not None else ingest.IngestCache()
    path = Path(path)
    if path.is_dir():
        return _entries_import(batch, archives.folder_entries(root=path, label=name), cache, depth)
    if archives.is_zip(path):
        return _archive_import(
            batch, path=path, name=name, consume=consume, cache=cache, depth=depth
        )
    return [
        _file_import(
            batch, path=path, name=name, consume=consume, cache=cache,
            expect_study_uid=expect_study_uid,
        )
    ]  # fmt: skip


def _archive_import(batch, *, path, name, consume, cache, depth) -> list[ImportItem]:
    size = path.stat().st_size
    if depth >= MAX_ARCHIVE_DEPTH:
        if consume:
            path.unlink(missing_ok=True)
        return [_item(batch, name, ImportOutcome.REFUSED, "a ZIP inside a ZIP inside a ZIP", size)]
    unpacked = Path(tempfile.mkdtemp(prefix="zip-", dir=storage.staging_dir()))
    items: list[ImportItem] = []
    try:
        try:
            entries = list(archives.zip_unpack(path=path, into=unpacked, label=name))
        except Refused as exc:
            return [_item(batch, name, ImportOutcome.REFUSED, exc.reason, size)]
        finally:
            if consume:
                path.unlink(missing_ok=True)
        items += _entries_import(batch, entries, cache, depth + 1)
        # The unpacked files are ours: ingest moves them into storage without another copy.
        unpacked_entries = archives.folder_entries(root=unpacked, label=name)
        items += _entries_import(batch, unpacked_entries, cache, depth + 1, consume=True)
    finally:
        shutil.rmtree(unpacked, ignore_errors=True)
    return items


def _entries_import(batch, entries, cache, depth, consume: bool = False) -> list[ImportItem]:
    items = []
    for entry in entries:
        if entry.refused:
            items.append(_item(batch, entry.name, ImportOutcome.REFUSED, entry.refused, 0))
        elif entry.ignored:
            items.append(
                _item(batch, entry.name, ImportOutcome.IGNORED, entry.ignored, _size(entry.path))
            )
        elif archives.is_zip(entry.path):
            items += _archive_import(
                batch, path=entry.path, name=entry.name, consume=consume, cache=cache, depth=depth
            )
        else:
            items.append(
                _file_import(batch, path=entry.path, name=entry.name, consume=consume, cache=cache)
            )
    return items


def _size(path: Path | None) -> int:
    try:
        return path.stat().st_size if path else 0
    except OSError:
        return 0


def _staged_copy(path: Path) -> Path:
    """A staging copy (streamed) that ingest may consume. Not a hard link: the stored file must
    not share its bytes with one a device or a person can still change, or be read-only as
    files copied from a CD are."""
    fd, name = tempfile.mkstemp(dir=storage.staging_dir(), suffix=".import")
    os.close(fd)
    shutil.copyfile(path, name)
    return Path(name)


def _file_import(batch, *, path, name, consume, cache, expect_study_uid="") -> ImportItem:
    size = _size(path)
    ignored = files.ignore_reason(name)
    if ignored:
        if consume:
            path.unlink(missing_ok=True)
        return _item(batch, name, ImportOutcome.IGNORED, ignored, size)
    staged = path if consume else _staged_copy(path)
    header = None
    try:
        kind = files.dicom_kind(staged)
        if kind is None:
            return _not_dicom(batch, path=staged, name=name, size=size, cache=cache)
        if not kind.part10:
            wrapped = files.raw_to_part10(path=staged, transfer_syntax=kind.raw_transfer_syntax)
            staged.unlink(missing_ok=True)
            staged = wrapped
        header = files.header_read(staged)
        if files.is_media_directory(header):
            return _item(batch, name, ImportOutcome.IGNORED, files.ignore_reason("DICOMDIR"), size)
        if expect_study_uid and str(header.get("StudyInstanceUID", "")) != expect_study_uid:
            # PS3.18 10.5.3: an instance of another study than the one the request names.
            raise Refused(
                "belongs to another study than the one it was sent to",
                status=status.DATASET_DOES_NOT_MATCH_SOP_CLASS,
            )
        _space_check()
        received = ingest.instance_receive_file(path=staged, cache=cache)
    except Refused as exc:
        return _item(batch, name, ImportOutcome.REFUSED, exc.reason, size, header, exc.status)
    except ingest.IngestError as exc:
        reason = _ingest_reason(exc)
        return _item(batch, name, ImportOutcome.REFUSED, reason, size, header, exc.status)
    except Exception:
        logger.exception("import of %s failed", name)
        reason = "could not be stored because of an error in the portal (see its log)"
        return _item(
            batch, name, ImportOutcome.REFUSED, reason, size, header, status.PROCESSING_FAILURE
        )
    finally:
        staged.unlink(missing_ok=True)
    outcome = (
        ImportOutcome.DUPLICATE if received.duplicate
        else ImportOutcome.REPLACED if received.replaced
        else ImportOutcome.IMPORTED
    )  # fmt: skip
    instance = received.instance
    item = _item(batch, name, outcome, "", size, header)
    item.study_id = instance.series.study_id
    ImportItem.objects.filter(pk=item.pk).update(study_id=item.study_id)
    return item


def _not_dicom(batch, *, path, name, size, cache) -> ImportItem:
    converter = files.converter_for(path=path, name=name)
    if converter is None:
        return _item(batch, name, ImportOutcome.REFUSED, files.NOT_DICOM, size)
    try:
        made = converter.to_dicom(path=path, name=name, batch=batch)
    except Refused as exc:
        return _item(batch, name, ImportOutcome.REFUSED, exc.reason, size, None, exc.status)
    items = [
        _file_import(batch, path=p, name=f"{name} → DICOM", consume=True, cache=cache) for p in made
    ]
    return items[-1] if items else _item(batch, name, ImportOutcome.REFUSED, files.NOT_DICOM, size)


def _space_check() -> None:
    free = storage.free_bytes()
    if free is not None and free < settings.DICOM_MIN_FREE_BYTES:
        raise Refused(
            "the portal's disk is full; ask the administrator to free space, then try again",
            status=status.OUT_OF_RESOURCES,
        )


def _ingest_reason(exc: ingest.IngestError) -> str:
    if exc.status == status.CANNOT_UNDERSTAND:
        return f"damaged DICOM file: {exc}"
    return f"incomplete DICOM file: {exc}"


def _item(batch, name, outcome, reason, size, header=None, code=0) -> ImportItem:
    item = ImportItem.objects.create(
        batch=batch,
        name=name[:500],
        outcome=outcome,
        reason=reason[:500],
        size_bytes=size,
        sop_class_uid=str(header.get("SOPClassUID", "") if header else "")[:64],
        sop_instance_uid=str(header.get("SOPInstanceUID", "") if header else "")[:64],
    )
    # For STOW-RS answers: the status a failed instance reports (not stored).
    item.status = (code or status.CANNOT_UNDERSTAND) if outcome == ImportOutcome.REFUSED else 0
    return item


def batch_close(*, batch: ImportBatch) -> ImportBatch:
    """Count the outcomes, complete the studies (routing, matching) and note it in their history."""
    counts = dict(batch.items.values_list("outcome").annotate(n=Count("pk")).order_by())
    batch.imported = counts.get(ImportOutcome.IMPORTED, 0)
    batch.duplicates = counts.get(ImportOutcome.DUPLICATE, 0)
    batch.replaced = counts.get(ImportOutcome.REPLACED, 0)
    batch.refused = counts.get(ImportOutcome.REFUSED, 0)
    batch.ignored = counts.get(ImportOutcome.IGNORED, 0)
    batch.finished_at = timezone.now()
    batch.save()
    per_study = (
        batch.items.filter(study__isnull=False)
        .values_list("study_id", "outcome")
        .annotate(n=Count("pk"))
        .order_by()
    )
    summary: dict[int, dict[str, int]] = {}
    for study_id, outcome, n in per_study:
        summary.setdefault(study_id, {})[outcome] = n
    who = batch.created_by.get_username() if batch.created_by else ""
    for study_id, by_outcome in summary.items():
        words = ", ".join(
            f"{n} {ImportOutcome(outcome).label.lower()}"
            for outcome, n in sorted(by_outcome.items())
        )
        StudyEvent.objects.create(
            study_id=study_id,
            kind="imported",
            user=batch.created_by,
            message=f"{batch.get_source_display()}{' by ' + who if who else ''}: {words}.",
        )
    ingest.studies_complete(study_ids=summary.keys())
    return batch


def batch_file_stage(chunks) -> Path:
    """Write an upload's chunks to a new staging file (streamed, never whole in memory)."""
    with tempfile.NamedTemporaryFile(
        dir=storage.staging_dir(), suffix=".upload", delete=False
    ) as out:
        for chunk in chunks:
            out.write(chunk)
    return Path(out.name)


def batch_refuse(*, batch: ImportBatch, name: str, reason: str) -> ImportItem:
    """Record a file refused before it reached the importer (a part of the wrong media type)."""
    return _item(batch, name, ImportOutcome.REFUSED, reason, 0, None, status.CANNOT_UNDERSTAND)


def batch_cd_plan(*, batch: ImportBatch, dicomdir: Path, name: str, names: list[str]) -> list[str]:
    """A CD chosen in the browser: which of its files (`names`, paths as the browser sees them)
    to upload, read from its DICOMDIR (consumed). The index itself, the viewer program and
    other files it does not list are recorded as ignored; listed files that are absent, as
    refused. Raises Refused when the DICOMDIR cannot be read."""
    folder = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
    try:
        references = archives.dicomdir_references(dicomdir)
    except Exception as exc:
        raise Refused(f"the CD's DICOMDIR cannot be read ({exc})") from exc
    finally:
        dicomdir.unlink(missing_ok=True)
    on_disc = {n.lower(): n for n in names if n.lower().startswith(folder.lower())}
    wanted = []
    for reference in references:
        found = on_disc.pop((folder + reference).lower(), None)
        if found is None:
            reason = "listed in the CD's DICOMDIR but missing from the disc"
            _item(batch, folder + reference, ImportOutcome.REFUSED, reason, 0)
        else:
            wanted.append(found)
    for other in on_disc.values():
        reason = files.ignore_reason(other) or archives.NOT_LISTED
        _item(batch, other, ImportOutcome.IGNORED, reason, 0)
    return wanted
