"""C-FIND responses written straight to the association's socket.

pynetdicom sends each C-FIND-RSP by building a DIMSE message, encoding its command set twice
(once for its length), cutting it into P-DATA primitives and queueing them for its DUL
thread, which wakes on a millisecond loop and writes one PDU per turn: about half a
millisecond of the listener's CPU per answer, most of a worklist query's time. For the SOP
classes the portal's services register for EVT_C_FIND, `install()` replaces pynetdicom's
C-FIND response loop with this one, which handlers do not notice (they still yield
`(status, identifier)` pairs and check `event.is_cancelled`):

- each response carries the command set pynetdicom would send and the same fragments (of the
  size the peer allows, PS3.8 D.1), but as many of them go in one P-DATA-TF PDU as its
  maximum length allows (PS3.8 9.3.5: a PDU holds one or more PDVs), so a typical answer is
  one PDU, not two: half the reads and wake-ups for the console; and several responses go
  out in one write;
- an identifier may be a plain pydicom Dataset, encoded here for the context's transfer
  syntax, or an `EncodedIdentifier` already encoded for it, sent as it is;
- pynetdicom's DUL stays the only reader of the socket: before asking the handler for its
  next answer the loop lets it read whatever the peer sent, so a C-CANCEL-RQ shows in
  `event.is_cancelled` at once (PS3.7 9.1.2.1.6) and an A-ABORT ends the stream;
- on TLS the same loop hands each response to pynetdicom's DUL instead, its normal path.

Responses written directly raise no EVT_DIMSE_SENT / EVT_PDU_SENT / EVT_DATA_SENT (the
association log counts requests only) and skip pynetdicom's per-response log lines.

It leans on pynetdicom 3.0 internals (`ServiceClass._c_find_scp`, `_wrap_handler`,
`DIMSEServiceProvider.cancel_req`, the DUL's queues and idle timer); tests/imaging/
test_find_stream.py compares the PDVs with pynetdicom's own loop, so an upgrade that
changes them fails there.
"""

from __future__ import annotations

import logging
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from io import BytesIO
from typing import TYPE_CHECKING, Any

from pydicom import Dataset
from pynetdicom import evt
from pynetdicom.dimse_messages import C_FIND_RSP
from pynetdicom.dimse_primitives import C_FIND
from pynetdicom.dsutils import encode
from pynetdicom.pdu_primitives import P_DATA
from pynetdicom.service_class import ServiceClass, attempt
from pynetdicom.status import STATUS_PENDING, STATUS_WARNING

from imaging.dicom import services

if TYPE_CHECKING:
    from pynetdicom.association import Association
    from pynetdicom.presentation import PresentationContext

logger = logging.getLogger(__name__)

# PS3.4 C.4.1.1.4 (and K.4.1.1.4): the final response after a C-CANCEL.
CANCEL = 0xFE00
# pynetdicom's statuses for a failing handler and an identifier it cannot encode.
HANDLER_FAILED, IDENTIFIER_UNENCODABLE = 0xC311, 0xC312
# PS3.8 9.3.1: P-DATA-TF PDU; PDV message control header: command/data, last fragment.
P_DATA_TF = 0x04
COMMAND, COMMAND_LAST, DATA, DATA_LAST = 0x01, 0x03, 0x00, 0x02
# Responses are gathered into one write until they reach this size or the oldest waited
# this long, so a slow handler's first answers still go out promptly.
BATCH_BYTES = 64 * 1024
BATCH_SECONDS = 0.02
# How long to wait for pynetdicom to read what the peer sent mid-stream (a C-CANCEL).
CATCH_UP_SECONDS = 2.0
# Bound on one write when the association sets no network timeout.
DEFAULT_WRITE_SECONDS = 60.0
_COMMAND_SETS_KEPT = 256

_pynetdicom_find_scp = ServiceClass._c_find_scp
_install_lock = threading.Lock()


class EncodedIdentifier(Dataset):
    """A C-FIND answer that also holds its whole encoding (`encoded`) for the transfer syntax
    in `encoding` (implicit VR, little endian); sent as it is on a context of that syntax."""

    encoded: bytes
    encoding: tuple[bool, bool]


class StreamBroken(Exception):
    """The peer stopped reading or the connection failed mid-stream."""


def install() -> None:
    """Answer C-FIND for the SOP classes services register for EVT_C_FIND through this loop."""
    with _install_lock:
        if ServiceClass._c_find_scp is not _find_scp:
            ServiceClass._c_find_scp = _find_scp  # type: ignore[method-assign]


def streamed_sop_classes() -> set[str]:
    """The SOP classes whose C-FIND responses go through this module."""
    return {
        sop_class
        for service in services.registered_services()
        if any(handler[0] == evt.EVT_C_FIND for handler in service.handlers)
        for sop_class in service.sop_classes
    }


def identifier_bytes(dataset: Dataset | None, *, syntax: Any) -> bytes | None:
    """An answer encoded for the context's transfer syntax (None when it cannot be)."""
    if dataset is None:
        return None
    implicit, little, deflated = syntax.is_implicit_VR, syntax.is_little_endian, syntax.is_deflated
    if (
        isinstance(dataset, EncodedIdentifier)
        and not deflated
        and dataset.encoding == (implicit, little)
    ):
        return dataset.encoded
    return encode(dataset, implicit, little, deflated) or None


_command_sets: dict[tuple, bytes] = {}


def command_set_bytes(response: C_FIND, *, data_follows: bool) -> bytes:
    """The C-FIND-RSP command set pynetdicom would encode (PS3.7 9.3.2.2), kept by content:
    a query's pending responses all share one."""
    offending = response.OffendingElement
    key = (
        data_follows,
        response.AffectedSOPClassUID,
        response.MessageIDBeingRespondedTo,
        response.Status,
        response.ErrorComment,
        tuple(offending) if isinstance(offending, list) else offending,
    )
    found = _command_sets.get(key)
    if found is None:
        identifier = response.Identifier
        response.Identifier = BytesIO(b"\0") if data_follows else None
        try:
            message = C_FIND_RSP()
            message.primitive_to_message(response)
            found = encode(message.command_set, True, True)
        finally:
            response.Identifier = identifier
        if len(_command_sets) >= _COMMAND_SETS_KEPT:
            _command_sets.clear()
        _command_sets[key] = found
    return found


def fragments(
    command: bytes, identifier: bytes | None, *, max_pdu: int
) -> Iterator[tuple[int, bytes | memoryview]]:
    """(message control header, fragment) of each PDV of one message, cut as pynetdicom cuts
    them: at most `max_pdu` - 6 bytes each (PS3.8 D.1: 0 means no limit)."""
    size = max_pdu - 6 if max_pdu else 0
    for raw, middle, last in ((command, COMMAND, COMMAND_LAST), (identifier, DATA, DATA_LAST)):
        if not raw:
            continue
        view = memoryview(raw)
        if not size or len(view) <= size:
            yield last, view
            continue
        for start in range(0, len(view), size):
            yield (last if start + size >= len(view) else middle), view[start : start + size]


def pdus(
    command: bytes, identifier: bytes | None, *, max_pdu: int
) -> Iterator[list[tuple[int, bytes | memoryview]]]:
    """The PDVs (message control header, fragment) of each P-DATA-TF PDU of one message: the
    fragments in order, as many to a PDU as fit its variable field (`max_pdu` bytes, 0 for no
    limit), each PDV taking its fragment's length plus 6 (PS3.8 9.3.5.1)."""
    group: list[tuple[int, bytes | memoryview]] = []
    size = 0
    for control, fragment in fragments(command, identifier, max_pdu=max_pdu):
        item = len(fragment) + 6
        if group and max_pdu and size + item > max_pdu:
            yield group
            group, size = [], 0
        group.append((control, fragment))
        size += item
    if group:
        yield group


class _DirectWriter:
    """Writes responses as P-DATA-TF PDUs on the association's plain TCP socket."""

    def __init__(self, assoc: Association, *, context_id: int, max_pdu: int) -> None:
        self.assoc = assoc
        self.context_id = context_id
        self.max_pdu = max_pdu
        self.socket: socket.socket = assoc.dul.socket.socket
        self.write_seconds = assoc.network_timeout or DEFAULT_WRITE_SECONDS
        self._buffers: list[bytes | memoryview] = []
        self._size = 0
        self._since = 0.0
        # Whatever pynetdicom queued before this request goes out first.
        _wait_while(lambda: assoc.dul.to_provider_queue.qsize() > 0)

    def send(self, command: bytes, identifier: bytes | None) -> None:
        if not self._buffers:
            self._since = time.monotonic()
        for pdvs in pdus(command, identifier, max_pdu=self.max_pdu):
            length = sum(len(fragment) + 6 for _, fragment in pdvs)
            self._buffers.append(struct.pack(">BBI", P_DATA_TF, 0, length))
            for control, fragment in pdvs:
                item = struct.pack(">IBB", len(fragment) + 2, self.context_id, control)
                self._buffers += (item, fragment)
            self._size += length + 6
        if self._size >= BATCH_BYTES or time.monotonic() - self._since >= BATCH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if not self._buffers:
            return
        data = memoryview(b"".join(self._buffers))
        self._buffers, self._size = [], 0
        deadline = time.monotonic() + self.write_seconds
        try:
            while data:
                try:
                    # Never blocking, so a peer that stops reading cannot hold the thread.
                    data = data[self.socket.send(data, socket.MSG_DONTWAIT) :]
                except BlockingIOError:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise StreamBroken("the peer stopped reading") from None
                    select.select([], [self.socket], [], remaining)
        except OSError as exc:
            raise StreamBroken(f"connection lost ({exc})") from exc
        # pynetdicom counts only what it reads as activity; this is activity too.
        self.assoc.dul._idle_timer.restart()

    def pending_output(self) -> bool:
        return False


class _DulWriter:
    """Hands responses to pynetdicom's DUL as P-DATA primitives (its TLS socket, its pace)."""

    def __init__(self, assoc: Association, *, context_id: int, max_pdu: int) -> None:
        self.dul = assoc.dul
        self.context_id = context_id
        self.max_pdu = max_pdu

    def send(self, command: bytes, identifier: bytes | None) -> None:
        for pdvs in pdus(command, identifier, max_pdu=self.max_pdu):
            primitive = P_DATA()  # one P-DATA-TF PDU, as pynetdicom encodes it
            primitive.presentation_data_value_list = [
                [self.context_id, bytes([control]) + bytes(fragment)] for control, fragment in pdvs
            ]
            self.dul.send_pdu(primitive)

    def flush(self) -> None:
        pass

    def pending_output(self) -> bool:
        return self.dul.to_provider_queue.qsize() > 0


def _wait_while(condition, timeout: float = CATCH_UP_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while condition() and time.monotonic() < deadline:
        time.sleep(0.0005)


def _peer_spoke(sock) -> bool:
    """Whether the peer sent something pynetdicom has not read yet."""
    if sock is None:
        return False
    try:
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return False


def _writer(assoc: Association, *, context_id: int, max_pdu: int):
    transport = assoc.dul.socket
    sock = getattr(transport, "socket", None)
    direct = (
        sock is not None and not isinstance(sock, ssl.SSLSocket) and hasattr(socket, "MSG_DONTWAIT")
    )
    kind = _DirectWriter if direct else _DulWriter
    return kind(assoc, context_id=context_id, max_pdu=max_pdu)


def _find_scp(service: ServiceClass, req: C_FIND, context: PresentationContext) -> None:
    """pynetdicom's `ServiceClass._c_find_scp`, for the streamed SOP classes."""
    if context.abstract_syntax not in streamed_sop_classes():
        return _pynetdicom_find_scp(service, req, context)
    assoc = service.assoc
    context_id = int(context.context_id)
    response = C_FIND()
    response.MessageID = req.MessageID
    response.MessageIDBeingRespondedTo = req.MessageID
    response.AffectedSOPClassUID = req.AffectedSOPClassUID
    with attempt(response, service.dimse, context_id, assoc) as ctx:
        ctx.error_msg = "Exception in handler bound to 'evt.EVT_C_FIND'"
        ctx.error_status = HANDLER_FAILED
        generator = evt.trigger(
            assoc,
            evt.EVT_C_FIND,
            {
                "request": req,
                "context": context.as_tuple,
                "_is_cancelled": service.is_cancelled,
            },
        )
    if not ctx.success or not assoc.is_established:
        return None
    if generator is None:
        generator = iter([(0x0000, None)])
    writer = _writer(assoc, context_id=context_id, max_pdu=service.dimse.maximum_pdu_size)
    try:
        sent = _respond(service, req, context, response, generator, writer)
        if assoc.is_established:  # else the handler aborted: nothing more goes out
            writer.flush()
        logger.debug("C-FIND %s: %d responses", context.abstract_syntax, sent)
    except StreamBroken as exc:
        logger.warning("C-FIND answers to %s stopped: %s", assoc.requestor.ae_title or "?", exc)
        # pynetdicom's reader then sees the connection end and aborts the association.
        try:
            assoc.dul.socket.socket.shutdown(socket.SHUT_RDWR)
        except (AttributeError, OSError):
            pass
    finally:
        close = getattr(generator, "close", None)
        if close is not None:
            close()
    return None


def _respond(service, req, context, response, generator, writer) -> int:
    """Send the handler's responses; returns how many were sent."""
    assoc, dimse = service.assoc, service.dimse
    syntax = context.transfer_syntax[0]
    sock = getattr(assoc.dul.socket, "socket", None)

    def caught_up(results):
        # Before each next answer, let pynetdicom read what the peer sent (PS3.7 9.1.2.1.6:
        # a C-CANCEL-RQ may come at any time), so the handler's `is_cancelled` sees it.
        for result in results:
            yield result
            if _peer_spoke(sock):
                writer.flush()
                _wait_while(lambda: writer.pending_output() or _peer_spoke(sock))

    sent = 0
    for result, exc in service._wrap_handler(caught_up(generator)):
        response.Identifier = None
        if exc:
            logger.error("C-FIND handler failed", exc_info=exc)
            status, dataset = HANDLER_FAILED, None
        else:
            status, dataset = result
        if not assoc.is_established:  # the handler aborted or released
            return sent
        response = service.validate_status(status, response)
        category = service.statuses.get(response.Status, ("",))[0]
        identifier = None
        if category == STATUS_PENDING:
            if req.MessageID in dimse.cancel_req:
                # A handler that did not look: the stream stops all the same.
                response.Status = CANCEL
                category = ""
            else:
                identifier = identifier_bytes(dataset, syntax=syntax)
                if identifier is None:
                    logger.error("a C-FIND answer could not be encoded")
                    response.Status = IDENTIFIER_UNENCODABLE
                    category = ""
        writer.send(command_set_bytes(response, data_follows=bool(identifier)), identifier)
        sent += 1
        if category not in (STATUS_PENDING, STATUS_WARNING):
            return sent  # success, cancel, failure or a status the service does not know
    if not assoc.is_established:
        return sent
    response.Identifier = None
    response.Status = 0x0000
    writer.send(command_set_bytes(response, data_follows=False), None)
    return sent + 1
