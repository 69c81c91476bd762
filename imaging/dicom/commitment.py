"""The listener's side of storage commitment: N-EVENT-REPORTs a destination opens a new
association to deliver (PS3.4 J.3.3), registered as a listener service from `ImagingConfig`."""

import logging

from django.db import close_old_connections
from pydicom import uid
from pynetdicom import evt
from pynetdicom.events import Event
from pynetdicom.sop_class import StorageCommitmentPushModel

from imaging.dicom import services, status

logger = logging.getLogger(__name__)

# PS3.7 C.4.3 / PS3.4 J.3.3: Event Type IDs of a commitment report.
COMMITTED_ALL, COMMITTED_SOME_FAILED = 1, 2
# PS3.7 C.4.3.1: the Event Type ID is not one this SOP class defines.
NO_SUCH_EVENT_TYPE = 0x0113


def handle_commitment_report(event: Event) -> tuple[int, None]:
    """EVT_N_EVENT_REPORT: record which instances the destination committed. Never raises."""
    from imaging import receipts

    close_old_connections()
    try:
        if event.request.AffectedSOPClassUID != StorageCommitmentPushModel:
            return status.PROCESSING_FAILURE, None
        if event.request.EventTypeID not in (COMMITTED_ALL, COMMITTED_SOME_FAILED):
            return NO_SUCH_EVENT_TYPE, None
        receipts.report_received(event.event_information)
    except Exception:
        logger.exception("storage commitment report from %s failed", event.assoc.requestor.ae_title)
        return status.PROCESSING_FAILURE, None
    return status.SUCCESS, None


def register() -> None:
    services.service_register(
        services.Service(
            name="storage-commitment-reports",
            sop_classes=[StorageCommitmentPushModel],
            handlers=[(evt.EVT_N_EVENT_REPORT, handle_commitment_report)],
            transfer_syntaxes=[uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian],
            # The destination reports as the SCP of Storage Commitment on an association it opens.
            scu_role=True,
        )
    )
