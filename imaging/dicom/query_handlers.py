"""The listener's Query/Retrieve C-FIND (Patient Root and Study Root), registered from `ImagingConfig`.

Thin and never raising: it logs who asked what, calls `imaging.query`, and translates every
failure into a named C-FIND status with an error comment, so a malformed query or a database
hiccup gets an answer and the listener keeps serving.
"""

import logging
from collections.abc import Iterator

from pydicom import Dataset
from pynetdicom import evt
from pynetdicom.events import Event
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
)
from pynetdicom.status import Status

from imaging import query
from imaging.dicom import services
from imaging.dicom.handlers import database_checked

logger = logging.getLogger(__name__)

ROOTS = {
    PatientRootQueryRetrieveInformationModelFind: query.PATIENT_ROOT,
    StudyRootQueryRetrieveInformationModelFind: query.STUDY_ROOT,
}
# PS3.4 C.5.1.1.2 (Table C.5-1): byte 2 of a C-FIND SCU's extended negotiation asks for
# combined date-time matching; byte 1 (relational queries) and byte 3 (fuzzy person names)
# are answered 0: the portal answers baseline hierarchical queries with literal matching.
COMBINED_DATETIME_BYTE = 1


def _status(code: int, comment: str = "") -> Dataset:
    status = Dataset()
    status.Status = code
    if comment:
        status.ErrorComment = comment[:64]  # LO
    return status


def _caller(event: Event) -> str:
    return (event.assoc.requestor.ae_title or "").strip() or "?"


def _combined_datetime(event: Event, sop_class: str) -> bool:
    """Whether the association agreed combined date-time matching (what the portal answered)."""
    try:
        agreed = event.assoc.acceptor.sop_class_extended.get(sop_class, b"") or b""
    except AttributeError:
        return False
    return len(agreed) > COMBINED_DATETIME_BYTE and agreed[COMBINED_DATETIME_BYTE] == 1


def handle_find(event: Event) -> Iterator[tuple[int | Dataset, Dataset | None]]:
    """EVT_C_FIND on Patient Root or Study Root: one pending answer per match."""
    caller = _caller(event)
    sop_class = event.request.AffectedSOPClassUID
    try:
        identifier = event.identifier
        parsed = query.query_parse(
            identifier,
            root=ROOTS[sop_class],
            combined_datetime=_combined_datetime(event, sop_class),
        )
    except query.QueryError as exc:
        logger.warning("query from %s refused: %s", caller, exc)
        yield _status(exc.status, str(exc)), None
        return
    except Exception as exc:
        logger.warning("query from %s could not be decoded: %s", caller, exc)
        yield _status(query.IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, "The query could not be decoded"), None  # fmt: skip
        return
    logger.info("query from %s: %s", caller, query.query_level_description(parsed))
    database_checked()
    sent = 0
    try:
        syntax = event.context.transfer_syntax
        answers = query.query_answers_find(
            parsed,
            retrieve_ae_title=event.assoc.ae.ae_title,
            implicit_vr=syntax.is_implicit_VR,
            little_endian=syntax.is_little_endian,
        )
        for answer in answers:
            # PS3.7 9.1.2.1.6: after a C-CANCEL, stop and answer "cancelled" (the response
            # loop, imaging.dicom.find_stream, reads a C-CANCEL before asking for the next).
            if event.is_cancelled:
                logger.info("query from %s cancelled after %d answers", caller, sent)
                yield Status.CANCEL, None
                return
            yield Status.PENDING, answer
            sent += 1
    except query.QueryError as exc:
        logger.warning("query from %s refused: %s", caller, exc)
        yield _status(exc.status, str(exc)), None
        return
    except Exception:
        logger.exception("query from %s failed", caller)
        yield _status(query.UNABLE_TO_PROCESS, "The index could not be searched"), None
        return
    logger.info("query from %s: %d answers", caller, sent)
    yield Status.SUCCESS, None


def handle_extended_negotiation(event: Event) -> dict[str, bytes]:
    """EVT_SOP_EXTENDED: agree to combined date-time matching on the FIND SOP classes."""
    agreed = {}
    for sop_class, asked in (event.app_info or {}).items():
        if sop_class not in ROOTS or not asked:
            continue
        reply = bytearray(min(len(asked), 3))
        if len(asked) > COMBINED_DATETIME_BYTE and asked[COMBINED_DATETIME_BYTE] == 1:
            reply[COMBINED_DATETIME_BYTE] = 1
        agreed[sop_class] = bytes(reply)
    return agreed


def register() -> None:
    services.service_register(
        services.Service(
            name="query-retrieve-find",
            sop_classes=list(ROOTS),
            handlers=[
                (evt.EVT_C_FIND, handle_find),
                (evt.EVT_SOP_EXTENDED, handle_extended_negotiation),
            ],
        )
    )
