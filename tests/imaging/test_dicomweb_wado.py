"""WADO-RS through dicomweb-client against the live portal: metadata, frames, instances."""

import numpy as np
import pytest
from pydicom import Dataset
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    RLELossless,
)

from tests.imaging.dicomweb_support import (
    client_for,
    multipart_parts,
    session_for,
    store_series,
)

pytestmark = pytest.mark.django_db(transaction=True)

VIEWER_ACCEPT = "multipart/related; type=application/octet-stream; transfer-syntax=*"


def _pixels(ds: Dataset, frame: int = 0) -> bytes:
    arr = ds.pixel_array
    if int(ds.get("NumberOfFrames") or 1) > 1:
        arr = arr[frame]
    return np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()


def test_series_metadata_is_the_dicom_json_of_every_instance(live_server, vet):
    ct = store_series(count=3, modality="CT", patient_name="Smith^Rex", species="Canine")
    client = client_for(live_server, vet)

    metadata = client.retrieve_series_metadata(ct.study_uid, ct.series_uid)

    assert len(metadata) == 3
    datasets = [Dataset.from_json(item) for item in metadata]
    assert [ds.InstanceNumber for ds in datasets] == [1, 2, 3]
    assert {ds.SOPInstanceUID for ds in datasets} == set(ct.sop_uids)
    first = datasets[0]
    assert first.Modality == "CT"
    assert first.Rows == 64 and first.Columns == 64
    assert str(first.PatientName) == "Smith^Rex"
    assert first.PatientSpeciesDescription == "Canine"
    assert metadata[0]["00020010"]["Value"] == [ExplicitVRLittleEndian]


def test_pixel_data_is_referenced_as_bulk_data(live_server, vet):
    ct = store_series(count=1, modality="CT")
    series_url = f"{live_server.url}/dicomweb/studies/{ct.study_uid}/series/{ct.series_uid}"
    session = session_for(vet)

    response = session.get(series_url + "/metadata")

    assert response.headers["Content-Type"] == "application/dicom+json"
    [item] = response.json()
    pixel_data = item["7FE00010"]
    assert "InlineBinary" not in pixel_data
    uri = f"{series_url}/instances/{ct.sop_uids[0]}/bulkdata/7FE00010"
    assert pixel_data["BulkDataURI"] == uri
    bulk = session.get(uri, headers={"Accept": "multipart/related; type=application/octet-stream"})
    [(content_type, body)] = multipart_parts(bulk)
    assert content_type.startswith("application/octet-stream")
    assert body == _pixels(ct.datasets[0])


def test_metadata_follows_new_instances_and_the_index_patient(live_server, vet):
    ct = store_series(count=2, modality="CT")
    client = client_for(live_server, vet)
    assert len(client.retrieve_series_metadata(ct.study_uid, ct.series_uid)) == 2

    store_series(count=1, modality="CT", study_uid=ct.study_uid, series_uid=ct.series_uid)
    from imaging.models import Study

    study = Study.objects.get(study_instance_uid=ct.study_uid)
    study.patient.name = "Bella"
    study.patient.save()

    metadata = client.retrieve_series_metadata(ct.study_uid, ct.series_uid)
    assert len(metadata) == 3
    assert {item["00100010"]["Value"][0]["Alphabetic"] for item in metadata} == {"Smith^Bella"}


def test_study_and_instance_metadata(live_server, vet):
    dr = store_series(count=2, modality="DX")
    store_series(count=1, modality="DX", study_uid=dr.study_uid, series_number=2)
    client = client_for(live_server, vet)

    study = client.retrieve_study_metadata(dr.study_uid)
    instance = client.retrieve_instance_metadata(dr.study_uid, dr.series_uid, dr.sop_uids[1])

    assert len(study) == 3
    assert Dataset.from_json(instance).SOPInstanceUID == dr.sop_uids[1]


def test_native_frames_are_the_stored_pixels(live_server, vet):
    ct = store_series(count=2, modality="CT")
    client = client_for(live_server, vet)

    frames = client.retrieve_instance_frames(
        ct.study_uid, ct.series_uid, ct.sop_uids[1], frame_numbers=[1]
    )

    assert frames == [_pixels(ct.datasets[1])]


@pytest.mark.parametrize(
    ("syntax", "media_type"),
    [
        (JPEGLSLossless, "image/jls"),
        (JPEG2000Lossless, "image/jp2"),
        (RLELossless, "image/dicom-rle"),
        (JPEGBaseline8Bit, "image/jpeg"),
    ],
)
def test_compressed_frames_as_stored_for_the_viewer(live_server, vet, syntax, media_type):
    stored = store_series(count=1, modality="US", frames=3, transfer_syntax=syntax, bits=8)
    url = (
        f"{live_server.url}/dicomweb/studies/{stored.study_uid}/series/{stored.series_uid}"
        f"/instances/{stored.sop_uids[0]}/frames/2"
    )

    response = session_for(vet).get(url, headers={"Accept": VIEWER_ACCEPT})

    assert response.status_code == 200
    [(content_type, body)] = multipart_parts(response)
    assert content_type == f"{media_type}; transfer-syntax={syntax}"
    from pydicom.encaps import get_frame

    ds = stored.datasets[0]
    assert body == get_frame(ds.PixelData, 1, number_of_frames=3)


@pytest.mark.parametrize("syntax", [JPEGLSLossless, JPEG2000Lossless, RLELossless])
def test_compressed_frames_decoded_when_uncompressed_is_asked(live_server, vet, syntax):
    stored = store_series(count=1, modality="US", frames=3, transfer_syntax=syntax, bits=8)
    client = client_for(live_server, vet)

    frames = client.retrieve_instance_frames(
        stored.study_uid,
        stored.series_uid,
        stored.sop_uids[0],
        frame_numbers=[3, 1],
        media_types=(("application/octet-stream", ExplicitVRLittleEndian),),
    )

    assert frames == [_pixels(stored.datasets[0], 2), _pixels(stored.datasets[0], 0)]


def test_a_single_frame_as_plain_octet_stream(live_server, vet):
    stored = store_series(count=1, modality="US", frames=4, bits=8)
    url = (
        f"{live_server.url}/dicomweb/studies/{stored.study_uid}/series/{stored.series_uid}"
        f"/instances/{stored.sop_uids[0]}/frames/4"
    )

    response = session_for(vet).get(url, headers={"Accept": "application/octet-stream"})

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/octet-stream")
    assert response.content == _pixels(stored.datasets[0], 3)


def test_frames_in_a_compressed_syntax_we_do_not_hold_are_not_acceptable(live_server, vet):
    stored = store_series(count=1, modality="CT")
    url = (
        f"{live_server.url}/dicomweb/studies/{stored.study_uid}/series/{stored.series_uid}"
        f"/instances/{stored.sop_uids[0]}/frames/1"
    )

    response = session_for(vet).get(url, headers={"Accept": 'multipart/related; type="image/jls"'})

    assert response.status_code == 406
    assert "application/octet-stream" in response.json()["detail"]


def test_retrieve_instance_as_stored_and_transcoded(live_server, vet):
    stored = store_series(count=1, modality="US", frames=2, transfer_syntax=JPEGLSLossless, bits=8)
    client = client_for(live_server, vet)
    args = (stored.study_uid, stored.series_uid, stored.sop_uids[0])

    as_stored = client.retrieve_instance(*args, media_types=(("application/dicom", "*"),))
    explicit = client.retrieve_instance(
        *args, media_types=(("application/dicom", ExplicitVRLittleEndian),)
    )

    assert as_stored.file_meta.TransferSyntaxUID == JPEGLSLossless
    assert as_stored.PixelData == stored.datasets[0].PixelData
    assert explicit.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert np.array_equal(explicit.pixel_array, stored.datasets[0].pixel_array)
    # Still the same instance, in another encoding.
    assert explicit.SOPInstanceUID == stored.sop_uids[0]
    assert explicit.file_meta.MediaStorageSOPInstanceUID == stored.sop_uids[0]


def test_retrieve_series_streams_every_instance(live_server, vet):
    stored = store_series(count=4, modality="CT")
    client = client_for(live_server, vet)

    datasets = client.retrieve_series(
        stored.study_uid, stored.series_uid, media_types=(("application/dicom", "*"),)
    )

    assert sorted(ds.SOPInstanceUID for ds in datasets) == sorted(stored.sop_uids)
    assert all(ds.PixelData for ds in datasets)


def test_retrieve_study_in_a_syntax_we_cannot_produce_is_not_acceptable(live_server, vet):
    stored = store_series(count=1, modality="CT")
    url = f"{live_server.url}/dicomweb/studies/{stored.study_uid}"
    accept = f'multipart/related; type="application/dicom"; transfer-syntax={JPEGLSLossless}'

    response = session_for(vet).get(url, headers={"Accept": accept})

    assert response.status_code == 406


def test_other_large_binaries_are_bulk_data_too(live_server, vet):
    profile = bytes(range(256)) * 8  # 2 KiB: above the inline limit
    stored = store_series(count=1, modality="DX", header={"ICCProfile": profile})
    series_url = f"{live_server.url}/dicomweb/studies/{stored.study_uid}/series/{stored.series_uid}"
    session = session_for(vet)

    [item] = session.get(series_url + "/metadata").json()
    uri = item["00282000"]["BulkDataURI"]
    response = session.get(uri, headers={"Accept": "application/octet-stream"})

    assert uri == f"{series_url}/instances/{stored.sop_uids[0]}/bulkdata/00282000"
    assert response.status_code == 200
    assert response.content == profile


def test_metadata_built_ahead_is_served_as_built(live_server, vet):
    from imaging.dicomweb.metadata import series_metadata_warm
    from imaging.models import Series

    ct = store_series(count=3, modality="CT")
    series_metadata_warm(series_id=Series.objects.get(series_instance_uid=ct.series_uid).pk)
    # The kept copy is what is served: remove a file behind the index's back to prove it.
    from imaging import storage
    from imaging.models import Instance

    storage.file_delete(Instance.objects.get(sop_instance_uid=ct.sop_uids[0]).storage_key)

    metadata = client_for(live_server, vet).retrieve_series_metadata(ct.study_uid, ct.series_uid)

    assert len(metadata) == 3


def test_a_whole_cine_loop_in_one_request(live_server, vet):
    from pydicom.encaps import get_frame

    cine = store_series(count=1, modality="US", frames=8, transfer_syntax=JPEGLSLossless, bits=8)
    url = (
        f"{live_server.url}/dicomweb/studies/{cine.study_uid}/series/{cine.series_uid}"
        f"/instances/{cine.sop_uids[0]}/frames/1,2,3,4,5,6,7,8"
    )

    response = session_for(vet).get(url, headers={"Accept": VIEWER_ACCEPT})

    parts = multipart_parts(response)
    pixel_data = cine.datasets[0].PixelData
    assert [body for _, body in parts] == [
        get_frame(pixel_data, i, number_of_frames=8) for i in range(8)
    ]
