"""The listener's retrieving side of Query/Retrieve: C-MOVE and C-GET on the Patient Root and
Study Root models (PS3.4 C.4.2, C.4.3), registered as listener services from `ImagingConfig`.

C-GET follows pynetdicom's own protocol: the handler yields the number of sub-operations,
then one (Pending, data set) per instance, and pynetdicom sends each as a C-STORE on the
requester's association (to the storage contexts it proposed with the SCP role, PS3.4
C.4.3.1; PS3.7 D.3.3.4).

C-MOVE does not: pynetdicom would open its own association to the destination and C-STORE
each data set the handler yields, bypassing the portal's sends (records, transcoding,
association limits, retries, the sends page). `RetrieveServiceClass` replaces pynetdicom's
C-MOVE step for associations served by the portal's listener: the handler runs the move as
send jobs (`imaging.retrieve`) and hands back `MoveResponse`s, pending ones through
`event.respond` while the send runs, the final one by yielding it.
"""

import functools
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO

from pydicom import Dataset, dcmread, uid
from pynetdicom import association, evt
from pynetdicom.dimse_primitives import C_MOVE
from pynetdicom.dsutils import encode
from pynetdicom.events import Event
from pynetdicom.presentation import AllStoragePresentationContexts
from pynetdicom.service_class import QueryRetrieveServiceClass
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)
from pynetdicom.status import QR_MOVE_SERVICE_CLASS_STATUS

from imaging import retrieve, storage
from imaging.dicom import handlers, services
from imaging.models import Instance
from imaging.retrieve import RetrieveCounts, RetrieveError

logger = logging.getLogger(__name__)

MOVE_MODELS = {
    PatientRootQueryRetrieveInformationModelMove: retrieve.PATIENT_ROOT,
    StudyRootQueryRetrieveInformationModelMove: retrieve.STUDY_ROOT,
}
GET_MODELS = {
    PatientRootQueryRetrieveInformationModelGet: retrieve.PATIENT_ROOT,
    StudyRootQueryRetrieveInformationModelGet: retrieve.STUDY_ROOT,
}
UNCOMPRESSED = {uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian}
# PS3.7 C.4.2.1.4 (Error Comment, LO): at most 64 characters.
ERROR_COMMENT_LENGTH = 64
# Pending responses are optional (PS3.4 C.4.2.1.6 asks only that those sent carry the counts):
# the first goes at once, later ones at most this often. One per instance cost more than a
# third of a CT's move time in pynetdicom's message encoding (see `python -m bench retrieve`).
PENDING_EVERY_SECONDS = 0.25


@dataclass(frozen=True)
class MoveResponse:
    """One C-MOVE-RSP: its status, the sub-operation counts, and words for a failure."""

    status: int
    counts: RetrieveCounts | None = None
    error_comment: str = ""


def _requester(event: Event) -> tuple[str, str]:
    requestor = event.assoc.requestor
    try:
        address = f"{requestor.address}:{requestor.port}"
    except (AttributeError, ValueError):
        address = "?"
    return (requestor.ae_title or "").strip(), address


def handle_move(event: Event) -> Iterator[MoveResponse]:
    """EVT_C_MOVE: send the instances asked for to the registered destination named by the
    Move Destination, as send jobs. Never raises: every failure is a named status."""
    handlers.database_checked()
    calling_ae, address = _requester(event)
    move_destination = str(event.request.MoveDestination or "").strip()
    try:
        root = MOVE_MODELS[event.request.AffectedSOPClassUID]
        destination = retrieve.move_destination_find(ae_title=move_destination, address=address)
        instances = retrieve.retrieve_instances(identifier=event.identifier, root=root)
        total = instances.count()
        if total > retrieve.MAX_SUBOPERATIONS:
            raise RetrieveError(
                f"{total} instances are more than one move can count; move by series.",
                status=retrieve.UNABLE_TO_PROCESS,
            )
        if not total:
            yield MoveResponse(retrieve.SUCCESS, RetrieveCounts())
            return
        jobs = retrieve.move_jobs_create(
            instances=instances, destination=destination, requested_by_ae=calling_ae
        )
        logger.info(
            "C-MOVE from %s (%s): %d instances to %s", calling_ae, address, total, destination
        )
        outcome = retrieve.move_run(
            job_ids=[job.pk for job in jobs],
            report=_pending_reporter(event),
            # A requester that went away cancels too: nobody is left to answer.
            cancelled=lambda: event.is_cancelled or not event.assoc.is_established,
        )
    except RetrieveError as exc:
        logger.info("C-MOVE from %s (%s) refused: %s", calling_ae, address, exc)
        yield MoveResponse(exc.status, error_comment=str(exc))
        return
    except Exception:
        logger.exception("C-MOVE from %s (%s) failed", calling_ae, address)
        yield MoveResponse(
            retrieve.UNABLE_TO_PROCESS, error_comment="The portal failed; see its log."
        )
        return
    yield MoveResponse(outcome.status, outcome.counts, outcome.error)


def _pending_reporter(event: Event):
    """Send a pending response with the counts: the first at once, then at most every
    `PENDING_EVERY_SECONDS`."""
    last = [-PENDING_EVERY_SECONDS]

    def report(counts: RetrieveCounts) -> None:
        now = time.monotonic()
        if now - last[0] >= PENDING_EVERY_SECONDS:
            last[0] = now
            event.respond(MoveResponse(retrieve.PENDING, counts))

    return report


def handle_get(event: Event) -> Iterator:
    """EVT_C_GET: the instances asked for, as C-STOREs on the requester's association, in a
    transfer syntax it accepted. Never raises."""
    handlers.database_checked()
    calling_ae, address = _requester(event)
    try:
        root = GET_MODELS[event.request.AffectedSOPClassUID]
        instances = list(retrieve.retrieve_instances(identifier=event.identifier, root=root))
    except Exception as exc:
        status, comment = (
            (exc.status, str(exc))
            if isinstance(exc, RetrieveError)
            else (retrieve.UNABLE_TO_PROCESS, "The portal failed; see its log.")
        )
        if not isinstance(exc, RetrieveError):
            logger.exception("C-GET from %s (%s) failed", calling_ae, address)
        # pynetdicom reads the count first; a refusal is then the one answer that follows.
        yield 1
        yield _status(status, comment), None
        return
    yield len(instances)
    given: list[Instance] = []
    try:
        for instance in instances:
            if event.is_cancelled or not event.assoc.is_established:
                yield retrieve.CANCEL, None  # pynetdicom adds the counts and failed UIDs
                return
            yield retrieve.PENDING, _dataset_for(event, instance)
            given.append(instance)
    finally:
        if given:
            retrieve.get_record(instances=given, requested_by_ae=calling_ae, address=address)
            logger.info("C-GET from %s (%s): %d instances", calling_ae, address, len(given))


def _status(status: int, comment: str) -> Dataset:
    answer = Dataset()
    answer.Status = status
    answer.ErrorComment = error_comment(comment)
    return answer


def error_comment(text: str) -> str:
    """`text` as an Error Comment: the default character repertoire (a command set has no
    Specific Character Set, PS3.7 6.3.1), at most 64 characters."""
    plain = text.replace("\u2014", "-").replace("\u2026", "...").replace("\u00d7", "x")
    return plain.encode("ascii", "replace").decode("ascii")[:ERROR_COMMENT_LENGTH]


def _dataset_for(event: Event, instance: Instance) -> Dataset:
    """The stored instance in a transfer syntax the requester accepted: as stored, else
    decompressed (pynetdicom converts between the uncompressed ones). One that cannot be read
    or converted becomes a data set pynetdicom cannot send, so its sub-operation fails and its
    UID is listed (PS3.4 C.4.3.3.1)."""
    accepted = {
        cx.transfer_syntax[0]
        for cx in event.assoc.accepted_contexts
        if cx.abstract_syntax == instance.sop_class_uid and cx.as_scu
    }
    try:
        if instance.transfer_syntax_uid in accepted or accepted & UNCOMPRESSED:
            with storage.instance_open(instance.storage_key) as handle:
                dataset = dcmread(handle)
            if instance.transfer_syntax_uid not in accepted:
                dataset.decompress(generate_instance_uid=False)  # the same instance
            return dataset
        logger.info("C-GET: %s not accepted by the requester", instance.sop_instance_uid)
    except Exception:
        logger.exception("C-GET: instance %s cannot be read", instance.sop_instance_uid)
    unsendable = Dataset()  # no file meta: pynetdicom refuses to send it
    unsendable.SOPClassUID = instance.sop_class_uid
    unsendable.SOPInstanceUID = instance.sop_instance_uid
    return unsendable


class RetrieveServiceClass(QueryRetrieveServiceClass):
    """pynetdicom's Query/Retrieve service class, except that a C-MOVE the portal's listener
    serves is answered from the portal's handler (`MoveResponse`s) instead of pynetdicom's
    own sub-association."""

    def SCP(self, req, context) -> None:
        if (
            isinstance(req, C_MOVE)
            and context.abstract_syntax in MOVE_MODELS
            and _served_by_portal(self.assoc)
        ):
            self.statuses = QR_MOVE_SERVICE_CLASS_STATUS
            self._portal_move(req, context)
            return
        super().SCP(req, context)

    def _portal_move(self, req: C_MOVE, context) -> None:
        context_id = context.context_id
        syntax = context.transfer_syntax[0]

        def respond(response: MoveResponse) -> None:
            if self.assoc.is_established:
                self.dimse.send_msg(_move_rsp(req, response, syntax), context_id)

        responses = evt.trigger(
            self.assoc,
            evt.EVT_C_MOVE,
            {
                "request": req,
                "context": context.as_tuple,
                "_is_cancelled": self.is_cancelled,
                "respond": respond,
            },
        )
        try:
            for response in responses:
                if isinstance(response, tuple):  # the dispatcher's "SOP class not supported"
                    response = MoveResponse(response[0])
                respond(response)
                if response.status != retrieve.PENDING:
                    return
        except Exception:
            logger.exception("C-MOVE handler failed")
            respond(MoveResponse(retrieve.UNABLE_TO_PROCESS, error_comment="The portal failed."))


def _move_rsp(req: C_MOVE, response: MoveResponse, syntax: uid.UID) -> C_MOVE:
    """PS3.7 9.3.4.2 / PS3.4 C.4.2.1.6: counts on every response (remaining only while
    pending or cancelled), the Failed SOP Instance UID List on a final one that had failures."""
    rsp = C_MOVE()
    rsp.MessageIDBeingRespondedTo = req.MessageID
    rsp.AffectedSOPClassUID = req.AffectedSOPClassUID
    rsp.Status = response.status
    counts = response.counts
    if counts is not None:
        if response.status in (retrieve.PENDING, retrieve.CANCEL):
            rsp.NumberOfRemainingSuboperations = counts.remaining
        rsp.NumberOfCompletedSuboperations = counts.completed
        rsp.NumberOfFailedSuboperations = counts.failed
        rsp.NumberOfWarningSuboperations = counts.warning
        if response.status not in (retrieve.PENDING, retrieve.SUCCESS):
            identifier = Dataset()
            identifier.FailedSOPInstanceUIDList = counts.failed_uids
            encoded = encode(identifier, syntax.is_implicit_VR, syntax.is_little_endian)
            rsp.Identifier = BytesIO(encoded or b"")
    if response.error_comment and response.status not in (retrieve.PENDING, retrieve.SUCCESS):
        rsp.ErrorComment = error_comment(response.error_comment)
    return rsp


def _served_by_portal(assoc) -> bool:
    """Whether the association's C-MOVE handler is the portal's (bound by its listener)."""
    handler = assoc.get_handlers(evt.EVT_C_MOVE)
    function = handler[0] if isinstance(handler, tuple) else None
    return getattr(function, "__module__", None) == services.__name__


@functools.cache
def _install_service_class() -> None:
    """pynetdicom picks the service class by SOP class (3.0 has no setting for it): have it
    pick ours for the C-MOVE models."""
    pick = association.uid_to_service_class

    def service_class_for(sop_class: str):
        return RetrieveServiceClass if sop_class in MOVE_MODELS else pick(sop_class)

    association.uid_to_service_class = service_class_for


def register() -> None:
    _install_service_class()
    services.service_register(
        services.Service(
            name="query-retrieve-move",
            sop_classes=list(MOVE_MODELS),
            handlers=[(evt.EVT_C_MOVE, handle_move)],
        )
    )
    services.service_register(
        services.Service(
            name="query-retrieve-get",
            sop_classes=list(GET_MODELS),
            handlers=[(evt.EVT_C_GET, handle_get)],
        )
    )
    # C-GET: the requester proposes storage contexts in which it is the SCP (SCP/SCU Role
    # Selection, PS3.7 D.3.3.4); the listener accepts that role for every storage class.
    services.service_register(
        services.Service(
            name="query-retrieve-get-storage",
            sop_classes=[cx.abstract_syntax for cx in AllStoragePresentationContexts],
            handlers=[],
            transfer_syntaxes=sorted(UNCOMPRESSED),
            scu_role=True,
        )
    )
