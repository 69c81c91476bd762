"""The listener's handlers for Modality Worklist C-FIND and MPPS N-CREATE / N-SET.

Thin and never raising: they log who called, call `worklist.mwl` or `worklist.mpps`, and
translate every failure into a named DIMSE status with an error comment, so a malformed
query or a database hiccup gets an answer and the listener keeps serving. The worklist's
answers go out through `imaging.dicom.find_stream`, which also lets a console's C-CANCEL be
read between two answers.
"""

import logging
from collections.abc import Iterator

from pydicom import Dataset
from pynetdicom.events import Event
from pynetdicom.sop_class import ModalityWorklistInformationFind
from pynetdicom.status import Status

from imaging.dicom.handlers import database_checked
from worklist import mpps, mwl

logger = logging.getLogger(__name__)

# PS3.4 K.4.1.1.4 Modality Worklist C-FIND statuses.
IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS = 0xA900
UNABLE_TO_PROCESS = 0xC000
# PS3.7 C.5.2: the request's SOP class is not one this handler serves.
SOP_CLASS_NOT_SUPPORTED = 0x0122


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
