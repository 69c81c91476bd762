"""Storage status: free space against the warning and refusing thresholds, what the portal's
files take, the REST endpoint (administrators only), and a C-STORE when storage is "full"."""

import errno

import pytest
from pynetdicom import AE
from pynetdicom.sop_class import Verification
from rest_framework.test import APIClient

from clinic.queue import wait_for_local_tasks
from imaging import ingest, storage
from imaging.dicom import status
from imaging.ingest import instance_receive_dataset
from imaging.models import Instance
from imaging.storage_status import StorageLevel, storage_report, storage_space
from imaging.synthetic import SOP_CLASS_FOR_MODALITY, encode, make_dataset
from tests.dicom_server import running_listener

# Association threads of the listener tests need committed rows; the rest roll back.
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _plenty_of_room(settings):
    """No thresholds unless a test sets them; background work on this process."""
    settings.STORAGE_WARN_FREE_BYTES = 0
    settings.STORAGE_WARN_FREE_PERCENT = 0
    settings.CELERY_BROKER_URL = None
    yield
    wait_for_local_tasks(timeout=30)


def _receive(modality: str, *, rows: int = 32) -> Instance:
    dataset = encode(make_dataset(modality=modality, rows=rows, columns=rows))
    return instance_receive_dataset(dataset=dataset, calling_ae="DR_ROOM1").instance


def test_free_space_is_enough_below_no_threshold():
    space = storage_space()
    assert space.level == StorageLevel.OK
    assert 0 < space.free <= space.total
    assert space.message == ""


def test_below_the_warning_threshold_it_is_low_with_words(settings):
    settings.STORAGE_WARN_FREE_BYTES = 1 << 62
    space = storage_space()
    assert space.level == StorageLevel.LOW
    assert "Storage is running low" in space.message
    assert "refuses new images" in space.message


def test_the_warning_percentage_counts_too(settings):
    settings.STORAGE_WARN_FREE_PERCENT = 100  # any disk has less than all of it free
    assert storage_space().level == StorageLevel.LOW


def test_below_the_refusing_threshold_it_is_full(settings):
    settings.STORAGE_WARN_FREE_BYTES = 1 << 62
    settings.DICOM_MIN_FREE_BYTES = 1 << 62
    space = storage_space()
    assert space.level == StorageLevel.FULL
    assert "refusing new images" in space.message


def test_the_report_adds_up_instances_by_modality_and_month_and_derived_files():
    dx = [_receive("DX"), _receive("DX")]
    ct = _receive("CT", rows=64)
    storage.derived_save("thumbnails/x/y/series.png", b"p" * 5000)
    storage.derived_save("dicomweb-metadata/x/y/1.jsonl", b"m" * 700)

    report = storage_report(fresh=True)

    sizes = {"DX": sum(i.size_bytes for i in dx), "CT": ct.size_bytes}
    assert report.instances.files == 3
    assert report.instances.bytes == sizes["DX"] + sizes["CT"]
    assert {line.label: (line.files, line.bytes) for line in report.by_modality} == {
        "DX": (2, sizes["DX"]),
        "CT": (1, sizes["CT"]),
    }
    [this_month] = report.by_month
    assert this_month.files == 3
    derived = {line.label: line for line in report.derived}
    assert derived["Viewer metadata (kept copies)"].bytes == 700
    # Thumbnails of the received instances may be drawn meanwhile: at least ours.
    assert derived["Thumbnails"].bytes >= 5000
    assert report.database_bytes and report.database_bytes > 0
    assert report.portal_bytes > report.instances.bytes + 5700


def test_the_breakdown_is_kept_a_while_but_free_space_is_current(settings):
    _receive("DX")
    first = storage_report(fresh=True)
    _receive("DX")
    settings.STORAGE_WARN_FREE_BYTES = 1 << 62
    kept = storage_report()
    assert kept.instances.files == first.instances.files == 1
    assert kept.space.level == StorageLevel.LOW
    assert storage_report(fresh=True).instances.files == 2


# --- REST -------------------------------------------------------------------------------------


def _api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def test_administrators_read_the_storage_status_over_rest(administrator, settings):
    _receive("US")
    settings.STORAGE_WARN_FREE_BYTES = 1 << 62
    response = _api(administrator).get("/api/storage-status/?fresh=1")
    assert response.status_code == 200
    body = response.json()
    assert body["space"]["level"] == "low"
    assert body["space"]["free"] > 0
    assert "running low" in body["space"]["message"]
    assert body["instances"]["files"] == 1
    assert body["by_modality"][0]["label"] == "US"


def test_staff_without_the_permission_and_strangers_are_refused(tech, vet):
    assert _api(tech).get("/api/storage-status/").status_code == 403
    assert _api(vet).get("/api/storage-status/").status_code == 403
    assert _api().get("/api/storage-status/").status_code == 401


def test_the_endpoint_is_in_the_openapi_schema(administrator):
    response = _api(administrator).get("/api/schema/", HTTP_ACCEPT="application/json")
    schema = response.json()
    operation = schema["paths"]["/api/storage-status/"]["get"]
    assert "200" in operation["responses"]


# --- The listener when storage is full ------------------------------------------------------


def _store_one(port: int, ae_title: str, dataset) -> int:
    modality = AE(ae_title="DR_ROOM1")
    modality.add_requested_context(dataset.SOPClassUID)
    assoc = modality.associate("127.0.0.1", port, ae_title=ae_title)
    assert assoc.is_established
    code = assoc.send_c_store(dataset).Status
    assoc.release()
    return code


def _echo(port: int, ae_title: str) -> int:
    ae = AE(ae_title="DR_ROOM1")
    ae.add_requested_context(Verification)
    assoc = ae.associate("127.0.0.1", port, ae_title=ae_title)
    assert assoc.is_established
    code = assoc.send_c_echo().Status
    assoc.release()
    return code


def _stored_files() -> list:
    root = storage.local_path("dicom")
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.django_db(transaction=True)
def test_a_c_store_when_full_is_out_of_resources_and_leaves_nothing(settings):
    settings.DICOM_MIN_FREE_BYTES = storage_space().free + (1 << 40)  # above what is free
    datasets = [encode(make_dataset(modality="DX", rows=32, columns=32)) for _ in range(2)]
    assert datasets[0].SOPClassUID == SOP_CLASS_FOR_MODALITY["DX"]
    with running_listener() as (_, port, ae_title):
        assert _store_one(port, ae_title, datasets[0]) == status.OUT_OF_RESOURCES
        # The listener goes on serving: another association, echo and store answered.
        assert _echo(port, ae_title) == status.SUCCESS
        assert _store_one(port, ae_title, datasets[1]) == status.OUT_OF_RESOURCES
    assert not Instance.objects.exists()
    assert _stored_files() == []
    assert list(storage.staging_dir().iterdir()) == []


@pytest.mark.django_db(transaction=True)
def test_a_disk_that_fills_mid_write_is_out_of_resources_too(monkeypatch):
    def disk_full(**_):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ingest.storage, "file_store", disk_full)
    dataset = encode(make_dataset(modality="DX", rows=32, columns=32))
    with running_listener() as (_, port, ae_title):
        assert _store_one(port, ae_title, dataset) == status.OUT_OF_RESOURCES
        assert _echo(port, ae_title) == status.SUCCESS
    assert not Instance.objects.exists()
    assert _stored_files() == []
    assert list(storage.staging_dir().iterdir()) == []
