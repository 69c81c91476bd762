"""ZIP archives and folders (a copied CD, an export) as lists of files to import.

A ZIP is unpacked member by member into a private staging folder under names we choose, so a
member named `../../etc/passwd` or an absolute path can never write outside it; such members
are refused. Unpacking stops when the archive turns out to be a zip bomb: members that expand
far beyond their compressed size or a total beyond what the disk can hold.
A folder with a DICOMDIR (a CD) is read through it (PS3.10 8.5, PS3.3 F.3): only the files it
references are imported; the viewer program and everything else on the disc is ignored.
"""

from __future__ import annotations

import logging
import os
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pydicom import dcmread

from imaging import storage
from imaging.imports.files import Refused, ignore_reason

logger = logging.getLogger(__name__)

_CHUNK = 1024 * 1024
# A DICOM image rarely compresses beyond 20:1; a member past this ratio (and bigger than a
# small file, which may be all zeros) is a zip bomb.
MAX_RATIO = 200
RATIO_FROM_BYTES = 10 * 1024 * 1024
MAX_MEMBERS = 200_000
# Never unpack beyond what leaves this much of the disk free.
RESERVE_BYTES = 512 * 1024 * 1024


NOT_LISTED = "on the CD but not listed in its DICOMDIR, so not one of its images"


@dataclass(frozen=True)
class Entry:
    """A file to import (`path`), or one refused or ignored before import, by its name in the source."""

    name: str
    path: Path | None = None
    refused: str = ""
    ignored: str = ""


def is_zip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) in (b"PK\x03\x04", b"PK\x05\x06")


def _member_path(name: str) -> PurePosixPath | None:
    """The member's relative path, or None when it would land outside the folder."""
    name = name.replace("\\", "/")
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
        return None
    parts = [p for p in pure.parts if p not in ("", ".")]
    return PurePosixPath(*parts) if parts else None


def zip_unpack(*, path: Path, into: Path, label: str) -> Iterator[Entry]:
    """Unpack the archive at `path` into `into`, yielding refused members as they are met.

    Raises Refused for the whole archive when it is not a readable ZIP or is a zip bomb."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise Refused("damaged ZIP archive: it cannot be opened") from exc
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise Refused(f"ZIP archive has more than {MAX_MEMBERS} files")
        free = storage.free_bytes()
        budget = (free - RESERVE_BYTES) if free is not None else None
        written_total = 0
        for member in members:
            if member.is_dir():
                continue
            name = f"{label}/{member.filename}"
            relative = _member_path(member.filename)
            if relative is None:
                yield Entry(name, refused="its path points outside the archive")
                continue
            if stat.S_ISLNK(member.external_attr >> 16):
                yield Entry(name, refused="a link, not a file")
                continue
            if member.flag_bits & 0x1:
                yield Entry(name, refused="password-protected file in the archive")
                continue
            if member.file_size > RATIO_FROM_BYTES and member.file_size > MAX_RATIO * max(
                member.compress_size, 1
            ):
                raise Refused("refused as a zip bomb: a file expands far beyond its size")
            target = into / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            try:
                with archive.open(member) as source, open(target, "wb") as out:
                    while chunk := source.read(_CHUNK):
                        written += len(chunk)
                        # The sizes in the archive's directory can lie: count what comes out.
                        if written > member.file_size or (
                            budget is not None and written_total + written > budget
                        ):
                            raise Refused(
                                "refused as a zip bomb: it expands beyond its stated size"
                            )
                        out.write(chunk)
            except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as exc:
                target.unlink(missing_ok=True)
                yield Entry(name, refused=f"damaged file in the archive ({exc})")
                continue
            except Refused:
                target.unlink(missing_ok=True)
                raise
            written_total += written


def _is_dicomdir(path: Path) -> bool:
    return path.name.upper() == "DICOMDIR"


def dicomdir_references(dicomdir: Path) -> list[str]:
    """The files a DICOMDIR references, relative to its folder (PS3.3 F.3.2.2: Referenced File ID
    is the path's components, at most eight)."""
    ds = dcmread(dicomdir, stop_before_pixels=False)
    found = []
    for record in ds.get("DirectoryRecordSequence", []):
        file_id = record.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [file_id] if isinstance(file_id, str) else list(file_id)
        found.append("/".join(str(p).strip() for p in parts))
    return found


def folder_entries(*, root: Path, label: str) -> Iterator[Entry]:
    """Every file under `root`, each once, as Entries; CD folders are read through their DICOMDIR."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    dicomdirs = [p for p in files if _is_dicomdir(p)]
    covered: set[Path] = set()
    for dicomdir in sorted(dicomdirs, key=lambda p: len(p.parts)):
        folder = dicomdir.parent
        if folder in covered or any(parent in covered for parent in folder.parents):
            continue
        try:
            references = dicomdir_references(dicomdir)
        except Exception as exc:  # a damaged index: import the folder's files one by one
            logger.warning(
                "DICOMDIR %s unreadable, importing its folder's files: %s", dicomdir, exc
            )
            continue
        covered.add(folder)
        by_lower = {
            os.path.relpath(p, folder).replace(os.sep, "/").lower(): p
            for p in files
            if folder in p.parents
        }
        referenced_paths = set()
        for reference in references:
            found = by_lower.get(reference.lower())
            name = _name(label, root, folder / reference)
            if found is None:
                yield Entry(name, refused="listed in the CD's DICOMDIR but missing from the disc")
                continue
            referenced_paths.add(found)
            yield Entry(_name(label, root, found), path=found)
        for path in files:
            if folder in path.parents and path not in referenced_paths:
                name = _name(label, root, path)
                yield Entry(name, path=path, ignored=ignore_reason(name) or NOT_LISTED)
    for path in files:
        if not any(folder in path.parents for folder in covered):
            yield Entry(_name(label, root, path), path=path)


def _name(label: str, root: Path, path: Path) -> str:
    relative = os.path.relpath(path, root).replace(os.sep, "/")
    return f"{label}/{relative}" if label else relative
