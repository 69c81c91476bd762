"""Query/Retrieve C-MOVE and C-GET against the portal's listener, with an in-process pynetdicom
workstation as the requester and pynetdicom Storage SCPs as move destinations."""

import threading

import pytest
from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian, RLELossless
from pynetdicom import AE, build_role, evt
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from bench.processes import free_port
from clinic.queue import wait_for_local_tasks
from imaging import retrieve
from imaging.models import (
    Instance,
    SendItemState,
    SendJob,
    SendState,
    StudyEvent,
)
from tests.imaging.retrieve_support import cancel_reached, portal_listener
from tests.send_peers import destination_for, portal_study, pynetdicom_scp, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

WORKSTATION = "READING_WS"


@pytest.fixture(autouse=True)
def _tasks_in_process(settings):
    """Queued sends (a busy destination's slot wait, a retry) run on this process's task
    thread, and are all done when a test ends."""
    settings.CELERY_BROKER_URL = None
    yield
    assert wait_for_local_tasks(30)


def move(
    port: int,
    query: Dataset,
    destination: str,
    *,
    model=StudyRootQueryRetrieveInformationModelMove,
    on_pending=None,
):
    """C-MOVE as a workstation; returns every (status dataset, identifier) answered."""
    ae = AE(ae_title=WORKSTATION)
    ae.add_requested_context(model)
    assoc = ae.associate("127.0.0.1", port, ae_title="VETPORTAL")
    assert assoc.is_established
    answers = []
    try:
        for status, identifier in assoc.send_c_move(query, destination, model):
            answers.append((status, identifier))
            if status and status.Status == 0xFF00 and on_pending is not None:
                on_pending(assoc)
    finally:
        assoc.release()
    return answers


def query(level: str, **keys) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


def test_a_study_moves_through_a_send_job_with_pending_counts():
    study = portal_study(series=2, per_series=3)
    with (
        pynetdicom_scp(ae_title="WS_STORE") as (scp_port, received),
        portal_listener() as (port, _),
    ):
        destination_for("Reading room", scp_port, "WS_STORE")
        answers = move(port, query("STUDY", StudyInstanceUID=study.study_instance_uid), "WS_STORE")
    *pending, (final, _) = answers
    assert final.Status == 0x0000
    assert final.NumberOfCompletedSuboperations == 6
    assert final.NumberOfFailedSuboperations == 0
    remaining = [s.NumberOfRemainingSuboperations for s, _ in pending]
    assert remaining == sorted(remaining, reverse=True) and remaining[-1] >= 1
    assert all(s.Status == 0xFF00 for s, _ in pending)
    expected = set(Instance.objects.values_list("sop_instance_uid", flat=True))
    assert {str(ds.SOPInstanceUID) for ds in received} == expected
    job = SendJob.objects.get()
    assert job.requested_by_ae == WORKSTATION
    assert job.state == SendState.SENT
    assert job.destination.name == "Reading room"
    assert set(job.items.values_list("state", flat=True)) == {SendItemState.SENT}
    assert StudyEvent.objects.filter(study=study, message__contains="C-MOVE").exists()


def test_a_move_to_an_unknown_ae_title_is_refused_in_words():
    study = portal_study()
    with portal_listener() as (port, _):
        answers = move(port, query("STUDY", StudyInstanceUID=study.study_instance_uid), "NOBODY")
    ((final, _),) = answers
    assert final.Status == 0xA801
    assert "NOBODY is not a destination" in final.ErrorComment
    assert not SendJob.objects.exists()


def test_series_and_image_level_moves_send_only_what_was_named():
    study = portal_study(series=2, per_series=3)
    first, second = study.series.order_by("series_number")
    images = list(
        second.instances.order_by("instance_number").values_list("sop_instance_uid", flat=True)
    )
    with (
        pynetdicom_scp(ae_title="WS_STORE") as (scp_port, received),
        portal_listener() as (port, _),
    ):
        destination_for("Reading room", scp_port, "WS_STORE")
        by_series = move(
            port,
            query(
                "SERIES",
                StudyInstanceUID=study.study_instance_uid,
                SeriesInstanceUID=first.series_instance_uid,
            ),
            "WS_STORE",
        )
        got_series = {str(ds.SOPInstanceUID) for ds in received}
        received.clear()
        by_images = move(
            port,
            query(
                "IMAGE",
                PatientID=study.patient.patient_id,
                StudyInstanceUID=study.study_instance_uid,
                SeriesInstanceUID=second.series_instance_uid,
                SOPInstanceUID=images[:2],  # a list of UIDs at the level retrieved
            ),
            "WS_STORE",
            model=PatientRootQueryRetrieveInformationModelMove,
        )
        got_images = {str(ds.SOPInstanceUID) for ds in received}
    assert by_series[-1][0].Status == 0x0000
    assert got_series == set(first.instances.values_list("sop_instance_uid", flat=True))
    assert by_images[-1][0].Status == 0x0000
    assert got_images == set(images[:2])
    assert sorted(SendJob.objects.values_list("instances_total", flat=True)) == [2, 3]


def test_a_patient_level_move_sends_each_study_as_its_own_job():
    first = portal_study()
    second = portal_study()
    second.patient_id = first.patient_id
    second.save()
    with (
        pynetdicom_scp(ae_title="WS_STORE") as (scp_port, received),
        portal_listener() as (port, _),
    ):
        destination_for("Reading room", scp_port, "WS_STORE")
        answers = move(
            port,
            query("PATIENT", PatientID=first.patient.patient_id),
            "WS_STORE",
            model=PatientRootQueryRetrieveInformationModelMove,
        )
    assert answers[-1][0].Status == 0x0000
    assert answers[-1][0].NumberOfCompletedSuboperations == 4
    assert len(received) == 4
    assert SendJob.objects.filter(requested_by_ae=WORKSTATION).count() == 2


def test_a_cancelled_move_stops_and_answers_cancel_with_counts():
    study = portal_study(per_series=6)
    cancel_seen = threading.Event()
    with portal_listener() as (port, portal_ae):

        def on_store(event) -> int:
            # The second instance waits until the portal has the C-CANCEL in hand, so the
            # move notices it before the third.
            if len(received) == 2:
                wait_for(
                    lambda: cancel_reached(portal_ae),
                    timeout=30,
                    what="the C-CANCEL to reach the portal",
                )
                cancel_seen.set()
            return 0x0000

        with pynetdicom_scp(ae_title="WS_STORE", on_store=on_store) as (scp_port, received):
            destination_for("Reading room", scp_port, "WS_STORE")
            sent_cancel = []

            def cancel(assoc) -> None:
                if not sent_cancel:
                    assoc.send_c_cancel(1, assoc.accepted_contexts[0].context_id)
                    sent_cancel.append(True)

            answers = move(
                port,
                query("STUDY", StudyInstanceUID=study.study_instance_uid),
                "WS_STORE",
                on_pending=cancel,
            )
    final, identifier = answers[-1]
    assert cancel_seen.is_set()
    assert final.Status == 0xFE00
    assert final.NumberOfCompletedSuboperations == 2
    assert final.NumberOfRemainingSuboperations == 4
    assert identifier is not None and "FailedSOPInstanceUIDList" in identifier
    assert len(received) == 2
    job = SendJob.objects.get()
    assert job.state == SendState.CANCELLED
    assert job.items.filter(state=SendItemState.PENDING).count() == 4


def test_a_destination_that_cannot_be_reached_fails_the_move_with_the_reason(settings, monkeypatch):
    # The next try (in a second) is further off than a move waits for here.
    settings.SEND_RETRY_BASE_SECONDS = 1
    monkeypatch.setattr(retrieve, "MOVE_RETRY_WAIT_SECONDS", 0)
    study = portal_study()
    destination_for("Switched off workstation", free_port(), "WS_STORE")
    with portal_listener() as (port, _):
        answers = move(port, query("STUDY", StudyInstanceUID=study.study_instance_uid), "WS_STORE")
    final, identifier = answers[-1]
    assert final.Status == 0xA702
    assert final.NumberOfFailedSuboperations == 2
    assert "Nothing is listening" in final.ErrorComment
    assert set(identifier.FailedSOPInstanceUIDList) == set(
        Instance.objects.values_list("sop_instance_uid", flat=True)
    )
    job = SendJob.objects.get()
    assert job.state == SendState.FAILED and "Nothing is listening" in job.error


def test_a_busy_destination_makes_the_move_wait_for_its_slot(settings):
    settings.SEND_SLOT_WAIT_SECONDS = 1
    study = portal_study()
    other = portal_study()
    with (
        pynetdicom_scp(ae_title="WS_STORE") as (scp_port, received),
        portal_listener() as (port, _),
    ):
        destination = destination_for("Reading room", scp_port, "WS_STORE", max_associations=1)
        from django.utils import timezone

        busy = SendJob.objects.create(
            study=other,
            destination=destination,
            state=SendState.SENDING,
            heartbeat_at=timezone.now(),
        )
        result = {}
        thread = threading.Thread(
            target=lambda: result.update(
                answers=move(
                    port, query("STUDY", StudyInstanceUID=study.study_instance_uid), "WS_STORE"
                )
            )
        )
        thread.start()
        wait_for(
            lambda: SendJob.objects.filter(requested_by_ae=WORKSTATION).exists(),
            what="the move's job",
        )
        assert not received  # the slot is taken: nothing goes yet
        SendJob.objects.filter(pk=busy.pk).update(state=SendState.SENT)
        thread.join(timeout=60)
    assert result["answers"][-1][0].Status == 0x0000
    assert len(received) == 2


def test_c_get_sends_back_on_the_same_association_decompressing_for_the_requester():
    study = portal_study(per_series=3, transfer_syntax=RLELossless)
    received = []

    def on_store(event) -> int:
        ds = event.dataset
        ds.file_meta = event.file_meta
        received.append(ds)
        return 0x0000

    ae = AE(ae_title=WORKSTATION)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    sop_class = Instance.objects.first().sop_class_uid
    ae.add_requested_context(sop_class, [ExplicitVRLittleEndian])  # not RLE: must be converted
    with portal_listener() as (port, _):
        assoc = ae.associate(
            "127.0.0.1",
            port,
            ae_title="VETPORTAL",
            ext_neg=[build_role(sop_class, scp_role=True)],
            evt_handlers=[(evt.EVT_C_STORE, on_store)],
        )
        assert assoc.is_established
        answers = list(
            assoc.send_c_get(
                query("STUDY", StudyInstanceUID=study.study_instance_uid),
                StudyRootQueryRetrieveInformationModelGet,
            )
        )
        assoc.release()
    final = answers[-1][0]
    assert final.Status == 0x0000
    assert final.NumberOfCompletedSuboperations == 3
    assert {str(ds.SOPInstanceUID) for ds in received} == set(
        Instance.objects.values_list("sop_instance_uid", flat=True)
    )
    assert {str(ds.file_meta.TransferSyntaxUID) for ds in received} == {ExplicitVRLittleEndian}
    assert len(received[0].PixelData) == 32 * 32 * received[0].BitsAllocated // 8
    assert StudyEvent.objects.filter(
        study=study, kind="retrieve", message__contains="C-GET"
    ).exists()
    assert not SendJob.objects.exists()


def test_a_get_without_its_unique_key_is_refused_in_words():
    portal_study()
    ae = AE(ae_title=WORKSTATION)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
    with portal_listener() as (port, _):
        assoc = ae.associate("127.0.0.1", port, ae_title="VETPORTAL")
        answers = list(
            assoc.send_c_get(
                query("SERIES", StudyInstanceUID=""), StudyRootQueryRetrieveInformationModelGet
            )
        )
        assoc.release()
    final = answers[-1][0]
    assert final.Status == 0xA900
    assert final.ErrorComment == "SeriesInstanceUID is missing."
    assert not StudyEvent.objects.filter(kind="retrieve").exists()


def test_a_move_converts_to_what_the_destination_accepts_keeping_the_uids():
    study = portal_study(per_series=2, transfer_syntax=RLELossless)
    with (
        pynetdicom_scp(ae_title="WS_STORE", transfer_syntaxes=[ExplicitVRLittleEndian]) as (
            scp_port,
            received,
        ),
        portal_listener() as (port, _),
    ):
        destination_for("Reading room", scp_port, "WS_STORE")
        answers = move(port, query("STUDY", StudyInstanceUID=study.study_instance_uid), "WS_STORE")
    assert answers[-1][0].Status == 0x0000
    assert {str(ds.file_meta.TransferSyntaxUID) for ds in received} == {ExplicitVRLittleEndian}
    assert {str(ds.SOPInstanceUID) for ds in received} == set(
        Instance.objects.values_list("sop_instance_uid", flat=True)
    )
