"""Where DICOM files and thumbnails live, through Django's storage API.

Writes are atomic: a file is complete on storage (written, flushed, fsynced, renamed into
place) before anything refers to it, so an indexed instance always has its whole file.
"""

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, default_storage

_CHUNK = 1024 * 1024


def storage() -> Storage:
    return default_storage


def instance_key(*, study_uid: str, series_uid: str, sop_uid: str, sha256: str) -> str:
    """`dicom/<study>/<series>/<sop>.<hash>.dcm`: a replaced instance gets a new file, so the old
    one stays valid until the index points at the new one."""
    return f"dicom/{study_uid}/{series_uid}/{sop_uid}.{sha256[:12]}.dcm"


def thumbnail_key(*, study_uid: str, series_uid: str, sop_uid: str | None = None) -> str:
    name = sop_uid or "series"
    return f"thumbnails/{study_uid}/{series_uid}/{name}.png"


def local_path(key: str) -> Path | None:
    """The file's path when storage is a local folder, else None."""
    try:
        return Path(storage().path(key))
    except NotImplementedError:
        return None


def staging_dir() -> Path:
    """A folder for files being received, on the same filesystem as storage where it is local,
    so moving a finished file into place is a rename."""
    root = local_path("staging")
    if root is None:
        root = Path(tempfile.gettempdir()) / "portal-staging"
    root.mkdir(parents=True, exist_ok=True)
    return root


def file_sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_store(*, src: Path, key: str) -> None:
    """Move the finished file at `src` to `key`, durably. `src` is consumed."""
    dest = local_path(key)
    if dest is None:
        with open(src, "rb") as handle:
            if storage().exists(key):
                storage().delete(key)
            storage().save(key, File(handle, name=key))
        src.unlink(missing_ok=True)
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(src, "rb+") as handle:
        os.fsync(handle.fileno())
    try:
        os.replace(src, dest)
    except OSError:
        # Different filesystem: copy beside the destination first, then rename into place.
        with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False) as tmp:
            with open(src, "rb") as source:
                shutil.copyfileobj(source, tmp, _CHUNK)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp.name, dest)
        src.unlink(missing_ok=True)
    _fsync_dir(dest.parent)


def file_delete(key: str) -> None:
    if key and storage().exists(key):
        storage().delete(key)


def instance_open(key: str) -> IO[bytes]:
    return storage().open(key, "rb")


def derived_save(key: str, data: bytes) -> None:
    """Store a file made from the instances (a thumbnail, kept metadata), replacing any earlier
    one whole: a reader sees the old version or the new one, never half of it."""
    dest = local_path(key)
    if dest is None:
        file_delete(key)
        storage().save(key, ContentFile(data))
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False, suffix=".part") as tmp:
        tmp.write(data)
    os.replace(tmp.name, dest)


def thumbnail_open(key: str) -> IO[bytes]:
    return storage().open(key, "rb")


def free_bytes() -> int | None:
    """Free space where files are stored, when storage is local."""
    root = local_path("")
    if root is None:
        return None
    root.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(root).free
