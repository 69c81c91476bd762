"""STOW-RS (PS3.18 10.5) against the live portal: dicomweb-client and raw requests."""

import pytest
from pydicom import Dataset
from pydicom.uid import generate_uid

from imaging.models import ImportBatch, ImportSource, Instance, Study, StudyStatus
from imaging.synthetic import to_bytes
from tests.imaging.dicomweb_support import client_for, session_for
from tests.imaging.import_support import series_datasets

pytestmark = pytest.mark.django_db(transaction=True)


def _multipart(bodies: list[tuple[str, bytes]], boundary: str = "stow-test-boundary") -> bytes:
    out = b"preamble to ignore\r\n"
    for content_type, body in bodies:
        out += f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n".encode() + body + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def _post(session, url: str, body: bytes, boundary: str = "stow-test-boundary"):
    headers = {
        "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
        "Accept": "application/dicom+json",
    }
    return session.post(url, data=body, headers=headers)


def test_dicomweb_client_stores_a_series_and_gets_retrieve_urls(live_server, tech):
    datasets = series_datasets(3, patient_id="P-STOW")
    client = client_for(live_server, tech)

    answer = client.store_instances(datasets)

    stored = answer.ReferencedSOPSequence
    assert {item.ReferencedSOPInstanceUID for item in stored} == {
        ds.SOPInstanceUID for ds in datasets
    }
    assert "FailedSOPSequence" not in answer
    study_uid = datasets[0].StudyInstanceUID
    assert answer.RetrieveURL.endswith(f"/dicomweb/studies/{study_uid}")
    assert f"/dicomweb/studies/{study_uid}/series/{datasets[0].SeriesInstanceUID}/instances/" in (
        stored[0].RetrieveURL
    )
    study = Study.objects.get(study_instance_uid=study_uid)
    assert study.instance_count == 3 and study.status == StudyStatus.COMPLETE
    batch = ImportBatch.objects.get()
    assert (batch.source, batch.created_by, batch.imported) == (ImportSource.STOW, tech, 3)
    # What was stored reads back through the same DICOMweb.
    metadata = client.retrieve_instance_metadata(
        study_uid, datasets[0].SeriesInstanceUID, datasets[0].SOPInstanceUID
    )
    assert Dataset.from_json(metadata).PatientID == "P-STOW"


def test_some_failed_is_202_with_failure_reasons(live_server, tech):
    good, other = series_datasets(1)[0], series_datasets(1)[0]
    url = f"{live_server.url}/dicomweb/studies/{good.StudyInstanceUID}"
    body = _multipart(
        [
            ("application/dicom", to_bytes(good)),
            ("application/dicom", to_bytes(other)),  # another study than the URL names
            ("application/dicom", b"this is not DICOM at all" * 10),
        ]
    )

    response = _post(session_for(tech), url, body)

    assert response.status_code == 202, response.text
    assert response.headers["Content-Type"] == "application/dicom+json"
    answer = Dataset.from_json(response.json())
    assert [i.ReferencedSOPInstanceUID for i in answer.ReferencedSOPSequence] == [
        good.SOPInstanceUID
    ]
    failed = answer.FailedSOPSequence
    assert [item.FailureReason for item in failed] == [0xA900, 0xC000]
    assert failed[0].ReferencedSOPInstanceUID == other.SOPInstanceUID
    assert not Instance.objects.filter(sop_instance_uid=other.SOPInstanceUID).exists()


def test_all_failed_is_409(live_server, tech):
    body = _multipart([("application/dicom", b"\0" * 300)])

    response = _post(session_for(tech), f"{live_server.url}/dicomweb/studies", body)

    assert response.status_code == 409
    answer = Dataset.from_json(response.json())
    assert answer.FailedSOPSequence[0].FailureReason == 0xC000


def test_other_media_types_are_415(live_server, tech):
    response = session_for(tech).post(
        f"{live_server.url}/dicomweb/studies",
        data=b"{}",
        headers={"Content-Type": 'multipart/related; type="application/dicom+xml"; boundary=x'},
    )
    assert response.status_code == 415
    plain = session_for(tech).post(
        f"{live_server.url}/dicomweb/studies", data=b"x", headers={"Content-Type": "text/plain"}
    )
    assert plain.status_code == 415


def test_storing_needs_the_import_permission(live_server, front_desk):
    body = _multipart([("application/dicom", to_bytes(series_datasets(1)[0]))])
    url = f"{live_server.url}/dicomweb/studies"

    assert _post(session_for(None), url, body).status_code == 401
    assert _post(session_for(front_desk), url, body).status_code == 403
    assert not Instance.objects.exists()


def test_get_on_studies_is_still_a_search(live_server, tech):
    client = client_for(live_server, tech)
    [ds] = series_datasets(1, study_uid=generate_uid())
    client.store_instances([ds])

    found = client.search_for_studies(search_filters={"PatientID": ds.PatientID})

    assert [Dataset.from_json(f).StudyInstanceUID for f in found] == [ds.StudyInstanceUID]


def test_a_share_links_door_never_stores(rf, tech):
    from imaging.dicomweb.views import stow as stow_views

    body = _multipart([("application/dicom", to_bytes(series_datasets(1)[0]))])
    request = rf.post(
        "/dicomweb/studies",
        data=body,
        content_type='multipart/related; type="application/dicom"; boundary=stow-test-boundary',
    )
    request.user = tech
    request.portal_share = object()

    assert stow_views.studies(request).status_code == 405
    assert not Instance.objects.exists()
