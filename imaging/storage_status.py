"""How much space the portal's files take and how much is left, for administrators.

The free-space level is one filesystem call, cheap enough for every staff page's banner. The
breakdown of what is used (the index by modality and month, the derived files on disk, the
database) takes longer on a large archive, so it is kept for a few minutes.
"""

import datetime
import logging
import os
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from imaging import storage
from imaging.models import Instance

logger = logging.getLogger(__name__)

# Administrators see the storage status: the people who can free space by removing instances.
STORAGE_STATUS_PERMISSION = "imaging.delete_instance"
REPORT_CACHE_KEY = "imaging:storage-report"
REPORT_CACHE_SECONDS = 300
MONTHS_SHOWN = 12

# Top-level storage folders of files made from the instances, in the clinic's words.
_FOLDER_LABELS = {
    "thumbnails": "Thumbnails",
    "dicomweb-metadata": "Viewer metadata (kept copies)",
    "staging": "Being received right now",
}
_INSTANCE_FOLDER = "dicom"


class StorageLevel(StrEnum):
    OK = "ok"
    LOW = "low"  # below the warning threshold: time to act
    FULL = "full"  # below DICOM_MIN_FREE_BYTES: the listener refuses C-STORE (0xA700)
    UNKNOWN = "unknown"  # not a local folder (an object store): free space is not ours to see


@dataclass(frozen=True)
class StorageSpace:
    """Free space on the storage filesystem against the two thresholds."""

    total: int | None
    free: int | None
    warn_below: int
    refuse_below: int
    level: StorageLevel

    @property
    def used(self) -> int | None:
        return None if self.total is None or self.free is None else self.total - self.free

    @property
    def free_percent(self) -> float | None:
        if not self.total or self.free is None:
            return None
        return round(100 * self.free / self.total, 1)

    @property
    def message(self) -> str:
        """What the clinic should know, in words ("" when all is well)."""
        if self.level == StorageLevel.FULL:
            return (
                f"Storage is full: {filesizeformat(self.free)} free. The DICOM listener is "
                "refusing new images (modalities keep them and can send again once space is "
                "freed). Free space or add a disk now."
            )
        if self.level == StorageLevel.LOW:
            return (
                f"Storage is running low: {filesizeformat(self.free)} free "
                f"({self.free_percent}%). Below {filesizeformat(self.refuse_below)} the DICOM "
                "listener refuses new images. Free space or add a disk soon."
            )
        return ""


def storage_space() -> StorageSpace:
    """Free space now, and whether it is below the warning or the refusing threshold."""
    refuse_below = settings.DICOM_MIN_FREE_BYTES
    root = storage.local_path("")
    if root is None:
        return StorageSpace(None, None, 0, refuse_below, StorageLevel.UNKNOWN)
    try:
        root.mkdir(parents=True, exist_ok=True)
        usage = os.statvfs(root)
    except OSError as exc:
        # A page's banner must not fail with it; ingest reports the broken storage itself.
        logger.warning("storage at %s cannot be measured: %s", root, exc)
        return StorageSpace(None, None, 0, refuse_below, StorageLevel.UNKNOWN)
    total = usage.f_blocks * usage.f_frsize
    free = usage.f_bavail * usage.f_frsize  # what the portal (not root) may still write
    warn_below = max(
        settings.STORAGE_WARN_FREE_BYTES,
        total * settings.STORAGE_WARN_FREE_PERCENT // 100,
        refuse_below,
    )
    if free < refuse_below:
        level = StorageLevel.FULL
    elif free < warn_below:
        level = StorageLevel.LOW
    else:
        level = StorageLevel.OK
    return StorageSpace(total, free, warn_below, refuse_below, level)


@dataclass(frozen=True)
class UsageLine:
    label: str
    bytes: int
    files: int


@dataclass(frozen=True)
class StorageReport:
    space: StorageSpace
    instances: UsageLine
    derived: list[UsageLine]
    by_modality: list[UsageLine]
    by_month: list[UsageLine]
    database_bytes: int | None
    measured_at: datetime.datetime
    notes: list[str] = field(default_factory=list)

    @property
    def portal_bytes(self) -> int:
        """Everything the portal keeps: instances, derived files and the database."""
        derived = sum(line.bytes for line in self.derived)
        return self.instances.bytes + derived + (self.database_bytes or 0)


def storage_report(*, fresh: bool = False) -> StorageReport:
    """The breakdown of used space (kept REPORT_CACHE_SECONDS), with free space always current."""
    kept = None if fresh else cache.get(REPORT_CACHE_KEY)
    if kept is None:
        kept = _measure()
        cache.set(REPORT_CACHE_KEY, kept, REPORT_CACHE_SECONDS)
    return StorageReport(space=storage_space(), **kept)


def _measure() -> dict:
    totals = Instance.objects.aggregate(n=Count("pk"), b=Sum("size_bytes"))
    by_modality = (
        Instance.objects.values("series__modality")
        .annotate(n=Count("pk"), b=Sum("size_bytes"))
        .order_by("-b")
    )
    today = timezone.localdate()
    year, month = divmod(today.year * 12 + today.month - MONTHS_SHOWN, 12)
    since = datetime.date(year, month + 1, 1)  # the first day of the oldest month shown
    by_month = (
        Instance.objects.filter(received_at__date__gte=since)
        .annotate(month=TruncMonth("received_at"))
        .values("month")
        .annotate(n=Count("pk"), b=Sum("size_bytes"))
        .order_by("-month")
    )
    derived, notes = _derived_files()
    return {
        "instances": UsageLine("Stored images (instances)", totals["b"] or 0, totals["n"]),
        "derived": derived,
        "by_modality": [
            UsageLine(row["series__modality"] or "unknown", row["b"] or 0, row["n"])
            for row in by_modality
        ],
        "by_month": [
            UsageLine(f"{row['month']:%B %Y}", row["b"] or 0, row["n"]) for row in by_month
        ],
        "database_bytes": _database_bytes(),
        "measured_at": timezone.now(),
        "notes": notes,
    }


def _derived_files() -> tuple[list[UsageLine], list[str]]:
    """Files made from the instances (thumbnails, kept metadata …), per top-level folder."""
    root = storage.local_path("")
    if root is None:
        return [], ["Storage is not a local folder: derived files are not measured here."]
    lines = []
    try:
        entries = sorted(os.scandir(root), key=lambda entry: entry.name)
    except OSError:
        return [], [f"The storage folder {root} cannot be read."]
    loose = UsageLine("Other files", 0, 0)
    for entry in entries:
        if entry.name == _INSTANCE_FOLDER:
            continue  # measured from the index, not by walking every file
        size, files = _tree_size(Path(entry.path))
        if entry.is_dir(follow_symlinks=False):
            label = _FOLDER_LABELS.get(entry.name, f"Other: {entry.name}/")
            lines.append(UsageLine(label, size, files))
        else:
            loose = UsageLine(loose.label, loose.bytes + size, loose.files + files)
    if loose.files:
        lines.append(loose)
    return lines, []


def _tree_size(path: Path) -> tuple[int, int]:
    total = files = 0
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            if not current.is_dir() or current.is_symlink():
                total += current.lstat().st_size
                files += 1
                continue
            with os.scandir(current) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    else:
                        total += entry.stat(follow_symlinks=False).st_size
                        files += 1
        except OSError:
            continue  # a file removed while we counted
    return total, files


def _database_bytes() -> int | None:
    """The database's size on disk (SQLite files, or PostgreSQL's own count)."""
    vendor = connection.vendor
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            return int(cursor.fetchone()[0])
    if vendor == "sqlite":
        name = Path(str(connection.settings_dict["NAME"]))
        sizes = [Path(f"{name}{suffix}") for suffix in ("", "-wal", "-shm")]
        return sum(path.stat().st_size for path in sizes if path.exists())
    return None
