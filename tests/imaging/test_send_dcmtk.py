"""DCMTK storescp as a destination that keeps no receipts, and `send_study` against it."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from pydicom import dcmread

from bench.processes import free_port
from imaging.models import SendJob, SendState
from tests.conftest import require_executable
from tests.send_peers import destination_for, portal_study, storescp

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _tasks_in_process(settings):
    """Sends run on this process's task thread, as in embedded mode, even when the suite
    runs with REDIS_URL (no worker consumes that queue here; test_send_worker has one)."""
    settings.CELERY_BROKER_URL = None


def test_send_study_waits_until_everything_is_sent(tmp_path, capsys):
    require_executable("storescp")
    study = portal_study(series=2, per_series=2)
    with storescp(tmp_path / "storescp") as (port, out_dir):
        destination_for("Specialist", port, "STORESCP", kind="specialist")
        call_command("send_study", study.study_instance_uid, "--to", "Specialist", "--wait")
        received = {str(dcmread(path).SOPInstanceUID) for path in out_dir.iterdir()}
    job = SendJob.objects.get()
    assert job.state == SendState.SENT
    assert received == set(job.items.values_list("instance__sop_instance_uid", flat=True))
    out = capsys.readouterr().out
    assert f"send job {job.pk}: 4 instances queued" in out
    assert "Sent, unconfirmed: sent 4/4" in out


def test_send_study_of_one_series_exits_non_zero_when_it_fails(tmp_path, settings):
    settings.SEND_MAX_ATTEMPTS = 1
    study = portal_study(series=2, per_series=1)
    series_uid = study.series.first().series_instance_uid
    destination_for("Gone", free_port(), "PACS")
    with pytest.raises(CommandError, match="ended failed"):
        call_command(
            "send_study", study.study_instance_uid, "--to", "Gone", "--series", series_uid, "--wait"
        )
    assert SendJob.objects.get().instances_total == 1
