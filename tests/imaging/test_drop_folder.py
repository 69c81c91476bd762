"""The drop folder: the watcher runs on a thread over a temporary folder, as the `dropfolder`
command runs it; files are imported once and moved to done/ or refused/ with a reason."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.utils import timezone

from imaging.dropfolder import DropFolder, drop_folder_scan, drop_folder_watch
from imaging.models import ImportBatch, ImportSource, Instance, Study, StudyStatus
from imaging.synthetic import to_bytes
from tests.imaging.import_support import cd_write, files_write, series_datasets, zip_write

pytestmark = pytest.mark.django_db(transaction=True)

DEADLINE_SECONDS = 30


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def watcher(tmp_path):
    root = tmp_path / "drop"
    root.mkdir()
    stop = threading.Event()
    folder = DropFolder(root=root, settle_seconds=0)
    thread = threading.Thread(
        target=drop_folder_watch,
        kwargs={"folder": folder, "stop": stop, "poll_seconds": 0.1},
        daemon=True,
    )
    thread.start()
    yield root
    stop.set()
    thread.join(timeout=DEADLINE_SECONDS)
    assert not thread.is_alive()


def _today(root: Path, where: str) -> Path:
    return root / where / timezone.localdate().isoformat()


def test_files_in_subfolders_are_imported_once_and_moved_to_done(watcher):
    datasets = series_datasets(3, patient_id="P-DROP")
    files_write(watcher / "xray-export" / "2026", datasets)

    _wait_for(lambda: len(list(_today(watcher, "done").rglob("*.dcm"))) == 3, "three files done")

    assert not list((watcher / "xray-export").rglob("*.dcm"))
    study = Study.objects.get(study_instance_uid=datasets[0].StudyInstanceUID)
    assert study.instance_count == 3
    # The scan's batch closes after its files are moved: then the study is complete.
    _wait_for(
        lambda: Study.objects.get(pk=study.pk).status == StudyStatus.COMPLETE, "study complete"
    )
    assert ImportBatch.objects.filter(source=ImportSource.DROP_FOLDER).exists()
    assert (_today(watcher, "done") / "xray-export" / "2026" / "IMG0001.dcm").exists()


def test_a_bad_file_goes_to_refused_with_its_reason_and_the_watcher_goes_on(watcher):
    (watcher / "dog.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 100)
    _wait_for(lambda: (_today(watcher, "refused") / "dog.jpg").exists(), "the photo refused")
    reason = (_today(watcher, "refused") / "dog.jpg.reason.txt").read_text()
    assert "not a DICOM file" in reason

    [ds] = series_datasets(1)
    (watcher / "later.dcm").write_bytes(to_bytes(ds))
    _wait_for(lambda: (_today(watcher, "done") / "later.dcm").exists(), "the next file done")
    assert Instance.objects.filter(sop_instance_uid=ds.SOPInstanceUID).exists()


def test_a_zip_and_a_copied_cd_are_imported(watcher, tmp_path):
    zipped = series_datasets(2)
    archive = zip_write(
        tmp_path / "export.zip", {f"a/{n}": to_bytes(d) for n, d in enumerate(zipped)}
    )
    cd = cd_write(tmp_path / "CD", series_datasets(2, patient_id="P-CD"))
    os.replace(archive, watcher / "export.zip")
    os.replace(cd, watcher / "CD")

    _wait_for(lambda: Instance.objects.count() == 4, "four instances")
    _wait_for(lambda: not list((watcher / "CD").rglob("IM*")), "the CD's images moved")

    assert (_today(watcher, "done") / "export.zip").exists()
    assert (_today(watcher, "done") / "CD" / "DICOMDIR").exists()
    assert Study.objects.get(patient__patient_id="P-CD").instance_count == 2


def test_a_file_still_growing_is_left_alone(tmp_path):
    root = tmp_path / "drop"
    folder = DropFolder(root=root, settle_seconds=10)
    [ds] = series_datasets(1)
    root.mkdir()
    growing = root / "big.dcm"
    data = to_bytes(ds)
    growing.write_bytes(data[:500])

    assert drop_folder_scan(folder=folder, now=100.0) is None
    with open(growing, "ab") as handle:
        handle.write(data[500:])
    assert drop_folder_scan(folder=folder, now=115.0) is None  # it changed: look again
    assert drop_folder_scan(folder=folder, now=120.0) is None  # unchanged, but only 5 s
    batch = drop_folder_scan(folder=folder, now=126.0)

    assert batch is not None and batch.imported == 1
    assert not growing.exists()


def test_the_command_stops_cleanly_on_sigterm(tmp_path):
    root = tmp_path / "drop"
    env = {**os.environ, "PORTAL_DROP_FOLDER": str(root)}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "dropfolder", "--poll", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for(root.exists, "the drop folder created")
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=DEADLINE_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "Drop folder stopped." in output
