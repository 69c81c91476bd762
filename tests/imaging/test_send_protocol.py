"""What goes over the wire when sending: the destination's preferred transfer syntax,
storage commitment answered on the send's own association, and cancelling mid-send
(in-process pynetdicom SCPs)."""

import struct
import threading

import numpy as np
import pytest
from django.db import connections
from pydicom import Dataset
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
)
from pynetdicom import AE, evt
from pynetdicom.presentation import AllStoragePresentationContexts
from pynetdicom.sop_class import StorageCommitmentPushModel

from bench.processes import free_port
from clinic.queue import wait_for_local_tasks
from imaging import send, storage
from imaging.dicom import scu, store, store_stream
from imaging.models import SendItemState, SendJob, SendState
from imaging.synthetic import make_dataset
from tests.send_peers import destination_for, portal_study, pynetdicom_scp, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

DX = "1.2.840.10008.5.1.4.1.1.1.1"


@pytest.fixture(autouse=True)
def _tasks_in_process(settings):
    """Sends run on this process's task thread, as in embedded mode."""
    settings.CELERY_BROKER_URL = None
    settings.SEND_RETRY_BASE_SECONDS = 0.05
    settings.SEND_MAX_ATTEMPTS = 2
    settings.SEND_COMMITMENT_TIMEOUT_SECONDS = 1  # the C-FIND check task is not left queued
    yield
    assert wait_for_local_tasks(30)


def _finished(job: SendJob) -> SendJob | None:
    job.refresh_from_db()
    return job if job.finished else None


def test_the_preferred_syntax_is_proposed_first_then_each_stored_one_then_uncompressed():
    pairs = {(DX, ExplicitVRLittleEndian), (DX, RLELossless)}
    assert store.store_contexts(pairs, JPEGLSLossless) == [
        (DX, [JPEGLSLossless]),
        (DX, [ExplicitVRLittleEndian]),
        (DX, [RLELossless]),
        (DX, scu.UNCOMPRESSED),
    ]
    implicit = scu.UNCOMPRESSED[1]
    assert store.store_contexts({(DX, ExplicitVRLittleEndian)}, implicit) == [
        (DX, [implicit]),
        (DX, [ExplicitVRLittleEndian]),
        (DX, [implicit, ExplicitVRLittleEndian]),
    ]
    # A syntax the portal cannot encode is not proposed for conversions.
    assert store.store_contexts({(DX, RLELossless)}, JPEGLosslessSV1) == [
        (DX, [RLELossless]),
        (DX, scu.UNCOMPRESSED),
    ]


@pytest.mark.parametrize("preferred", [JPEG2000Lossless, JPEGLSLossless, RLELossless])
def test_an_instance_is_compressed_to_the_preferred_syntax_when_only_that_is_accepted(preferred):
    study = portal_study(per_series=2)  # stored as Explicit VR Little Endian
    with pynetdicom_scp(transfer_syntaxes=[preferred]) as (port, received):
        job = send.send_job_create(
            study=study,
            destination=destination_for(
                "Archive", port, "STORE_SCP", preferred_transfer_syntax=preferred
            ),
        )
        wait_for(lambda: _finished(job), what="the send to finish")
    assert job.state == SendState.SENT, job.error
    assert len(received) == 2
    original = make_dataset(rows=32, columns=32)
    for ds in received:
        assert ds.file_meta.TransferSyntaxUID == preferred
        assert np.array_equal(ds.pixel_array, original.pixel_array)  # lossless


def test_a_file_goes_as_stored_when_the_destination_accepts_that_too():
    study = portal_study(per_series=1, transfer_syntax=RLELossless)
    with pynetdicom_scp(transfer_syntaxes=[RLELossless, JPEG2000Lossless]) as (port, received):
        job = send.send_job_create(
            study=study,
            destination=destination_for(
                "Archive", port, "STORE_SCP", preferred_transfer_syntax=JPEG2000Lossless
            ),
        )
        wait_for(lambda: _finished(job))
    assert job.state == SendState.SENT, job.error
    (ds,) = received
    assert ds.file_meta.TransferSyntaxUID == RLELossless


def _is_n_action_response(pdu) -> bool:
    """Whether a sent PDU carries the command of an N-ACTION-RSP (PS3.7 E.1-1: 0x8130)."""
    for item in getattr(pdu, "presentation_data_value_items", []):
        value = item.presentation_data_value
        if value and value[0] & 0x01:  # a command fragment (PS3.8 E.2)
            field = store_stream.parse_command(bytes(value[1:])).get(0x0000_0100, b"")
            if field[:2] == struct.pack("<H", 0x8130):
                return True
    return False


class CommitmentOnSameAssociation:
    """A Storage SCP that is also a Storage Commitment SCP and reports on the association the
    request came on (PS3.4 J.3.3), right after its N-ACTION response.

    The report starts only once the N-ACTION-RSP PDU is on the wire: pynetdicom marks its
    reactor paused while a handler runs, so a report started from the N-ACTION handler would
    put its P-DATA PDUs in the queue alongside the response's, and the portal would receive the
    two messages' fragments interleaved (which PS3.8 9.3.5.1 forbids) and abort."""

    def __init__(self, *, fail: set[str] = frozenset()) -> None:
        self.fail = fail
        self.report_statuses: list[int] = []
        self._due: dict[int, Dataset] = {}  # id(association) → its N-ACTION's information
        self.ae = AE(ae_title="COMMIT_SCP")
        for context in AllStoragePresentationContexts:
            self.ae.add_supported_context(context.abstract_syntax, ExplicitVRLittleEndian)
        self.ae.add_supported_context(StorageCommitmentPushModel, ExplicitVRLittleEndian)
        self.port = free_port()

    def _n_action(self, event):
        self._due[id(event.assoc)] = event.action_information
        return 0x0000, None

    def _pdu_sent(self, event) -> None:
        # The DUL thread, right after writing a PDU: the N-ACTION response has gone out.
        if id(event.assoc) in self._due and _is_n_action_response(event.pdu):
            request = self._due.pop(id(event.assoc))
            threading.Thread(target=self._report, args=(event.assoc, request), daemon=True).start()

    def _report(self, assoc, request: Dataset) -> None:
        report = Dataset()
        report.TransactionUID = request.TransactionUID
        report.ReferencedSOPSequence = []
        report.FailedSOPSequence = []
        for item in request.ReferencedSOPSequence:
            entry = Dataset()
            entry.ReferencedSOPClassUID = item.ReferencedSOPClassUID
            entry.ReferencedSOPInstanceUID = item.ReferencedSOPInstanceUID
            if item.ReferencedSOPInstanceUID in self.fail:
                entry.FailureReason = 0x0110
                report.FailedSOPSequence.append(entry)
            else:
                report.ReferencedSOPSequence.append(entry)
        event_type = 2 if report.FailedSOPSequence else 1
        if not report.FailedSOPSequence:
            del report.FailedSOPSequence
        status, _ = assoc.send_n_event_report(
            report, event_type, StorageCommitmentPushModel, scu.STORAGE_COMMITMENT_INSTANCE
        )
        self.report_statuses.append(int(status.Status) if "Status" in status else -1)

    def __enter__(self):
        self.server = self.ae.start_server(
            ("127.0.0.1", self.port),
            block=False,
            evt_handlers=[
                (evt.EVT_C_STORE, lambda event: 0x0000),
                (evt.EVT_N_ACTION, self._n_action),
                (evt.EVT_PDU_SENT, self._pdu_sent),
            ],
        )
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()


def test_a_commitment_report_on_the_send_association_confirms_the_job():
    study = portal_study(series=2, per_series=2)
    with CommitmentOnSameAssociation() as scp:
        destination = destination_for("PACS", scp.port, "COMMIT_SCP", storage_commitment=True)
        job = send.send_job_create(study=study, destination=destination)
        # No listener runs here: only the send's own association can bring the report. The
        # portal records a report before answering it, so once answered it is in the job.
        wait_for(lambda: scp.report_statuses, what="the answer to the report")
        wait_for(lambda: _finished(job), what=lambda: f"confirmation (state {job.state})")
    assert job.state == SendState.CONFIRMED, job.error
    assert job.items.filter(state=SendItemState.CONFIRMED).count() == 4
    assert scp.report_statuses == [0x0000]


def test_a_report_on_the_send_association_naming_a_failure_leaves_the_job_partial():
    study = portal_study(series=2, per_series=1)
    lost = study.series.get(series_number=2).instances.get().sop_instance_uid
    with CommitmentOnSameAssociation(fail={lost}) as scp:
        destination = destination_for("PACS", scp.port, "COMMIT_SCP", storage_commitment=True)
        job = send.send_job_create(study=study, destination=destination)
        wait_for(lambda: scp.report_statuses, what="the answer to the report")
        wait_for(lambda: _finished(job))
    assert scp.report_statuses == [0x0000]
    assert job.state == SendState.PARTIAL, job.error
    assert job.error == "Not confirmed: View 2."
    failed = job.items.get(state=SendItemState.FAILED)
    assert failed.instance.sop_instance_uid == lost


def test_cancelling_a_running_send_stops_it_between_instances_and_resume_sends_the_rest(
    monkeypatch,
):
    monkeypatch.setattr(send, "PROGRESS_EVERY_SECONDS", 0)  # look for a cancel before each one
    study = portal_study(per_series=6)

    def cancel_on_second(event) -> int:
        if len(received) == 2:
            # A user presses "Cancel" while the second instance is on its way.
            send.send_job_cancel(job_id=SendJob.objects.latest("pk").pk)
            connections.close_all()
        return 0x0000

    with pynetdicom_scp(on_store=cancel_on_second) as (port, received):
        destination = destination_for("PACS", port, "STORE_SCP")
        job = send.send_job_create(study=study, destination=destination)
        wait_for(lambda: _finished(job), what="the cancellation")
        assert wait_for_local_tasks(30)  # the worker's run has ended
        job.refresh_from_db()
        assert job.state == SendState.CANCELLED
        first = [str(ds.SOPInstanceUID) for ds in received]
        assert len(first) == 2
        assert set(
            job.items.filter(state=SendItemState.SENT).values_list(
                "instance__sop_instance_uid", flat=True
            )
        ) == set(first)
        assert job.items.filter(state=SendItemState.PENDING).count() == 4

        send.send_job_resume(job_id=job.pk)
        wait_for(lambda: _finished(job))
    assert job.state == SendState.SENT
    second = [str(ds.SOPInstanceUID) for ds in received[2:]]
    assert len(second) == 4 and not set(second) & set(first)
    assert job.items.filter(state=SendItemState.SENT).count() == 6


@pytest.mark.parametrize("max_pdu", [1024, 0])
def test_files_sent_as_stored_arrive_whole_in_pdus_of_the_receivers_size(max_pdu):
    """The portal frames each file as stored itself: in many small PDUs for a receiver that
    takes 1 KiB, in one for a receiver without a limit (0)."""
    study = portal_study(series=1, per_series=3)
    with pynetdicom_scp(maximum_pdu_size=max_pdu) as (port, received):
        job = send.send_job_create(
            study=study, destination=destination_for("PACS", port, "STORE_SCP")
        )
        wait_for(lambda: _finished(job))
    assert job.state == SendState.SENT, job.error
    original = make_dataset(rows=32, columns=32)
    assert len(received) == 3
    for ds in received:
        assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert np.array_equal(ds.pixel_array, original.pixel_array)
        assert ds.PatientName == "Smith^Rex"


def test_an_instance_whose_stored_file_is_gone_fails_alone():
    study = portal_study(series=1, per_series=3)
    lost = study.series.get().instances.order_by("instance_number").first()
    storage.local_path(lost.storage_key).unlink()
    with pynetdicom_scp() as (port, received):
        job = send.send_job_create(
            study=study, destination=destination_for("PACS", port, "STORE_SCP")
        )
        wait_for(lambda: _finished(job))
    assert job.state == SendState.PARTIAL
    assert len(received) == 2 and lost.sop_instance_uid not in {
        str(ds.SOPInstanceUID) for ds in received
    }
    failed = job.items.get(state=SendItemState.FAILED)
    assert failed.instance == lost
    assert failed.error.startswith("The stored file of this instance cannot be read")
