"""The listener with DCMTK's `echoscu` and `storescu` as the sending modality."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)
from pynetdicom.dsutils import split_dataset

from clinic.queue import wait_for_local_tasks
from imaging import storage
from imaging.models import Instance, Study
from imaging.synthetic import encode, make_dataset, write
from tests.conftest import require_executable
from tests.dicom_server import running_listener

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(__file__).resolve().parents[2]

SYNTAXES = [
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    JPEG2000Lossless,
    RLELossless,
]


@pytest.fixture(autouse=True)
def _background_work_done():
    yield
    wait_for_local_tasks(timeout=30)


def _dcmtk(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    # Debian's DCMTK leaves Nagle's algorithm on unless told otherwise (see the benchmark notes).
    env = {**os.environ, "TCP_NODELAY": "1"}
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)


def _study_folder(folder: Path) -> tuple[str, dict[str, Path]]:
    """One study with an instance in each transfer syntax, as files on disk."""
    study_uid = generate_uid()
    files = {}
    for number, syntax in enumerate(SYNTAXES, start=1):
        ds = make_dataset(study_uid=study_uid, instance_number=number, modality="DX")
        # Compressing gives the instance a new SOP Instance UID, so read it back from the file.
        path = write(encode(ds, syntax), folder / "study" / f"{number:03d}.dcm")
        files[str(_meta(path).MediaStorageSOPInstanceUID)] = path
    return study_uid, files


def _storescu_profile(path: Path, files: list[Path]) -> tuple[str, str]:
    """A storescu configuration proposing each file's SOP class in each file's own transfer syntax.

    storescu proposes uncompressed syntaxes by default and takes one `--propose-*` option at a
    time; with a profile (`-xf`) compressed files of several kinds travel as they are, each in
    a presentation context of its own, never decompressed or re-encoded on the way.
    """
    pairs = sorted(
        {(str(m.MediaStorageSOPClassUID), str(m.TransferSyntaxUID)) for m in map(_meta, files)}
    )
    syntaxes = sorted({syntax for _, syntax in pairs})
    lines = ["[[TransferSyntaxes]]"]
    for number, syntax in enumerate(syntaxes):
        lines += [f"[Syntax{number}]", f"TransferSyntax1 = {syntax}"]
    lines += ["[[PresentationContexts]]", "[AsStored]"]
    for number, (sop_class, syntax) in enumerate(pairs, start=1):
        lines.append(f"PresentationContext{number} = {sop_class}\\Syntax{syntaxes.index(syntax)}")
    lines += ["[[Profiles]]", "[AsStored]", "PresentationContexts = AsStored"]
    path.write_text("\n".join(lines) + "\n")
    return str(path), "AsStored"


def _meta(path: Path):
    return split_dataset(path)[0]


def _dataset_bytes(path: Path) -> bytes:
    _, offset = split_dataset(path)
    return path.read_bytes()[offset:]


def test_echoscu_succeeds():
    echoscu = require_executable("echoscu")
    with running_listener() as (host, port, ae_title):
        result = _dcmtk(echoscu, "-aet", "DR_ROOM1", "-aec", ae_title, host, str(port))
    assert result.returncode == 0, result.stderr


def test_storescu_sends_a_folder_in_every_syntax_and_it_is_stored_as_sent(dicom_dir):
    storescu = require_executable("storescu")
    study_uid, files = _study_folder(dicom_dir)
    with running_listener() as (host, port, ae_title):
        # +sd +r: every file below the folder; -xf: the profile proposing them as stored.
        result = _dcmtk(
            storescu, "-aet", "DR_ROOM1", "-aec", ae_title, "+sd", "+r",
            "-xf", *_storescu_profile(dicom_dir.parent / "storescu.cfg", list(files.values())),
            host, str(port), str(dicom_dir),
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    study = Study.objects.get(study_instance_uid=study_uid)
    assert study.instance_count == len(SYNTAXES)
    for sop_uid, path in files.items():
        instance = Instance.objects.get(sop_instance_uid=sop_uid)
        sent_syntax = _meta(path).TransferSyntaxUID
        assert instance.transfer_syntax_uid == sent_syntax
        stored = storage.local_path(instance.storage_key)
        assert _dataset_bytes(stored) == _dataset_bytes(path), f"{sent_syntax.name} was re-encoded"


def test_storescu_with_a_non_dicom_file_does_not_stop_the_listener(dicom_dir, caplog):
    storescu = require_executable("storescu")
    echoscu = require_executable("echoscu")
    notes = dicom_dir / "notes.dcm"
    notes.write_text("Rex was calm during the exam.\n" * 50)
    no_study = make_dataset()
    del no_study.StudyInstanceUID
    no_study = write(no_study, dicom_dir / "no-study.dcm")
    good = write(make_dataset(), dicom_dir / "good.dcm")
    with running_listener() as (host, port, ae_title):
        # -nh: go on after a failure. storescu skips the text file itself; the data set
        # without its study UID reaches us and is refused; the good one is stored.
        _dcmtk(
            storescu, "-aet", "DR_ROOM1", "-aec", ae_title, "-nh",
            host, str(port), str(notes), str(no_study), str(good),
        )  # fmt: skip
        after = _dcmtk(echoscu, "-aet", "DR_ROOM1", "-aec", ae_title, host, str(port))
        assert after.returncode == 0, after.stderr
    assert f"refused {_meta(no_study).MediaStorageSOPInstanceUID} from DR_ROOM1" in caplog.text
    assert list(Instance.objects.values_list("sop_instance_uid", flat=True)) == [
        str(_meta(good).MediaStorageSOPInstanceUID)
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_dicomlistener_command_serves_until_sigterm(tmp_path):
    echoscu = require_executable("echoscu")
    port = _free_port()
    env = {**os.environ, "PORTAL_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable, "manage.py", "dicomlistener",
        "--port", str(port), "--ae-title", "CLINICPACS", "--bind", "127.0.0.1",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=BASE_DIR, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        output = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            output.append(line)
            if "listening as CLINICPACS" in line:
                break
        assert f"listening as CLINICPACS on 127.0.0.1:{port}" in "".join(output), output
        echo = _dcmtk(echoscu, "-aet", "DR_ROOM1", "-aec", "CLINICPACS", "127.0.0.1", str(port))
        assert echo.returncode == 0, echo.stderr
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, rest
    assert "listener stopped" in rest
