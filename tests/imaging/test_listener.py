"""The DICOM listener over real loopback associations, with pynetdicom as the sending modality."""

import os
import socket
import threading
import time
from io import BytesIO
from pathlib import Path

import pytest
from pydicom import Dataset
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)
from pynetdicom import AE, _config
from pynetdicom.dimse_messages import C_STORE_RQ
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.dsutils import split_dataset
from pynetdicom.pdu import P_DATA_TF
from pynetdicom.sop_class import Verification

from clinic.queue import wait_for_local_tasks
from imaging import storage
from imaging.dicom import listener, status
from imaging.models import Device, Instance, Study, StudyStatus
from imaging.synthetic import encode, make_dataset, write
from tests.dicom_server import running_listener

pytestmark = pytest.mark.django_db(transaction=True)

# (modality, transfer syntax): several SOP classes, each in a different encoding.
CASES = [
    ("DX", ExplicitVRLittleEndian),
    ("CT", ImplicitVRLittleEndian),
    ("CR", DeflatedExplicitVRLittleEndian),
    ("OT", ExplicitVRBigEndian),
    ("IO", JPEGBaseline8Bit),
    ("US", RLELossless),
    ("DX", JPEGLSLossless),
    ("CT", JPEG2000Lossless),
]


@pytest.fixture(autouse=True)
def _send_files_as_they_are(monkeypatch):
    """The sending side streams each file's bytes as stored, as a modality does."""
    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)
    yield
    wait_for_local_tasks(timeout=30)


def _modality(ae_title: str = "DR_ROOM1", contexts=()) -> AE:
    ae = AE(ae_title=ae_title)
    ae.add_requested_context(Verification)
    for sop_class, syntax in contexts:
        ae.add_requested_context(sop_class, syntax)
    return ae


def _file(
    directory: Path, name: str, modality: str = "DX", syntax=ExplicitVRLittleEndian, **fields
) -> Path:
    frames = 2 if modality == "US" else 1
    ds = make_dataset(modality=modality, frames=frames, **fields)
    return write(encode(ds, syntax), directory / name)


def _contexts(paths: list[Path]) -> list[tuple[str, str]]:
    wanted = []
    for path in paths:
        meta, _ = split_dataset(path)
        pair = (meta.MediaStorageSOPClassUID, meta.TransferSyntaxUID)
        if pair not in wanted:
            wanted.append(pair)
    return wanted


def _send(paths: list[Path], port: int, *, calling_ae: str = "DR_ROOM1") -> list[int]:
    ae = _modality(calling_ae, _contexts(paths))
    assoc = ae.associate("127.0.0.1", port, ae_title="VETPORTAL")
    assert assoc.is_established
    statuses = [assoc.send_c_store(path).Status for path in paths]
    assoc.release()
    return statuses


def _dataset_bytes(path: Path) -> bytes:
    """The data set as encoded on the wire, without the File Meta Information."""
    _, offset = split_dataset(path)
    return path.read_bytes()[offset:]


def _wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def _is_failure(code: int, *ranges: tuple[int, int]) -> bool:
    return any(low <= code <= high for low, high in ranges)


def test_echo_succeeds_and_offers_large_pdus(settings):
    with running_listener() as (host, port, ae_title):
        assoc = _modality().associate(host, port, ae_title=ae_title)
        assert assoc.is_established
        assert assoc.acceptor.maximum_length == settings.DICOM_MAX_PDU
        assert assoc.send_c_echo().Status == status.SUCCESS
        assoc.release()


def test_several_sop_classes_and_syntaxes_are_stored_as_sent(dicom_dir):
    study_uid = generate_uid()
    paths = [
        _file(dicom_dir, f"{n}.dcm", modality, syntax, study_uid=study_uid, instance_number=n)
        for n, (modality, syntax) in enumerate(CASES, start=1)
    ]
    with running_listener() as (_, port, _):
        assert _send(paths, port) == [status.SUCCESS] * len(paths)

    study = Study.objects.get(study_instance_uid=study_uid)
    assert study.instance_count == len(CASES)
    assert study.sending_ae_title == "DR_ROOM1"
    for path, (_, syntax) in zip(paths, CASES, strict=True):
        meta, _ = split_dataset(path)
        instance = Instance.objects.get(sop_instance_uid=meta.MediaStorageSOPInstanceUID)
        assert instance.transfer_syntax_uid == syntax
        assert instance.sop_class_uid == meta.MediaStorageSOPClassUID
        stored = storage.local_path(instance.storage_key)
        assert _dataset_bytes(stored) == _dataset_bytes(path), f"{syntax.name} changed in transit"
    assert not list(storage.staging_dir().iterdir()), "no staging file is left behind"


def test_data_set_without_study_uid_is_refused_and_the_next_association_is_served(dicom_dir):
    ds = make_dataset()
    del ds.StudyInstanceUID
    bad = write(ds, dicom_dir / "no-study.dcm")
    good = _file(dicom_dir, "good.dcm")
    with running_listener() as (_, port, _):
        [code] = _send([bad], port)
        assert _is_failure(code, (0xA900, 0xA9FF), (0xC000, 0xCFFF))
        assert _send([good], port) == [status.SUCCESS]
    assert Instance.objects.count() == 1


def test_bytes_that_are_not_a_data_set_are_refused_and_the_listener_goes_on(dicom_dir):
    garbage = dicom_dir / "garbage.dcm"
    meta = make_dataset().file_meta
    with open(garbage, "wb") as handle:
        handle.write(b"\0" * 128 + b"DICM")
        write_file_meta_info(handle, meta)
        handle.write(b"\x08\x00\x16\x00UI\xff\xffnot a data set" * 20)
    good = _file(dicom_dir, "good.dcm")
    with running_listener() as (_, port, _):
        ae = _modality(contexts=_contexts([garbage]))
        assoc = ae.associate("127.0.0.1", port, ae_title="VETPORTAL")
        code = assoc.send_c_store(garbage).Status
        assert _is_failure(code, (0xA900, 0xA9FF), (0xC000, 0xCFFF))
        # The same association goes on too, not only the listener.
        assert assoc.send_c_echo().Status == status.SUCCESS
        assoc.release()
        assert _send([good], port) == [status.SUCCESS]
    assert Instance.objects.count() == 1


def test_low_disk_answers_out_of_resources(settings, dicom_dir):
    settings.DICOM_MIN_FREE_BYTES = 1 << 62
    path = _file(dicom_dir, "1.dcm")
    with running_listener() as (_, port, _):
        assert _send([path], port) == [status.OUT_OF_RESOURCES]
    assert not Instance.objects.exists()
    assert not list(storage.staging_dir().iterdir())


def test_ten_concurrent_associations_lose_nothing(tmp_path):
    senders, per_sender = 10, 4
    studies = [generate_uid() for _ in range(3)]  # senders share studies, racing to create them
    batches = []
    for sender in range(senders):
        folder = tmp_path / f"sender-{sender}"
        batches.append(
            [
                _file(folder, f"{n}.dcm", study_uid=studies[sender % 3], instance_number=n)
                for n in range(per_sender)
            ]
        )
    results: dict[int, list[int]] = {}
    with running_listener() as (_, port, _):

        def send(sender: int) -> None:
            results[sender] = _send(batches[sender], port, calling_ae=f"MODALITY{sender}")

        threads = [threading.Thread(target=send, args=(i,)) for i in range(senders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert results == {i: [status.SUCCESS] * per_sender for i in range(senders)}
    assert Instance.objects.count() == senders * per_sender
    counts = dict(Study.objects.values_list("study_instance_uid", "instance_count"))
    assert counts == {uid: per_sender * len(range(i, senders, 3)) for i, uid in enumerate(studies)}


def test_aborted_association_keeps_what_was_acknowledged(dicom_dir):
    study_uid = generate_uid()
    paths = [_file(dicom_dir, f"{n}.dcm", study_uid=study_uid, instance_number=n) for n in range(3)]
    with running_listener() as (_, port, _):
        ae = _modality(contexts=_contexts(paths))
        assoc = ae.associate("127.0.0.1", port, ae_title="VETPORTAL")
        assert [assoc.send_c_store(p).Status for p in paths] == [status.SUCCESS] * 3
        assoc.abort()
        study = Study.objects.get(study_instance_uid=study_uid)
        assert study.instance_count == 3
        assert _wait_for(lambda: Study.objects.get(pk=study.pk).status == StudyStatus.COMPLETE)
    for instance in Instance.objects.all():
        assert storage.local_path(instance.storage_key).is_file()


def test_abort_in_the_middle_of_an_instance_leaves_no_trace(dicom_dir):
    """The sender vanishes halfway through a data set: nothing is indexed, no staging file stays."""
    ds = make_dataset(rows=256, columns=256)
    request = C_STORE()
    request.MessageID = 1
    request.AffectedSOPClassUID = ds.SOPClassUID
    request.AffectedSOPInstanceUID = ds.SOPInstanceUID
    request.Priority = 2
    request.DataSet = BytesIO(_dataset_bytes(write(ds, dicom_dir / "large.dcm")))
    message = C_STORE_RQ()
    message.primitive_to_message(request)
    with running_listener() as (host, port, ae_title):
        ae = _modality(contexts=[(ds.SOPClassUID, ExplicitVRLittleEndian)])
        assoc = ae.associate(host, port, ae_title=ae_title)
        context_id = next(
            cx.context_id for cx in assoc.accepted_contexts if cx.abstract_syntax == ds.SOPClassUID
        )
        fragments = list(message.encode_msg(context_id, 16384))
        # The command and the first part of the data set only, written straight to the wire.
        for fragment in fragments[:3]:
            pdu = P_DATA_TF()
            pdu.from_primitive(fragment)
            assoc.dul.socket.send(pdu.encode())
        staging = storage.staging_dir()
        assert _wait_for(lambda: any(staging.iterdir())), "the listener started receiving"
        assoc.abort()
        assert _wait_for(lambda: not any(staging.iterdir())), "the partial file is removed"
    assert not Instance.objects.exists()


def test_release_marks_the_study_complete(dicom_dir):
    study_uid = generate_uid()
    paths = [_file(dicom_dir, f"{n}.dcm", study_uid=study_uid, instance_number=n) for n in range(2)]
    with running_listener() as (_, port, _):
        ae = _modality(contexts=_contexts(paths))
        assoc = ae.associate("127.0.0.1", port, ae_title="VETPORTAL")
        for path in paths:
            assoc.send_c_store(path)
        assert Study.objects.get(study_instance_uid=study_uid).status == StudyStatus.RECEIVING
        assoc.release()
        assert _wait_for(
            lambda: Study.objects.get(study_instance_uid=study_uid).status == StudyStatus.COMPLETE
        )


def test_unknown_caller_is_rejected_when_only_devices_may_send():
    Device.objects.create(name="DR room 1", ae_title="DR_ROOM1", modality="DX")
    Device.objects.create(name="Old CR", ae_title="OLD_CR", modality="CR", active=False)
    with running_listener(require_known_devices=True) as (host, port, ae_title):
        for stranger in ("STRANGER", "OLD_CR"):
            assoc = _modality(stranger).associate(host, port, ae_title=ae_title)
            assert assoc.is_rejected
            reject = assoc.acceptor.primitive
            # PS3.8 9.3.4: rejected-permanent, by the service user, calling AE not recognised.
            assert (reject.result, reject.result_source, reject.diagnostic) == (0x01, 0x01, 0x03)

        assoc = _modality("DR_ROOM1").associate(host, port, ae_title=ae_title)
        assert assoc.is_established
        assert assoc.send_c_echo().Status == status.SUCCESS
        assoc.release()

        # The device list is read per association: a new device may send at once.
        Device.objects.create(name="Dental", ae_title="DENTAL", modality="IO")
        assoc = _modality("DENTAL").associate(host, port, ae_title=ae_title)
        assert assoc.is_established
        assoc.release()


def test_any_caller_is_accepted_by_default():
    with running_listener() as (host, port, ae_title):
        assoc = _modality("ANYBODY").associate(host, port, ae_title=ae_title)
        assert assoc.is_established
        assoc.release()


def test_a_wrong_called_ae_title_is_accepted_with_a_warning(caplog):
    with running_listener() as (host, port, _):
        assoc = _modality().associate(host, port, ae_title="OLDPACS")
        assert assoc.is_established
        assoc.release()
    assert "OLDPACS" in caplog.text


def test_accepted_connections_have_nagle_off():
    ae = listener.build_ae(ae_title="VETPORTAL", max_pdu=1 << 20)
    server = listener.start(
        ae, host="127.0.0.1", port=0, require_known_devices=False, min_free_bytes=0
    )
    try:
        assoc = _modality().associate("127.0.0.1", server.server_address[1], ae_title="VETPORTAL")
        assert assoc.is_established
        [accepted] = server.active_associations
        sock = accepted.dul.socket.socket
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assoc.release()
    finally:
        listener.stop(ae, server, grace=5.0)


def test_every_storage_class_and_the_video_syntaxes_are_offered():
    ae = listener.build_ae(ae_title="VETPORTAL", max_pdu=1 << 20)
    offered = {cx.abstract_syntax: cx.transfer_syntax for cx in ae.supported_contexts}
    assert len(offered) > 128
    assert "1.2.840.10008.5.1.4.1.1.77.1.4.1" in offered  # Video Photographic Image Storage
    for syntax in ("1.2.840.10008.1.2.4.100", "1.2.840.10008.1.2.4.102", "1.2.840.10008.1.2.4.107"):
        assert syntax in offered["1.2.840.10008.5.1.4.1.1.6.1"]  # MPEG-2, H.264, HEVC for US


def test_in_memory_data_set_path_also_works(dicom_dir, monkeypatch):
    """A sender that encodes on the fly (not from a file) is stored the same way."""
    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", False)
    ds: Dataset = make_dataset()
    with running_listener() as (host, port, ae_title):
        ae = _modality(contexts=[(ds.SOPClassUID, ExplicitVRLittleEndian)])
        assoc = ae.associate(host, port, ae_title=ae_title)
        assert assoc.send_c_store(ds).Status == status.SUCCESS
        assoc.release()
    assert Instance.objects.filter(sop_instance_uid=ds.SOPInstanceUID).exists()


def test_staging_files_left_by_a_crash_are_swept():
    staging = storage.staging_dir()
    stale, fresh = staging / "stale.dcm", staging / "fresh.dcm"
    stale.write_bytes(b"half an instance")
    fresh.write_bytes(b"arriving right now")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    assert listener.staging_sweep() == 1
    assert not stale.exists() and fresh.exists()
