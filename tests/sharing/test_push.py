"""Pushing a share's series to the consultant's DICOM node (real DCMTK storescp) through the
portal's send jobs."""

import pytest
from pydicom import dcmread

from bench.processes import free_port
from imaging.models import Instance, SendJob, SendState
from sharing import push, shares
from sharing.anonymize import Anonymizer
from sharing.models import Consultant
from tests.conftest import require_executable
from tests.send_peers import destination_for, orthanc, storescp, wait_for
from tests.sharing.conftest import ingest_study, series_uids

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _tasks_in_process(settings):
    """Sends run on this process's task thread (no worker consumes REDIS_URL's queue here)."""
    settings.CELERY_BROKER_URL = None


def _pushed_to_storescp(tmp_path, study, vet, **share_options):
    """Share the study with a consultant whose node is DCMTK storescp, push it, and return
    (share, job, data sets received) once the send has finished."""
    require_executable("storescp")
    with storescp(tmp_path / "storescp") as (port, out_dir):
        destination = destination_for("Ortho node", port, "STORESCP", kind="specialist")
        consultant = Consultant.objects.create(
            name="Dr Bone", email="bone@example.org", destination=destination
        )
        share = shares.share_create(
            study=study, consultant=consultant, user=vet, **share_options
        ).share
        job = push.share_push(share=share, user=vet)
        wait_for(lambda: SendJob.objects.get(pk=job.pk).finished, what="the send to finish")
        return share, job, [dcmread(path) for path in out_dir.iterdir()]


def test_the_shared_series_go_to_the_consultants_node(tmp_path, rex, vet):
    study = ingest_study()
    wanted = series_uids(study)[0]
    _, job, received = _pushed_to_storescp(tmp_path, study, vet, series_uids=[wanted])
    assert SendJob.objects.get(pk=job.pk).state == SendState.SENT
    assert {ds.SeriesInstanceUID for ds in received} == {wanted} and len(received) == 2


def test_a_share_without_a_consultant_node_is_not_pushed(rex, vet):
    study = ingest_study()
    consultant = Consultant.objects.create(name="Dr Skin", email="skin@example.org")
    share = shares.share_create(study=study, consultant=consultant, user=vet).share
    with pytest.raises(shares.ShareError, match="no DICOM destination"):
        push.share_push(share=share)
    assert not SendJob.objects.exists()


def test_an_anonymized_share_arrives_anonymized_as_its_link_shows_it(tmp_path, rex, vet):
    study = ingest_study()
    wanted = series_uids(study)[0]
    share, job, received = _pushed_to_storescp(
        tmp_path, study, vet, series_uids=[wanted], anonymize=True
    )
    anonymizer = Anonymizer(share.salt)
    assert SendJob.objects.get(pk=job.pk).state == SendState.SENT
    assert len(received) == 2
    ours = set(
        Instance.objects.filter(series__series_instance_uid=wanted).values_list(
            "sop_instance_uid", flat=True
        )
    )
    # The same UIDs as the share's link and ZIP show, and nothing that names the owner.
    assert {ds.SOPInstanceUID for ds in received} == {anonymizer.uid(uid) for uid in ours}
    assert {ds.StudyInstanceUID for ds in received} == {anonymizer.uid(study.study_instance_uid)}
    for ds in received:
        assert ds.PatientIdentityRemoved == "YES"
        assert str(ds.PatientName) == "Anonymized" and ds.PatientID == "ANONYMIZED"
        assert "InstitutionName" not in ds and "OperatorsName" not in ds
        assert 0x00091010 not in ds  # private data goes
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID


def test_an_anonymized_push_is_confirmed_by_the_uids_it_was_sent_with(tmp_path, rex, vet):
    """Orthanc answers the check by C-FIND with the anonymized UIDs; the portal maps them back."""
    require_executable("Orthanc")
    study = ingest_study()
    with orthanc(tmp_path / "orthanc", portal_port=free_port()) as peer:
        destination = destination_for(
            "Specialist PACS", peer.dicom_port, peer.ae_title, query_retrieve=True
        )
        consultant = Consultant.objects.create(
            name="Dr Heart", email="heart@example.org", destination=destination
        )
        share = shares.share_create(
            study=study, consultant=consultant, anonymize=True, user=vet
        ).share
        job = push.share_push(share=share, user=vet)
        wait_for(
            lambda: (
                SendJob.objects.get(pk=job.pk).state
                in (SendState.CONFIRMED, SendState.PARTIAL, SendState.FAILED)
            ),
            what="the push to be checked",
        )
        held = peer.sop_instance_uids()
    job.refresh_from_db()
    assert job.state == SendState.CONFIRMED, job.error
    ours = set(job.items.values_list("instance__sop_instance_uid", flat=True))
    assert held == {Anonymizer(share.salt).uid(uid) for uid in ours}
    assert not held & ours
