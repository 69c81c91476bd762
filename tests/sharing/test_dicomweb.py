"""A share's credential opens exactly its study and series through DICOMweb — nothing of other
studies, other series, or the staff API — and anonymized shares answer anonymized."""

import io
import json

import pytest
from django.test import Client
from pydicom import dcmread

from sharing import shares
from sharing.anonymize import Anonymizer
from sharing.models import AccessAction
from tests.imaging.dicomweb_support import multipart_parts
from tests.sharing.conftest import series_uids

pytestmark = pytest.mark.django_db
JSON = "application/dicom+json"


def _opened(created) -> Client:
    client = Client()
    client.get(created.path, follow=True)
    return client


def _web(share) -> str:
    return f"/share/v/{share.pk}/dicomweb/"


def test_the_share_reads_its_own_series_and_nothing_else(make_share, study, other_study):
    shared, hidden = series_uids(study)
    created = make_share(series_uids=[shared])
    client, web = _opened(created), _web(created.share)
    study_uid = study.study_instance_uid
    metadata = client.get(f"{web}studies/{study_uid}/metadata", HTTP_ACCEPT=JSON)
    assert metadata.status_code == 200
    assert metadata["Referrer-Policy"] == "no-referrer"
    assert {d["0020000E"]["Value"][0] for d in metadata.json()} == {shared}
    assert client.get(f"{web}studies/{study_uid}/series/{shared}/metadata").status_code == 200
    for path in (
        f"studies/{study_uid}/series/{hidden}/metadata",
        f"studies/{study_uid}/series/{hidden}/thumbnail",
        f"studies/{study_uid}/series/{hidden}",
        f"studies/{other_study.study_instance_uid}/metadata",
        f"studies/{other_study.study_instance_uid}/series",
    ):
        assert client.get(web + path).status_code == 404, path
    found = client.get(f"{web}studies", HTTP_ACCEPT=JSON).json()
    assert [d["0020000D"]["Value"][0] for d in found] == [study_uid]
    series = client.get(f"{web}studies/{study_uid}/series", HTTP_ACCEPT=JSON).json()
    assert [d["0020000E"]["Value"][0] for d in series] == [shared]


def test_the_share_session_opens_nothing_of_the_staff_doors(make_share, study):
    created = make_share()
    client = _opened(created)
    assert client.get(f"{_web(created.share)}studies").status_code == 200
    uid = study.study_instance_uid
    assert client.get(f"/dicomweb/studies/{uid}/metadata").status_code == 401
    assert client.get("/dicomweb/studies").status_code == 401
    for path in ("/api/studies/", f"/api/studies/{study.pk}/", f"/api/studies/{study.pk}/shares/",
                 "/api/consultants/", f"/api/studies/{study.pk}/annotations/"):  # fmt: skip
        assert client.get(path).status_code in (401, 403), path
    assert client.get(study.get_absolute_url()).status_code == 302  # to the staff login


def test_one_share_does_not_open_another(make_share, study, other_study):
    mine = make_share()
    theirs = make_share(study=other_study)
    client = _opened(mine)
    path = f"{_web(theirs.share)}studies/{other_study.study_instance_uid}/metadata"
    assert client.get(path).status_code == 401
    assert client.get(f"/share/v/{theirs.share.pk}/").status_code == 404


def test_revoking_stops_the_next_dicomweb_request(make_share, study):
    created = make_share()
    client = _opened(created)
    path = f"{_web(created.share)}studies/{study.study_instance_uid}/metadata"
    assert client.get(path).status_code == 200
    shares.share_revoke(share=created.share)
    assert client.get(path).status_code == 401


def test_viewing_a_series_is_logged_once(make_share, study):
    created = make_share()
    client = _opened(created)
    uid = series_uids(study)[0]
    for _ in range(3):
        client.get(f"{_web(created.share)}studies/{study.study_instance_uid}/series/{uid}/metadata")
    viewed = created.share.accesses.filter(action=AccessAction.VIEWED_SERIES)
    assert viewed.count() == 1 and "Thorax R LAT" in viewed.get().detail


def test_an_anonymized_share_answers_anonymized_metadata_and_files(make_share, study):
    created = make_share(anonymize=True)
    anonymizer = Anonymizer(created.share.salt)
    client, web = _opened(created), _web(created.share)
    real = study.study_instance_uid
    fake = anonymizer.uid(real)
    assert client.get(f"{web}studies/{real}/metadata").status_code == 404
    response = client.get(f"{web}studies/{fake}/metadata", HTTP_ACCEPT=JSON)
    assert response.status_code == 200
    text = response.content.decode()
    for secret in ("Smith", "Rex", "P-1001", "Elm Street", real, *series_uids(study)):
        assert secret not in text
    body = json.loads(text)
    assert {d["0020000D"]["Value"][0] for d in body} == {fake}
    assert body[0]["00102201"]["Value"] == ["Canine"]
    fake_series = anonymizer.uid(series_uids(study)[0])
    sop = next(d["00080018"]["Value"][0] for d in body if d["0020000E"]["Value"][0] == fake_series)
    frames = client.get(f"{web}studies/{fake}/series/{fake_series}/instances/{sop}/frames/1",
                        HTTP_ACCEPT="multipart/related; type=application/octet-stream")  # fmt: skip
    assert frames.status_code == 200
    retrieved = client.get(f"{web}studies/{fake}/series/{fake_series}",
                           HTTP_ACCEPT='multipart/related; type="application/dicom"')  # fmt: skip
    assert retrieved.status_code == 200

    class _Resp:
        headers = {"Content-Type": retrieved["Content-Type"]}
        content = b"".join(retrieved.streaming_content)

    files = [dcmread(io.BytesIO(part)) for _, part in multipart_parts(_Resp)]
    assert len(files) == 2
    assert {ds.StudyInstanceUID for ds in files} == {fake}
    assert all(str(ds.PatientName) == "Anonymized" for ds in files)
    searched = client.get(f"{web}studies?PatientName=Smith*")
    assert searched.status_code == 400
    series = client.get(f"{web}studies/{fake}/series", HTTP_ACCEPT=JSON).json()
    assert {d["0020000E"]["Value"][0] for d in series} == {
        anonymizer.uid(u) for u in series_uids(study)
    }


def test_thumbnails_of_an_anonymized_share_open_by_the_replacement_uids(make_share, study):
    created = make_share(anonymize=True)
    anonymizer = Anonymizer(created.share.salt)
    client, web = _opened(created), _web(created.share)
    series = series_uids(study)[0]
    fake = f"studies/{anonymizer.uid(study.study_instance_uid)}/series/{anonymizer.uid(series)}"
    response = client.get(f"{web}{fake}/thumbnail", HTTP_ACCEPT="image/jpeg")
    assert response.status_code == 200 and response["Content-Type"].startswith("image/")
    real = f"studies/{study.study_instance_uid}/series/{series}/thumbnail"
    assert client.get(web + real).status_code == 404


def test_the_clinics_annotations_go_read_only_with_a_share_that_includes_them(
    make_share, study, vet
):
    from imaging.annotations import annotation_create
    from imaging.models import Instance

    shown, hidden = series_uids(study)
    for uid in (shown, hidden):
        instance = Instance.objects.filter(series__series_instance_uid=uid).first()
        annotation_create(study=study, author=vet, sop_instance_uid=instance.sop_instance_uid,
                          frame=1, tool="length", geometry={"points": [[1, 1], [10, 1]]})  # fmt: skip
    without = make_share(series_uids=[shown])
    client = _opened(without)
    assert client.get(f"/share/v/{without.share.pk}/annotations/").json() == []
    included = make_share(series_uids=[shown], include_annotations=True)
    client = _opened(included)
    listed = client.get(f"/share/v/{included.share.pk}/annotations/").json()
    assert [a["series_instance_uid"] for a in listed] == [shown]
    assert listed[0]["can_edit"] is False
