"""The drop folder: devices that can only export files put them in a folder; the portal
imports each file once, then moves it to `done/<date>/`, or to `refused/<date>/` with a
`<name>.reason.txt` beside it saying why.

A file is taken only once it has stopped growing: its size and modification time are the same
on two looks `settle_seconds` apart, so a half-copied export is never imported. Subfolders are
walked too (a copied CD or an export folder); ZIP archives are unpacked.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.db import close_old_connections, connections
from django.utils import timezone

from imaging import imports
from imaging.models import ImportBatch, ImportOutcome, ImportSource

logger = logging.getLogger(__name__)

DONE = "done"
REFUSED = "refused"
# Names of files still being written by common copy tools and browsers.
_PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".filepart")


@dataclass
class DropFolder:
    """A watched folder and what was seen of its files on the last look."""

    root: Path
    settle_seconds: float = 5.0
    seen: dict[Path, tuple[int, int, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = Path(self.root)


def _waiting_files(folder: DropFolder) -> list[Path]:
    skip = {folder.root / DONE, folder.root / REFUSED}
    found = []
    for dirpath, dirnames, filenames in os.walk(folder.root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if here / d not in skip and not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and not name.lower().endswith(_PARTIAL_SUFFIXES):
                found.append(here / name)
    return found


def _settled(folder: DropFolder, files: list[Path], now: float) -> list[Path]:
    """Files whose size and mtime did not change since the last look, that long ago or more."""
    ready, seen = [], {}
    for path in files:
        try:
            info = path.stat()
        except OSError:
            continue  # moved or deleted meanwhile
        signature = (info.st_size, info.st_mtime_ns)
        previous = folder.seen.get(path)
        if previous and previous[:2] == signature and now - previous[2] >= folder.settle_seconds:
            ready.append(path)
        else:
            first_seen = previous[2] if previous and previous[:2] == signature else now
            seen[path] = (*signature, first_seen)
    folder.seen = seen
    return ready


def drop_folder_scan(*, folder: DropFolder, now: float | None = None) -> ImportBatch | None:
    """One look at the folder: import every settled file, move each aside. None when idle."""
    folder.root.mkdir(parents=True, exist_ok=True)
    ready = _settled(folder, _waiting_files(folder), time.monotonic() if now is None else now)
    if not ready:
        return None
    batch = imports.batch_open(source=ImportSource.DROP_FOLDER)
    try:
        for path in ready:
            _file_take(folder, batch, path)
    finally:
        imports.batch_close(batch=batch)
    logger.info(
        "drop folder: %d imported, %d already held, %d replaced, %d refused",
        batch.imported, batch.duplicates, batch.replaced, batch.refused,
    )  # fmt: skip
    return batch


def _file_take(folder: DropFolder, batch: ImportBatch, path: Path) -> None:
    relative = path.relative_to(folder.root)
    try:
        items = imports.batch_path_import(
            batch=batch, path=path, name=relative.as_posix(), consume=False
        )
    except Exception as exc:  # one bad file never stops the folder
        logger.exception("drop folder: %s could not be imported", relative)
        _move_aside(folder, path, REFUSED, f"could not be imported because of an error: {exc}")
        return
    refused = [i for i in items if i.outcome == ImportOutcome.REFUSED]
    taken = [i for i in items if i.outcome != ImportOutcome.REFUSED]
    if refused and not any(i.outcome != ImportOutcome.IGNORED for i in taken):
        _move_aside(folder, path, REFUSED, _reasons(refused))
    else:
        _move_aside(folder, path, DONE, _reasons(refused) if refused else "")


def _reasons(items) -> str:
    if len(items) == 1:
        return items[0].reason + "\n"
    return "".join(f"{item.name}: {item.reason}\n" for item in items)


def _move_aside(folder: DropFolder, path: Path, where: str, reason: str) -> Path:
    """Move to `<where>/<date>/<relative path>` (never overwriting), with a reason file if any."""
    relative = path.relative_to(folder.root)
    target = folder.root / where / timezone.localdate().isoformat() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    stem, number = target, 1
    while target.exists():
        target = stem.with_name(f"{stem.stem}-{number}{stem.suffix}")
        number += 1
    try:
        os.replace(path, target)
    except OSError:
        shutil.move(path, target)
    if reason:
        target.with_name(target.name + ".reason.txt").write_text(reason, encoding="utf-8")
    folder.seen.pop(path, None)
    return target


def drop_folder_watch(
    *, folder: DropFolder, stop: threading.Event, poll_seconds: float = 2.0
) -> None:
    """Look at the folder every `poll_seconds` until `stop` is set; errors are logged, not fatal."""
    logger.info("watching drop folder %s", folder.root)
    while not stop.is_set():
        try:
            close_old_connections()
            drop_folder_scan(folder=folder)
        except Exception:
            logger.exception("drop folder: a look at %s failed; trying again", folder.root)
        stop.wait(poll_seconds)
    connections.close_all()
