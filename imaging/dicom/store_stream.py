"""C-STORE over an established association's socket, without pynetdicom's reactor.

pynetdicom hands each PDU to its reactor thread through a queue, one PDU per loop, and its
reactor polls the socket with millisecond sleeps; for a 512 KiB CT slice in 16 KiB PDUs that
costs more than the receiver spends storing it. While a `StoreStream` holds the association,
pynetdicom's readers are paused and the sender writes each request in one go (the command,
then the file's bytes as stored, PS3.10 file meta skipped, framed as P-DATA-TF PDUs of the
size the receiver allows, PS3.8 9.3.5) and reads the C-STORE-RSP itself. Used on plain TCP
only, for files whose transfer syntax the receiver accepted as stored; anything unexpected
on the wire ends the association.

It leans on pynetdicom 3.0 internals (`Association._reactor_checkpoint` / `_is_paused`, the
`AssociationSocket._is_connected` flag its reactor polls, `DULServiceProvider._idle_timer`);
the send tests against storescp, Orthanc and pynetdicom SCPs catch a pynetdicom that changed.
"""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path

from pydicom.filereader import read_preamble
from pynetdicom.association import Association
from pynetdicom.dsutils import split_dataset

# PS3.7 9.3.1.1 / E.1-1: C-STORE-RQ command field and "a data set follows".
C_STORE_RQ = 0x0001
DATA_SET_PRESENT = 0x0000
PRIORITY_MEDIUM = 0x0000
# PS3.8 9.3.1: P-DATA-TF PDU type; PDV message control header bits (last fragment, command).
P_DATA_TF = 0x04
COMMAND_LAST, DATA, DATA_LAST = 0x03, 0x00, 0x02
# Used when the receiver sets no maximum (PS3.8 D.1: a maximum length of 0 means unlimited).
UNLIMITED_FRAGMENT = 1 << 22
# PS3.8 9.3.1: PDU types other than P-DATA-TF the peer may send in the middle of a transfer.
A_RELEASE_RQ, A_ABORT = 0x05, 0x07
# PS3.7 E.1-1: the command set tags a C-STORE-RSP answer is read for.
TAG_COMMAND_FIELD, TAG_RESPONDED_TO, TAG_STATUS = 0x0000_0100, 0x0000_0120, 0x0000_0900
C_STORE_RSP = 0x8001


class FileUnreadable(ValueError):
    """The stored file cannot be read as DICOM (the association is untouched)."""


class StreamBroken(Exception):
    """The association cannot go on (peer aborted, closed, timed out or answered nonsense)."""


def _element(tag: int, value: bytes) -> bytes:
    """One Implicit VR Little Endian element of a command set (PS3.7 6.3.1)."""
    return struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(value)) + value


def _uid(value: str) -> bytes:
    raw = value.encode("ascii")
    return raw + b"\0" if len(raw) % 2 else raw


def command_set(*, message_id: int, sop_class: str, sop_instance: str) -> bytes:
    """The C-STORE-RQ command set (PS3.7 Table 9.3-1), group length first."""
    body = b"".join(
        [
            _element(0x0000_0002, _uid(sop_class)),
            _element(0x0000_0100, struct.pack("<H", C_STORE_RQ)),
            _element(0x0000_0110, struct.pack("<H", message_id & 0xFFFF)),
            _element(0x0000_0700, struct.pack("<H", PRIORITY_MEDIUM)),
            _element(0x0000_0800, struct.pack("<H", DATA_SET_PRESENT)),
            _element(0x0000_1000, _uid(sop_instance)),
        ]
    )
    return _element(0x0000_0000, struct.pack("<I", len(body))) + body


def dataset_offset(path: Path, head: bytes) -> int:
    """Where the data set starts in a PS3.10 file (`head`: its first bytes): after preamble
    and file meta."""
    # Usual case: preamble, "DICM", then (0002,0000) UL group length (PS3.10 7.1).
    if head[128:132] == b"DICM" and head[132:138] == b"\x02\x00\x00\x00UL":
        (group_length,) = struct.unpack("<I", head[140:144])
        return 144 + group_length
    with open(path, "rb") as fp:
        read_preamble(fp, False)  # raises for a file that is not DICOM
    return split_dataset(path)[1]


def _pdu(context_id: int, control: int, fragment: bytes | memoryview) -> list:
    # PDU header (type, reserved, length) and one PDV item (length, context, control).
    length = len(fragment) + 2
    return [struct.pack(">BBIIBB", P_DATA_TF, 0, length + 4, length, context_id, control), fragment]


def message(
    *, context_id: int, command: bytes, dataset: bytes | memoryview, max_pdu: int
) -> list[bytes | memoryview]:
    """The buffers of one C-STORE-RQ message: the command, then the data set in fragments."""
    size = max_pdu - 6 if max_pdu else UNLIMITED_FRAGMENT
    buffers = _pdu(context_id, COMMAND_LAST, command)
    view = memoryview(dataset)
    for start in range(0, max(len(view), 1), size):
        last = start + size >= len(view)
        buffers += _pdu(context_id, DATA_LAST if last else DATA, view[start : start + size])
    return buffers


def parse_command(raw: bytes) -> dict[int, bytes]:
    """The elements of an Implicit VR Little Endian command set, by tag."""
    elements: dict[int, bytes] = {}
    position = 0
    while position + 8 <= len(raw):
        group, element, length = struct.unpack_from("<HHI", raw, position)
        position += 8
        elements[(group << 16) | element] = raw[position : position + length]
        position += length
    return elements


class StoreStream:
    """Holds an established pynetdicom association for a run of C-STOREs (a context manager)."""

    def __init__(self, assoc: Association, *, timeout: float) -> None:
        self.assoc = assoc
        self.timeout = timeout
        self._transport = assoc.dul.socket
        self._socket: socket.socket = self._transport.socket
        self._saved_timeout: float | None = None
        self._message_id = 0

    def __enter__(self) -> StoreStream:
        assoc = self.assoc
        # Pause the association's own reactor (as pynetdicom does around its requests) …
        assoc._reactor_checkpoint.clear()
        while not assoc._is_paused and assoc.is_established:
            time.sleep(0.0001)
        # … and its transport reader: with `_is_connected` off, the DUL sees nothing to read.
        self._transport._is_connected = False
        self._saved_timeout = self._socket.gettimeout()
        self._socket.settimeout(self.timeout)
        return self

    def __exit__(self, *exc_info) -> None:
        self._socket.settimeout(self._saved_timeout)
        self._transport._is_connected = True
        self.assoc.dul._idle_timer.restart()
        self.assoc._reactor_checkpoint.set()

    def store(
        self, *, context_id: int, sop_class: str, sop_instance: str, path: Path, max_pdu: int
    ) -> int:
        """Send one file's data set as stored and return the C-STORE-RSP status."""
        try:
            with open(path, "rb") as fp:
                raw = fp.read()
            dataset = memoryview(raw)[dataset_offset(path, raw) :]
        except Exception as exc:  # missing, unreadable or not DICOM; nothing was sent yet
            raise FileUnreadable(str(exc)) from exc
        self._message_id = self._message_id % 0xFFFF + 1
        command = command_set(
            message_id=self._message_id, sop_class=sop_class, sop_instance=sop_instance
        )
        data = b"".join(
            message(context_id=context_id, command=command, dataset=dataset, max_pdu=max_pdu)
        )
        try:
            self._socket.sendall(data)
            answer = self._read_command()
        except TimeoutError as exc:
            raise StreamBroken("no answer in time") from exc
        except OSError as exc:
            raise StreamBroken(f"connection lost ({exc})") from exc
        if (
            struct.unpack("<H", answer.get(TAG_COMMAND_FIELD, b"\0\0")[:2])[0] != C_STORE_RSP
            or struct.unpack("<H", answer.get(TAG_RESPONDED_TO, b"\0\0")[:2])[0] != self._message_id
            or TAG_STATUS not in answer
        ):
            raise StreamBroken("an answer that is not this C-STORE's response")
        return struct.unpack("<H", answer[TAG_STATUS][:2])[0]

    def _read_exactly(self, size: int) -> bytes:
        chunks = []
        while size:
            chunk = self._socket.recv(size)
            if not chunk:
                raise StreamBroken("the destination closed the connection")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def _read_command(self) -> dict[int, bytes]:
        """Read P-DATA-TF PDUs until a complete command set (and any data set after it)."""
        command = bytearray()
        command_done = dataset_expected = False
        while not command_done or dataset_expected:
            pdu_type, _, length = struct.unpack(">BBI", self._read_exactly(6))
            body = self._read_exactly(length)
            if pdu_type == A_ABORT:
                raise StreamBroken("the destination aborted the association")
            if pdu_type == A_RELEASE_RQ:
                raise StreamBroken("the destination ended the association")
            if pdu_type != P_DATA_TF:
                raise StreamBroken(f"an unexpected PDU (type 0x{pdu_type:02X})")
            position = 0
            while position + 6 <= len(body):
                (item_length,) = struct.unpack_from(">I", body, position)
                control = body[position + 5]
                fragment = body[position + 6 : position + 4 + item_length]
                position += 4 + item_length
                if control & 0x01:  # a command fragment
                    command += fragment
                    if control & 0x02:
                        command_done = True
                        elements = parse_command(bytes(command))
                        # PS3.7 E.1-1: 0x0101 means no data set follows the command.
                        kind = elements.get(0x0000_0800, b"\x01\x01")
                        dataset_expected = struct.unpack("<H", kind[:2])[0] != 0x0101
                elif control & 0x02:  # the last data set fragment
                    dataset_expected = False
        return parse_command(bytes(command))
