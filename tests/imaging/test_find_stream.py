"""C-FIND responses written straight to the socket (imaging/dicom/find_stream.py).

The same PDVs, byte for byte, as pynetdicom's own response loop sends, but one PDU per answer
where it fits, over in-process pynetdicom associations and to DCMTK `findscu`; fragmentation
for a small maximum PDU; a C-CANCEL mid-stream; a peer that vanishes mid-stream; TLS through
pynetdicom's own path.
"""

import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, _config, evt
from pynetdicom.service_class import ServiceClass
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as STUDY_FIND
from pynetdicom.status import Status

from imaging.dicom import find_stream
from tests.conftest import require_executable
from tests.dicom_server import running_listener
from tests.worklist.conftest import clinic_day  # noqa: F401  (a fixture)
from tests.worklist.test_mwl import _book_many

PENDING, SUCCESS, CANCEL = 0xFF00, 0x0000, 0xFE00
SYNTAXES = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]


def answer(n: int, *, text_bytes: int = 0) -> Dataset:
    """One study-level answer; non-ASCII names every third, `text_bytes` of comments."""
    ds = Dataset()
    if n % 3 == 0:
        ds.SpecificCharacterSet = "ISO_IR 192"
    ds.QueryRetrieveLevel = "STUDY"
    ds.PatientName = f"Müller^Mimi{n}" if n % 3 == 0 else f"Smith^Rex{n}"
    ds.PatientID = f"P{n:05d}"
    ds.StudyDate = "20261123"
    ds.StudyInstanceUID = f"1.2.826.0.1.3680043.8.498.{n + 1}"
    ds.ModalitiesInStudy = ["DX", "CR"]
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator = "448771007", "SCT"
    ds.PatientSpeciesCodeSequence = [code]
    if text_bytes:
        ds.StudyComments = ("Thorax, three views. " * (text_bytes // 21 + 1))[:text_bytes]
    return ds


def encoded(ds: Dataset, syntax) -> find_stream.EncodedIdentifier:
    """The same answer as a handler that pre-encodes its answers yields it."""
    from pynetdicom.dsutils import encode

    pre = find_stream.EncodedIdentifier(ds)
    pre.encoded = encode(ds, syntax.is_implicit_VR, True)
    pre.encoding = (syntax.is_implicit_VR, True)
    return pre


class Scp:
    """What the in-process C-FIND SCP answers, and what it saw."""

    def __init__(self, answers: list[Dataset], *, pre_encode=None) -> None:
        self.answers = answers
        self.pre_encode = pre_encode
        self.checks_cancel = True
        self.stopped = threading.Event()
        self.yielded = 0

    def handle(self, event) -> Iterator:
        try:
            for ds in self.answers:
                if self.checks_cancel and event.is_cancelled:
                    yield Status.CANCEL, None
                    return
                self.yielded += 1
                yield Status.PENDING, encoded(ds, self.pre_encode) if self.pre_encode else ds
            yield Status.SUCCESS, None
        finally:
            self.stopped.set()


def _no_delay(event) -> None:
    event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@contextmanager
def find_scp(scp: Scp, *, streamed: bool, ssl_context=None) -> Iterator[tuple[AE, int]]:
    """A pynetdicom Study Root C-FIND SCP on a free port, through the find stream or not."""
    original = find_stream.streamed_sop_classes
    find_stream.streamed_sop_classes = (lambda: {STUDY_FIND}) if streamed else (lambda: set())
    ae = AE(ae_title="FINDSCP")
    ae.network_timeout = 10
    ae.add_supported_context(STUDY_FIND, SYNTAXES)
    server = ae.start_server(
        ("127.0.0.1", 0),
        block=False,
        evt_handlers=[(evt.EVT_C_FIND, scp.handle), (evt.EVT_CONN_OPEN, _no_delay)],
        ssl_context=ssl_context,
    )
    try:
        yield ae, server.server_address[1]
    finally:
        ae.shutdown()
        find_stream.streamed_sop_classes = original


def associate(port: int, *, syntax=ExplicitVRLittleEndian, max_pdu=16384, ssl_context=None):
    """A pynetdicom SCU association; its `pdus` list collects every P-DATA-TF PDU received."""
    scu = AE(ae_title="WORKSTATION")
    scu.add_requested_context(STUDY_FIND, [syntax])
    pdus: list[bytes] = []

    def keep(event) -> None:
        if event.data[:1] == b"\x04":
            pdus.append(bytes(event.data))

    assoc = scu.associate(
        "127.0.0.1",
        port,
        ae_title="FINDSCP",
        max_pdu=max_pdu,
        evt_handlers=[(evt.EVT_DATA_RECV, keep)],
        tls_args=(ssl_context, "127.0.0.1") if ssl_context else None,
    )
    assert assoc.is_established
    assoc.pdus = pdus
    return assoc


def pdvs(pdus: list[bytes]) -> list[bytes]:
    """Every PDV's context ID, message control header and fragment, in order (PS3.8 9.3.5)."""
    found = []
    for pdu in pdus:
        offset = 6
        while offset < len(pdu):
            (length,) = struct.unpack(">I", pdu[offset : offset + 4])
            found.append(pdu[offset + 4 : offset + 4 + length])
            offset += 4 + length
    return found


def query(assoc, *, msg_id: int = 1) -> list[tuple[int, Dataset | None]]:
    q = Dataset()
    q.QueryRetrieveLevel, q.PatientName = "STUDY", "*"
    return [
        (status.Status, identifier)
        for status, identifier in assoc.send_c_find(q, STUDY_FIND, msg_id=msg_id)
    ]


@pytest.fixture(autouse=True)
def _quiet_scu(monkeypatch):
    """The SCU would format every answer for a debug log nobody reads."""
    monkeypatch.setattr(_config, "LOG_RESPONSE_IDENTIFIERS", False)


@pytest.fixture
def direct_writes(monkeypatch) -> list[int]:
    """How many bytes each direct socket write carried."""
    writes: list[int] = []
    flush = find_stream._DirectWriter.flush

    def counted(self) -> None:
        if self._buffers:
            writes.append(self._size)
        flush(self)

    monkeypatch.setattr(find_stream._DirectWriter, "flush", counted)
    return writes


def run(scp: Scp, *, streamed: bool, **associate_args) -> tuple[list, list[bytes]]:
    with find_scp(scp, streamed=streamed) as (_, port):
        assoc = associate(port, **associate_args)
        try:
            return query(assoc), assoc.pdus
        finally:
            assoc.release()


def test_the_listener_answers_c_find_through_the_stream():
    assert ServiceClass._c_find_scp is find_stream._find_scp


@pytest.mark.parametrize("syntax", SYNTAXES, ids=["explicit", "implicit"])
@pytest.mark.parametrize("pre_encoded", [False, True], ids=["datasets", "pre-encoded"])
def test_the_pdvs_on_the_wire_are_pynetdicoms_one_pdu_per_answer(
    syntax, pre_encoded, direct_writes
):
    answers = [answer(n) for n in range(30)]
    pre = syntax if pre_encoded else None
    theirs, their_pdus = run(Scp(answers, pre_encode=pre), streamed=False, syntax=syntax)
    assert not direct_writes
    ours, our_pdus = run(Scp(answers, pre_encode=pre), streamed=True, syntax=syntax)
    assert direct_writes and len(direct_writes) < 30  # several answers per write
    assert pdvs(our_pdus) == pdvs(their_pdus)
    # pynetdicom sends the command set and the identifier in PDUs of their own.
    assert (len(our_pdus), len(their_pdus)) == (31, 61)
    assert [status for status, _ in ours] == [PENDING] * 30 + [SUCCESS]
    assert [ds for _, ds in ours] == [ds for _, ds in theirs]
    assert str(ours[3][1].PatientName) == "Müller^Mimi3"


def test_a_small_maximum_pdu_cuts_answers_into_fragments(direct_writes):
    answers = [answer(n, text_bytes=9_000) for n in range(12)]
    theirs, their_pdus = run(Scp(answers), streamed=False, max_pdu=4096)
    ours, our_pdus = run(Scp(answers), streamed=True, max_pdu=4096)
    assert direct_writes
    assert our_pdus == their_pdus
    assert max(struct.unpack(">I", pdu[2:6])[0] for pdu in our_pdus) == 4096
    # Each 9 kB answer needs three data fragments: not last (0x00), not last, last (0x02).
    controls = [pdu[11] for pdu in our_pdus]
    assert controls[:4] == [0x03, 0x00, 0x00, 0x02]
    assert [ds.StudyComments for _, ds in ours[:-1]] == [ds.StudyComments for ds in answers]


def test_two_thousand_answers_arrive_in_order(direct_writes):
    answers = [answer(n) for n in range(2_000)]
    responses, _ = run(Scp(answers), streamed=True)
    assert [status for status, _ in responses] == [PENDING] * 2_000 + [SUCCESS]
    assert [ds.PatientID for _, ds in responses[:-1]] == [f"P{n:05d}" for n in range(2_000)]
    assert 1 < len(direct_writes) < 2_000
    assert max(direct_writes) < 2 * find_stream.BATCH_BYTES


@pytest.mark.parametrize("handler_checks", [True, False], ids=["handler-checks", "handler-ignores"])
def test_a_cancel_mid_stream_ends_with_cancel(handler_checks):
    """PS3.7 9.1.2.1.6: after a C-CANCEL-RQ the stream stops and the final status is Cancel,
    also for a handler that never looks at `event.is_cancelled`; the association serves on."""
    scp = Scp([answer(n, text_bytes=2_000) for n in range(2_000)])
    scp.checks_cancel = handler_checks
    with find_scp(scp, streamed=True) as (_, port):
        assoc = associate(port)
        try:
            q = Dataset()
            q.QueryRetrieveLevel, q.PatientName = "STUDY", "*"
            statuses = []
            for status, _ in assoc.send_c_find(q, STUDY_FIND, msg_id=7):
                statuses.append(status.Status)
                if len(statuses) == 1:
                    assoc.send_c_cancel(7, query_model=STUDY_FIND)
            assert scp.stopped.wait(10)
            scp.answers = scp.answers[:2]
            after = [status for status, _ in query(assoc, msg_id=8)]
        finally:
            assoc.release()
    assert statuses[-1] == CANCEL
    assert set(statuses[:-1]) == {PENDING}
    assert 1 <= len(statuses) - 1 < 2_000
    assert after == [PENDING, PENDING, SUCCESS]


def test_a_peer_that_vanishes_mid_stream_leaves_the_scp_serving():
    scp = Scp([answer(n, text_bytes=8_000) for n in range(2_000)])
    with find_scp(scp, streamed=True) as (ae, port):
        assoc = associate(port)
        q = Dataset()
        q.QueryRetrieveLevel, q.PatientName = "STUDY", "*"
        responses = assoc.send_c_find(q, STUDY_FIND)
        next(responses)
        # Gone without a word: the connection is reset (SO_LINGER 0), nothing more is read.
        sock = assoc.dul.socket.socket
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        assoc.dul.kill_dul()
        sock.close()
        assert scp.stopped.wait(20), "the stream went on after the peer vanished"
        assert scp.yielded < 2_000
        deadline = time.monotonic() + 20
        while ae.active_associations and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not ae.active_associations
        scp.answers = scp.answers[:3]
        again = associate(port)
        try:
            assert [status for status, _ in query(again)] == [PENDING] * 3 + [SUCCESS]
        finally:
            again.release()


def test_tls_answers_go_through_pynetdicom(tmp_path, direct_writes):
    require_executable("openssl")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", "key.pem", "-out", "cert.pem", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=tmp_path / "cert.pem")
    answers = [answer(n, text_bytes=5_000 if n % 2 else 500) for n in range(40)]
    scp = Scp(answers)
    with find_scp(scp, streamed=True, ssl_context=server) as (_, port):
        assoc = associate(port, max_pdu=4096, ssl_context=client)
        try:
            responses = query(assoc)
        finally:
            assoc.release()
    assert not direct_writes
    # A small answer is one PDU; a large one its command set, then two data fragments.
    assert len(assoc.pdus) == 20 * 1 + 20 * 3 + 1
    assert [status for status, _ in responses] == [PENDING] * 40 + [SUCCESS]
    assert [ds.StudyInstanceUID for _, ds in responses[:-1]] == [
        ds.StudyInstanceUID for ds in answers
    ]


# --- the worklist through the portal's listener --------------------------------------------

worklist_db = pytest.mark.django_db(transaction=True)
WORKLIST_KEYS = ["PatientName", "PatientID", "AccessionNumber", "ResponsiblePerson"]


@pytest.fixture
def booked(clinic_day):  # noqa: F811  (the fixture imported above)
    """The worklist tests' clinic day with 400 more orders today on DR1; returns the number of
    orders offered."""
    return 3 + _book_many(clinic_day, 400)


def worklist_query() -> Dataset:
    q = Dataset()
    for keyword in WORKLIST_KEYS:
        setattr(q, keyword, "")
    step = Dataset()
    step.ScheduledStationAETitle = ""
    step.ScheduledProcedureStepStartDate = ""
    q.ScheduledProcedureStepSequence = [step]
    return q


def pull_worklist(port: int, *, syntax, max_pdu: int) -> tuple[list, list[bytes]]:
    from pynetdicom.sop_class import ModalityWorklistInformationFind as MWL

    scu = AE(ae_title="DR1")
    scu.add_requested_context(MWL, [syntax])
    pdus: list[bytes] = []
    assoc = scu.associate(
        "127.0.0.1",
        port,
        ae_title="VETPORTAL",
        max_pdu=max_pdu,
        evt_handlers=[(evt.EVT_DATA_RECV, lambda e: pdus.append(bytes(e.data)))],
    )
    assert assoc.is_established
    try:
        responses = [(s.Status, ds) for s, ds in assoc.send_c_find(worklist_query(), MWL)]
    finally:
        assoc.release()
    return responses, [pdu for pdu in pdus if pdu[:1] == b"\x04"]


@worklist_db
@pytest.mark.parametrize(
    "syntax, max_pdu",
    [(ExplicitVRLittleEndian, 16384), (ImplicitVRLittleEndian, 4096)],
    ids=["explicit", "implicit-4096"],
)
def test_the_worklist_sends_what_pynetdicom_sent(
    booked, syntax, max_pdu, direct_writes, monkeypatch
):
    orders = booked
    with running_listener() as (_, port, _):
        ours, our_pdus = pull_worklist(port, syntax=syntax, max_pdu=max_pdu)
        assert direct_writes
        monkeypatch.setattr(find_stream, "streamed_sop_classes", lambda: set())
        theirs, their_pdus = pull_worklist(port, syntax=syntax, max_pdu=max_pdu)
    assert [status for status, _ in ours] == [PENDING] * orders + [SUCCESS]
    assert pdvs(our_pdus) == pdvs(their_pdus)
    assert len(our_pdus) < len(their_pdus)
    assert max(struct.unpack(">I", pdu[2:6])[0] for pdu in our_pdus) <= max_pdu
    assert ours == theirs


def findscu(port: int, out, *arguments: str) -> subprocess.CompletedProcess:
    executable = require_executable("findscu")
    command = [executable, "-W", "-aet", "DR1", "-aec", "VETPORTAL", "-to", "20", "-v"]
    for key in WORKLIST_KEYS:
        command += ["-k", key]
    command += ["-k", "ScheduledProcedureStepSequence[0].ScheduledStationAETitle"]
    command += ["-X", "-od", str(out), *arguments, "127.0.0.1", str(port)]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=60, env={"TCP_NODELAY": "1"}
    )


@worklist_db
@pytest.mark.peer
def test_findscu_with_a_4096_byte_pdu_reads_every_answer(booked, tmp_path):
    import pydicom

    orders = booked
    with running_listener() as (_, port, _):
        result = findscu(port, tmp_path, "-pdu", "4096", "-xi")
        expected, _ = pull_worklist(port, syntax=ImplicitVRLittleEndian, max_pdu=4096)
    assert result.returncode == 0, result.stderr
    answers = [pydicom.dcmread(path) for path in sorted(tmp_path.glob("rsp*.dcm"))]
    assert len(answers) == orders
    assert [ds.AccessionNumber for ds in answers] == [ds.AccessionNumber for _, ds in expected[:-1]]
    assert "Müller^Jürgen" in {str(ds.ResponsiblePerson) for ds in answers}


@worklist_db
@pytest.mark.peer
def test_findscu_cancel_stops_the_worklist(booked, tmp_path):
    orders = booked
    with running_listener() as (_, port, _):
        result = findscu(port, tmp_path, "--cancel", "3")
        after, _ = pull_worklist(port, syntax=ExplicitVRLittleEndian, max_pdu=16384)
    assert result.returncode == 0, result.stderr
    log = result.stdout + result.stderr
    assert "Cancel" in log, log
    received = len(list(tmp_path.glob("rsp*.dcm")))
    assert 3 <= received < orders
    assert len(after) == orders + 1  # the listener serves the next console
