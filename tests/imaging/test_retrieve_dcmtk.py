"""Query/Retrieve with DCMTK as the workstation: `movescu` moving to `storescp` (and to an
in-process SCP for the cancelled move), `getscu` pulling on its own association."""

import os
import subprocess
from pathlib import Path

import pytest
from pydicom import dcmread

from clinic.queue import wait_for_local_tasks
from imaging.models import Instance, SendItemState, SendJob, SendState, StudyEvent
from tests.conftest import require_executable
from tests.imaging.retrieve_support import cancel_reached, portal_listener
from tests.send_peers import destination_for, portal_study, pynetdicom_scp, storescp, wait_for

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]

# How movescu -d shows the final response of a move that sent everything.
FINAL_SUCCESS = "0x0000: Success: Sub-operations complete - No failures or warnings"


@pytest.fixture(autouse=True)
def _tasks_in_process(settings):
    settings.CELERY_BROKER_URL = None
    yield
    assert wait_for_local_tasks(30)


def dcmtk(tool: str, port: int, *args: str) -> subprocess.CompletedProcess:
    """Run a DCMTK Q/R tool against the portal as workstation WS1 (Nagle off, as in the field)."""
    argv = [require_executable(tool), "-d", "-aet", "WS1", "-aec", "VETPORTAL", *args]
    return subprocess.run(
        [*argv, "127.0.0.1", str(port)],
        env={**os.environ, "TCP_NODELAY": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # DCMTK logs to stderr
        text=True,
        timeout=300,
    )


def keys(level: str, **values: str) -> list[str]:
    out = ["-k", f"QueryRetrieveLevel={level}"]
    for keyword, value in values.items():
        out += ["-k", f"{keyword}={value}"]
    return out


def received_uids(folder: Path) -> set[str]:
    return {str(dcmread(path).SOPInstanceUID) for path in folder.iterdir() if path.is_file()}


def test_movescu_moves_a_study_to_storescp(tmp_path):
    require_executable("storescp")
    study = portal_study(series=2, per_series=2)
    with storescp(tmp_path / "storescp") as (scp_port, out_dir), portal_listener() as (port, _):
        destination_for("Reading room", scp_port, "STORESCP")
        result = dcmtk(
            "movescu",
            port,
            "-S",
            "-aem",
            "STORESCP",
            *keys("STUDY", StudyInstanceUID=study.study_instance_uid),
        )
        got = received_uids(out_dir)
    assert result.returncode == 0, result.stdout
    assert FINAL_SUCCESS in result.stdout
    assert "Remaining Suboperations       : 3" in result.stdout  # pending counts streamed
    assert got == set(Instance.objects.values_list("sop_instance_uid", flat=True))
    job = SendJob.objects.get()
    assert (job.requested_by_ae, job.state, job.instances_total) == ("WS1", SendState.SENT, 4)
    assert set(job.items.values_list("state", flat=True)) == {SendItemState.SENT}


def test_movescu_series_and_image_level_moves(tmp_path):
    require_executable("storescp")
    study = portal_study(series=2, per_series=3)
    first, second = study.series.order_by("series_number")
    image = second.instances.order_by("instance_number").first()
    with storescp(tmp_path / "storescp") as (scp_port, out_dir), portal_listener() as (port, _):
        destination_for("Reading room", scp_port, "STORESCP")
        by_series = dcmtk(
            "movescu",
            port,
            "-S",
            "-aem",
            "STORESCP",
            *keys(
                "SERIES",
                StudyInstanceUID=study.study_instance_uid,
                SeriesInstanceUID=first.series_instance_uid,
            ),
        )
        wait_for(lambda: len(received_uids(out_dir)) == 3, what="the series at storescp")
        by_image = dcmtk(
            "movescu",
            port,
            "-P",
            "-aem",
            "STORESCP",
            *keys(
                "IMAGE",
                PatientID=study.patient.patient_id,
                StudyInstanceUID=study.study_instance_uid,
                SeriesInstanceUID=second.series_instance_uid,
                SOPInstanceUID=image.sop_instance_uid,
            ),
        )
        got = received_uids(out_dir)
    assert FINAL_SUCCESS in by_series.stdout
    assert FINAL_SUCCESS in by_image.stdout
    expected = set(first.instances.values_list("sop_instance_uid", flat=True))
    assert got == expected | {image.sop_instance_uid}
    assert sorted(SendJob.objects.values_list("instances_total", flat=True)) == [1, 3]


def test_movescu_to_an_unknown_ae_title_gets_a801_with_the_reason():
    study = portal_study()
    with portal_listener() as (port, _):
        result = dcmtk(
            "movescu",
            port,
            "-S",
            "-aem",
            "NOBODY",
            *keys("STUDY", StudyInstanceUID=study.study_instance_uid),
        )
    assert "MoveDestinationUnknown" in result.stdout
    assert "0xa801" in result.stdout.lower()
    assert "NOBODY is not a destination in the portal" in result.stdout
    assert not SendJob.objects.exists()


def test_movescu_cancel_ends_the_move_with_cancel_and_counts():
    study = portal_study(per_series=5)
    with portal_listener() as (port, portal_ae):

        def on_store(event) -> int:
            # movescu cancels after the first pending response (sent once the first instance
            # is stored); the second waits until the portal has that C-CANCEL in hand.
            if len(received) == 2:
                wait_for(lambda: cancel_reached(portal_ae), timeout=60, what="the C-CANCEL")
            return 0x0000

        with pynetdicom_scp(ae_title="WS_STORE", on_store=on_store) as (scp_port, received):
            destination_for("Reading room", scp_port, "WS_STORE")
            result = dcmtk(
                "movescu",
                port,
                "-S",
                "--cancel",
                "1",
                "-aem",
                "WS_STORE",
                *keys("STUDY", StudyInstanceUID=study.study_instance_uid),
            )
    final = result.stdout.rsplit("Received Final Move Response", 1)[-1]
    assert "0xfe00" in final, result.stdout
    assert "Completed Suboperations       : 2" in final
    assert "Remaining Suboperations       : 3" in final
    assert len(received) == 2
    job = SendJob.objects.get()
    assert job.state == SendState.CANCELLED
    assert job.items.filter(state=SendItemState.SENT).count() == 2
    assert job.items.filter(state=SendItemState.PENDING).count() == 3


def test_getscu_pulls_a_study_on_its_own_association(tmp_path):
    study = portal_study(series=2, per_series=2)
    out_dir = tmp_path / "getscu"
    out_dir.mkdir()
    with portal_listener() as (port, _):
        result = dcmtk(
            "getscu",
            port,
            "-S",
            "-od",
            str(out_dir),
            *keys("STUDY", StudyInstanceUID=study.study_instance_uid),
        )
    assert result.returncode == 0, result.stdout
    assert "Number of Completed Suboperations : 4" in result.stdout
    assert received_uids(out_dir) == set(
        Instance.objects.values_list("sop_instance_uid", flat=True)
    )
    assert StudyEvent.objects.filter(
        study=study, kind="retrieve", message__startswith="WS1 "
    ).exists()
    assert not SendJob.objects.exists()  # a C-GET goes to no registered destination
