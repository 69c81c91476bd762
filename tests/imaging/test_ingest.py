"""Ingest on generated data sets: every transfer syntax, odd photometrics, bad input, re-sends."""

from pathlib import Path

import pydicom
import pytest
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from clinic.models import Patient
from imaging import storage
from imaging.dicom import status
from imaging.ingest import (
    IngestError,
    instance_receive_dataset,
    instance_receive_file,
    studies_complete,
)
from imaging.models import Instance, Series, Study, StudyEvent, StudyStatus
from imaging.synthetic import encode, make_dataset, to_bytes, write

SYNTAXES = [
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    ExplicitVRBigEndian,
    DeflatedExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEG2000Lossless,
    JPEG2000,
    RLELossless,
    JPEGLSLossless,
    JPEGLSNearLossless,
]

pytestmark = pytest.mark.django_db


def _stored_bytes(instance: Instance) -> bytes:
    with storage.instance_open(instance.storage_key) as handle:
        return handle.read()


@pytest.mark.parametrize("syntax", SYNTAXES, ids=lambda uid: uid.name)
def test_every_transfer_syntax_is_stored_as_it_arrived(syntax, dicom_dir):
    ds = encode(make_dataset(), syntax)
    path = write(ds, dicom_dir / "in.dcm")
    sent = path.read_bytes()
    received = instance_receive_file(path=path, calling_ae="DR_ROOM1")
    instance = received.instance
    assert received.created
    assert instance.transfer_syntax_uid == syntax
    assert _stored_bytes(instance) == sent
    assert not path.exists(), "the staging file is consumed"
    assert (instance.rows, instance.columns) == (64, 64)


@pytest.mark.parametrize(
    ("modality", "fields"),
    [
        ("DX", {"photometric": "MONOCHROME1"}),
        ("CT", {}),
        ("US", {"frames": 6, "photometric": "RGB"}),
        ("US", {"photometric": "PALETTE COLOR"}),
        ("IO", {}),
        ("OT", {"photometric": "RGB"}),
    ],
)
def test_sop_classes_and_photometrics_are_indexed(modality, fields):
    ds = make_dataset(modality=modality, **fields)
    instance = instance_receive_dataset(dataset=ds, calling_ae="US_1").instance
    assert instance.sop_class_uid == ds.SOPClassUID
    assert instance.number_of_frames == fields.get("frames", 1)
    assert instance.series.modality == modality
    assert instance.series.study.modalities == modality


def test_study_series_and_counts_follow_the_hierarchy():
    study_uid, series_a, series_b = "1.2.826.0.1.1", "1.2.826.0.1.1.1", "1.2.826.0.1.1.2"
    for number in (1, 2):
        instance_receive_dataset(
            dataset=make_dataset(study_uid=study_uid, series_uid=series_a, instance_number=number),
            calling_ae="DR",
        )
    instance_receive_dataset(
        dataset=make_dataset(
            study_uid=study_uid, series_uid=series_b, series_number=2, modality="CT"
        )
    )
    study = Study.objects.get(study_instance_uid=study_uid)
    assert (study.series_count, study.instance_count) == (2, 3)
    assert study.modalities == "DX\\CT"
    assert study.status == StudyStatus.RECEIVING
    assert Series.objects.get(series_instance_uid=series_a).instance_count == 2
    assert study.size_bytes == sum(i.size_bytes for i in Instance.objects.all())
    assert study.sending_ae_title == "DR"
    assert study.patient.patient_id == "P-1001"


def test_study_lands_under_existing_patient():
    rex = Patient.objects.create(patient_id="P-77", name="Rex")
    study = instance_receive_dataset(dataset=make_dataset(patient_id="P-77")).instance.series.study
    assert study.patient == rex
    assert Patient.objects.count() == 1


@pytest.mark.parametrize(
    ("charset", "name", "expected_owner"),
    [
        ("ISO_IR 100", "Müller^Bello", "Müller"),
        ("ISO_IR 192", "Øyen^Ulv", "Øyen"),
        ("ISO_IR 192", "田中^ポチ", "田中"),
    ],
)
def test_non_ascii_names_are_decoded_by_character_set(charset, name, expected_owner, dicom_dir):
    ds = make_dataset(patient_id="NA-1", patient_name=name, charset=charset, responsible_person="")
    path = write(ds, dicom_dir / "in.dcm")
    assert name.split("^")[0].encode("utf-8") not in path.read_bytes() or charset == "ISO_IR 192"
    patient = instance_receive_file(path=path).instance.series.study.patient
    assert patient.responsible_person == expected_owner
    assert patient.name == name.split("^")[1]


def test_byte_identical_resend_is_a_success_without_duplicates(dicom_dir):
    ds = make_dataset()
    first = instance_receive_file(path=write(ds, dicom_dir / "a.dcm"))
    again = instance_receive_file(path=write(ds, dicom_dir / "b.dcm"))
    assert again.duplicate and again.instance.pk == first.instance.pk
    assert Instance.objects.count() == 1
    study = Study.objects.get()
    assert (study.instance_count, study.series_count) == (1, 1)


def test_changed_resend_replaces_and_is_recorded(dicom_dir, django_capture_on_commit_callbacks):
    ds = make_dataset()
    first = instance_receive_file(path=write(ds, dicom_dir / "a.dcm")).instance
    ds.SeriesDescription = "Thorax R LAT (corrected)"
    with django_capture_on_commit_callbacks(execute=True):
        second = instance_receive_file(path=write(ds, dicom_dir / "b.dcm"))
    assert second.replaced
    replaced = Instance.objects.get()
    assert replaced.sha256 != first.sha256
    assert pydicom.dcmread(storage.instance_open(replaced.storage_key)).SeriesDescription.endswith(
        "(corrected)"
    )
    assert not storage.storage().exists(first.storage_key), "the old version's file is removed"
    assert Study.objects.get().instance_count == 1
    assert StudyEvent.objects.filter(kind="instance_replaced").count() == 1


def test_truncated_file_is_refused_and_nothing_is_indexed(dicom_dir):
    data = to_bytes(make_dataset())
    path = dicom_dir / "truncated.dcm"
    path.write_bytes(data[:300])
    with pytest.raises(IngestError) as error:
        instance_receive_file(path=path)
    assert error.value.status in (status.CANNOT_UNDERSTAND, status.DATASET_DOES_NOT_MATCH_SOP_CLASS)
    assert not Instance.objects.exists() and not Study.objects.exists()


def test_non_dicom_file_is_refused_with_cannot_understand(dicom_dir):
    path = dicom_dir / "notes.txt"
    path.write_text("Rex, thorax, please call the owner back")
    with pytest.raises(IngestError) as error:
        instance_receive_file(path=path)
    assert error.value.status == status.CANNOT_UNDERSTAND
    assert "not a readable DICOM file" in str(error.value)
    assert not Instance.objects.exists()


@pytest.mark.parametrize("missing", ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"])
def test_missing_uid_is_refused_by_name(missing):
    ds = make_dataset()
    delattr(ds, missing)
    with pytest.raises(IngestError, match=missing) as error:
        instance_receive_dataset(dataset=ds)
    assert error.value.status == status.DATASET_DOES_NOT_MATCH_SOP_CLASS
    assert not Instance.objects.exists()


def test_nothing_is_left_in_staging(dicom_dir):
    instance_receive_dataset(dataset=make_dataset())
    with pytest.raises(IngestError):
        bad = make_dataset()
        del bad.SOPInstanceUID
        instance_receive_dataset(dataset=bad)
    assert list(Path(storage.staging_dir()).iterdir()) == []


def test_release_completes_and_new_arrivals_reopen():
    study = instance_receive_dataset(dataset=make_dataset()).instance.series.study
    assert studies_complete(study_ids=[study.pk]) == 1
    assert Study.objects.get().status == StudyStatus.COMPLETE
    instance_receive_dataset(dataset=make_dataset(study_uid=study.study_instance_uid))
    assert Study.objects.get().status == StudyStatus.RECEIVING
