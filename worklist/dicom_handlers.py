"""The listener's handlers for Modality Worklist C-FIND and MPPS N-CREATE / N-SET.

Thin and never raising: they log who called, call `worklist.mwl` or `worklist.mpps`, and
translate every failure into a named DIMSE status with an error comment, so a malformed
query or a database hiccup gets an answer and the listener keeps serving.
"""

import logging
import select
import threading
import time
from collections.abc import Iterator

from pydicom import Dataset
from pynetdicom import dimse_messages, service_class
from pynetdicom.events import Event
from pynetdicom.sop_class import ModalityWorklistInformationFind
from pynetdicom.status import Status

from imaging.dicom.handlers import database_checked
from worklist import mpps, mwl, mwl_answers

logger = logging.getLogger(__name__)

# PS3.4 K.4.1.1.4 Modality Worklist C-FIND statuses.
IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS = 0xA900
UNABLE_TO_PROCESS = 0xC000
# PS3.7 C.5.2: the request's SOP class is not one this handler serves.
SOP_CLASS_NOT_SUPPORTED = 0x0122


# How long a handler waits for pynetdicom to read what a console sent mid-stream.
CATCH_UP_SECONDS = 2.0

_install_lock = threading.Lock()
C_FIND_RSP = 0x8020  # PS3.7 E.1 Command Field
_COMMAND_FIELD = 0x00000100
_COMMAND_SETS_KEPT = 256


def find_responses_fast_path_install() -> None:
    """Make pynetdicom's C-FIND responses cheap to send; the bytes on the wire do not change.

    For each pending answer pynetdicom encodes the identifier and, twice, the response's
    command set (once to learn its length), with pydicom, element by element: most of the
    listener's time per worklist entry. It has no setting for either, so two of its
    module-level `encode` functions are wrapped:
    - an identifier that is a `mwl_answers.EncodedAnswer` made for the association's transfer
      syntax goes out as made;
    - a C-FIND-RSP command set (the same for every pending answer of a query) is encoded once
      per distinct content.
    Anything else is encoded by pynetdicom as before.
    """
    with _install_lock:
        if not getattr(service_class.encode, "passes_encoded_answers", False):
            service_class.encode = _identifier_encoder(service_class.encode)
        if not getattr(dimse_messages.encode, "keeps_find_responses", False):
            dimse_messages.encode = _command_set_encoder(dimse_messages.encode)


def _identifier_encoder(encode):
    def encode_or_pass(
        ds: Dataset, is_implicit_vr: bool, is_little_endian: bool, deflated: bool = False
    ) -> bytes | None:
        if (
            isinstance(ds, mwl_answers.EncodedAnswer)
            and not deflated
            and ds.encoding == (is_implicit_vr, is_little_endian)
        ):
            return ds.encoded
        return encode(ds, is_implicit_vr, is_little_endian, deflated)

    encode_or_pass.passes_encoded_answers = True  # type: ignore[attr-defined]
    return encode_or_pass


def _command_set_encoder(encode):
    kept: dict[tuple, bytes | None] = {}

    def encode_or_reuse(
        ds: Dataset, is_implicit_vr: bool, is_little_endian: bool, deflated: bool = False
    ) -> bytes | None:
        command = ds.get(_COMMAND_FIELD)
        if command is None or command.value != C_FIND_RSP:
            return encode(ds, is_implicit_vr, is_little_endian, deflated)
        key: list = [is_implicit_vr, is_little_endian, deflated]
        for element in ds:
            value = element.value
            if value is not None and not isinstance(value, (int, str)):
                return encode(ds, is_implicit_vr, is_little_endian, deflated)
            key.append((element.tag, element.VR, value))
        found = kept.get(tuple(key))
        if found is None:
            found = encode(ds, is_implicit_vr, is_little_endian, deflated)
            if len(kept) >= _COMMAND_SETS_KEPT:
                kept.clear()
            kept[tuple(key)] = found
        return found

    encode_or_reuse.keeps_find_responses = True  # type: ignore[attr-defined]
    return encode_or_reuse


def _status(code: int, comment: str = "", error_id: int | None = None) -> Dataset:
    status = Dataset()
    status.Status = code
    if comment:
        status.ErrorComment = comment[:64]  # LO
    if error_id is not None:
        status.ErrorID = error_id
    return status


def _caller(event: Event) -> str:
    requestor = event.assoc.requestor
    return (requestor.ae_title or "").strip() or "?"


def _console_spoke(event: Event) -> bool:
    """Whether the console sent something pynetdicom has not read yet (mid-stream: a C-CANCEL)."""
    try:
        sock = event.assoc.dul.socket.socket
        return bool(sock is not None and select.select([sock], [], [], 0)[0])
    except (AttributeError, OSError, ValueError):
        return False


def _console_heard(event: Event, timeout: float = CATCH_UP_SECONDS) -> None:
    """Let pynetdicom read what the console sent before any more answers are queued.

    Its reactor reads from the console only when it has nothing left to send, and answers
    are made faster than they go out: without this pause a C-CANCEL would be read only once
    every answer had been sent. Waits until the answers queued so far are sent and the
    console's message is read, or `timeout`.
    """
    queue = event.assoc.dul.to_provider_queue
    deadline = time.monotonic() + timeout
    while (queue.qsize() or _console_spoke(event)) and time.monotonic() < deadline:
        time.sleep(0.0005)


def handle_worklist_find(event: Event) -> Iterator[tuple[int | Dataset, Dataset | None]]:
    """EVT_C_FIND on the Modality Worklist: one pending answer per offered order that matches."""
    caller = _caller(event)
    if event.request.AffectedSOPClassUID != ModalityWorklistInformationFind:
        yield _status(SOP_CLASS_NOT_SUPPORTED, "Only the Modality Worklist is searchable"), None
        return
    try:
        query = event.identifier
        keys = [element.keyword or str(element.tag) for element in query]
    except Exception as exc:
        logger.warning("worklist query from %s could not be decoded: %s", caller, exc)
        yield _status(IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, "The query could not be decoded"), None
        return
    logger.info("worklist query from %s on %s", caller, ", ".join(keys))
    database_checked()
    sent = 0
    try:
        syntax = event.context.transfer_syntax
        answers = mwl.worklist_find(
            query, implicit_vr=syntax.is_implicit_VR, little_endian=syntax.is_little_endian
        )
        for answer in answers:
            if _console_spoke(event):
                _console_heard(event)
            # PS3.7 9.1.2.1.6: after a C-CANCEL, stop and answer "cancelled".
            if event.is_cancelled:
                logger.info("worklist query from %s cancelled after %d answers", caller, sent)
                yield Status.CANCEL, None
                return
            yield Status.PENDING, answer
            sent += 1
    except mwl.QueryError as exc:
        logger.warning("worklist query from %s refused: %s", caller, exc)
        yield _status(UNABLE_TO_PROCESS, str(exc)), None
        return
    except Exception:
        logger.exception("worklist query from %s failed", caller)
        yield _status(UNABLE_TO_PROCESS, "The worklist is not available"), None
        return
    logger.info("worklist query from %s: %d orders", caller, sent)
    yield Status.SUCCESS, None


def handle_mpps_create(event: Event) -> tuple[int | Dataset, Dataset | None]:
    """EVT_N_CREATE on MPPS: the console started an exam."""
    caller = _caller(event)
    uid = getattr(event.request, "AffectedSOPInstanceUID", None) or ""
    database_checked()
    try:
        attributes = event.attribute_list
        step = mpps.step_create(sop_instance_uid=str(uid), dataset=attributes, calling_ae=caller)
    except mpps.StepError as exc:
        logger.warning("MPPS N-CREATE %s from %s refused: %s", uid, caller, exc)
        return _status(exc.status, str(exc), exc.error_id), None
    except Exception:
        logger.exception("MPPS N-CREATE %s from %s failed", uid, caller)
        return _status(mpps.PROCESSING_FAILURE, "The step could not be recorded"), None
    logger.info(
        "MPPS %s from %s: %s%s",
        uid,
        caller,
        step.status,
        f" for order {step.order.accession_number}" if step.order else " (no matching order)",
    )
    return Status.SUCCESS, attributes


def handle_mpps_set(event: Event) -> tuple[int | Dataset, Dataset | None]:
    """EVT_N_SET on MPPS: the console updated, completed or discontinued an exam."""
    caller = _caller(event)
    uid = getattr(event.request, "RequestedSOPInstanceUID", None) or ""
    database_checked()
    try:
        modifications = event.modification_list
        step = mpps.step_update(sop_instance_uid=str(uid), modifications=modifications)
    except mpps.StepError as exc:
        logger.warning("MPPS N-SET %s from %s refused: %s", uid, caller, exc)
        return _status(exc.status, str(exc), exc.error_id), None
    except Exception:
        logger.exception("MPPS N-SET %s from %s failed", uid, caller)
        return _status(mpps.PROCESSING_FAILURE, "The step could not be updated"), None
    logger.info("MPPS %s from %s: now %s", uid, caller, step.status)
    return Status.SUCCESS, modifications
