"""`python -m bench share-zip [--ct-slices N] [--size PX]`: peak memory while a share's ZIP of a
large study is produced (by default a 500-slice 1024×1024 16-bit CT, 1 GiB), plain and anonymized.

Runs in this process on a scratch SQLite portal in a temporary folder: ingests the CT once,
then consumes `sharing.export.share_zip` chunk by chunk into a counter (as a slow client would,
nothing kept) and reads the process's peak resident memory (VmHWM, reset before each run).
Target: under 100 MB above the resident memory before the run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

TARGET_MIB = 100


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    # Writing 5 to clear_refs resets VmHWM to the current resident size (Linux >= 4.0).
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def run(*, ct_slices: int, size: int, data_dir: Path, keep: bool = False) -> int:
    from bench import data

    dataset = data.ct_series(data_dir, slices=ct_slices, size=size)
    work = Path(tempfile.mkdtemp(prefix="vetportal-share-zip-"))
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    os.environ["PORTAL_DATA_DIR"] = str(work / "data")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        study = _ingest(dataset.directory, work)
        from sharing import shares
        from sharing.export import share_zip

        print(
            f"Study: {study.instance_count} instances, {study.size_bytes / 2**30:.2f} GiB "
            f"({ct_slices} slices {size}×{size} 16-bit)"
        )
        print(f"{'share':<12}{'ZIP bytes':>16}{'seconds':>10}{'MB/s':>8}"
              f"{'RSS before':>12}{'peak RSS':>10}{'growth':>9}  target < {TARGET_MIB} MiB")  # fmt: skip
        met = True
        for label, anonymize in (("plain", False), ("anonymized", True)):
            share = shares.share_create(
                study=study, email="bench@example.org", anonymize=anonymize
            ).share
            _reset_peak()
            before = _status_kib("VmRSS")
            started = time.monotonic()
            total = 0
            for chunk in share_zip(share):
                total += len(chunk)
            seconds = time.monotonic() - started
            peak = _status_kib("VmHWM")
            growth = (peak - before) / 1024
            met = met and growth < TARGET_MIB
            print(
                f"{label:<12}{total:>16,}{seconds:>10.1f}{total / seconds / 1e6:>8.0f}"
                f"{before / 1024:>10.0f} M{peak / 1024:>8.0f} M{growth:>7.0f} M  "
                + ("met" if growth < TARGET_MIB else "NOT met")
            )
        return 0
    finally:
        if keep:
            print(f"Kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def _ingest(directory: Path, work: Path):
    from imaging.ingest import instance_receive_file, studies_complete
    from imaging.models import Study

    staging = work / "staging"
    staging.mkdir(parents=True)
    print(f"Ingesting {directory} …", flush=True)
    for index, path in enumerate(sorted(directory.rglob("*.dcm"))):
        copy = staging / f"{index}.dcm"
        shutil.copyfile(path, copy)
        instance_receive_file(path=copy, calling_ae="BENCH")
    study = Study.objects.get()
    studies_complete(study_ids=[study.pk])
    study.refresh_from_db()
    return study
