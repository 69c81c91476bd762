"""Pushing a share's series to the consultant's DICOM node (real DCMTK storescp) through the
portal's send jobs."""

import pytest
from pydicom import dcmread

from imaging.models import SendJob, SendState
from sharing import push, shares
from sharing.models import Consultant
from tests.conftest import require_executable
from tests.send_peers import destination_for, storescp, wait_for
from tests.sharing.conftest import ingest_study, series_uids

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _tasks_in_process(settings):
    """Sends run on this process's task thread (no worker consumes REDIS_URL's queue here)."""
    settings.CELERY_BROKER_URL = None


def test_the_shared_series_go_to_the_consultants_node(tmp_path, rex, vet):
    require_executable("storescp")
    study = ingest_study()
    wanted = series_uids(study)[0]
    with storescp(tmp_path / "storescp") as (port, out_dir):
        destination = destination_for("Ortho node", port, "STORESCP", kind="specialist")
        consultant = Consultant.objects.create(
            name="Dr Bone", email="bone@example.org", destination=destination
        )
        share = shares.share_create(
            study=study, consultant=consultant, series_uids=[wanted], user=vet
        ).share
        job = push.share_push(share=share, user=vet)
        wait_for(lambda: SendJob.objects.get(pk=job.pk).finished, what="the send to finish")
        received = [dcmread(path) for path in out_dir.iterdir()]
    assert SendJob.objects.get(pk=job.pk).state == SendState.SENT
    assert {ds.SeriesInstanceUID for ds in received} == {wanted} and len(received) == 2


def test_anonymized_or_destinationless_shares_are_not_pushed(rex, vet):
    study = ingest_study()
    consultant = Consultant.objects.create(name="Dr Skin", email="skin@example.org")
    share = shares.share_create(study=study, consultant=consultant, user=vet).share
    with pytest.raises(shares.ShareError, match="no DICOM destination"):
        push.share_push(share=share)
    anonymized = shares.share_create(study=study, email="a@example.org", anonymize=True).share
    with pytest.raises(shares.ShareError):
        push.share_push(share=anonymized)
    assert not SendJob.objects.exists()
