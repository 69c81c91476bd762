"""PS3.15 Annex E de-identification with the veterinary options, on files and on DICOM JSON."""

import pytest
from pydicom import dcmread

from imaging import storage
from imaging.models import Instance
from imaging.synthetic import make_dataset
from sharing.anonymize import Anonymizer


def _dataset():
    ds = make_dataset()
    ds.InstitutionName = "Elm Street Veterinary Clinic"
    ds.PatientWeight = "31.5"
    ds.OperatorsName = "Tech^Tina"
    ds.PatientAddress = "1 Elm Street"
    ds.ResponsibleOrganization = "Smith Kennels"
    ds.add_new(0x00091010, "LO", "private owner note")
    return ds


def test_the_owner_names_ids_addresses_and_clinic_go_and_the_animal_facts_stay():
    ds = _dataset()
    Anonymizer("salt").dataset(ds)
    assert str(ds.PatientName) == "Anonymized" and ds.PatientID == "ANONYMIZED"
    for gone in ("ResponsiblePerson", "PatientAddress", "ResponsibleOrganization",
                 "InstitutionName"):  # fmt: skip
        assert gone not in ds
    assert not ds.ReferringPhysicianName and "OperatorsName" not in ds
    assert not ds.AccessionNumber and not ds.PatientBirthDate
    assert 0x00091010 not in ds  # private attributes
    assert ds.PatientSpeciesDescription == "Canine"
    assert ds.PatientBreedDescription == "Labrador Retriever"
    assert ds.PatientSex == "M" and ds.PatientSexNeutered == "ALTERED"
    assert ds.PatientAge == "007Y"  # born 2019-04-02, seen 2026-11-23
    assert str(ds.PatientWeight) == "31.5"
    assert ds.PatientIdentityRemoved == "YES"
    assert [c.CodeValue for c in ds.DeidentificationMethodCodeSequence] == [
        "113100", "113108", "113107",
    ]  # fmt: skip


def test_uids_and_dates_change_consistently_within_a_share_and_differ_between_shares():
    first, second = _dataset(), _dataset()
    second.StudyInstanceUID = first.StudyInstanceUID
    original_study, original_sop = first.StudyInstanceUID, first.SOPInstanceUID
    share = Anonymizer("salt-of-share-1")
    share.dataset(first)
    share.dataset(second)
    assert first.StudyInstanceUID == second.StudyInstanceUID != original_study
    assert first.StudyInstanceUID.startswith("2.25.") and len(first.StudyInstanceUID) <= 64
    assert first.file_meta.MediaStorageSOPInstanceUID == first.SOPInstanceUID != original_sop
    assert first.SOPClassUID == "1.2.840.10008.5.1.4.1.1.1.1"  # standard UIDs stay
    assert first.StudyDate == second.StudyDate != "20261123"
    again = _dataset()
    again.StudyInstanceUID = original_study
    Anonymizer("salt-of-share-1").dataset(again)
    assert again.StudyInstanceUID == first.StudyInstanceUID  # deterministic from the salt
    other = _dataset()
    other.StudyInstanceUID = original_study
    Anonymizer("salt-of-share-2").dataset(other)
    assert other.StudyInstanceUID != first.StudyInstanceUID


def test_dicom_json_is_anonymized_with_the_same_mapping_as_files():
    ds = _dataset()
    study_uid = ds.StudyInstanceUID
    body = [ds.to_json_dict(bulk_data_threshold=1024, bulk_data_element_handler=lambda e: "x")]
    body[0]["7FE00010"] = {"vr": "OW", "BulkDataURI":
                           f"http://h/dicomweb/studies/{study_uid}/series/1.2/instances/1.3/bulkdata/7FE00010"}  # fmt: skip
    anonymizer = Anonymizer("salt")
    cleaned = anonymizer.json(body)[0]
    assert cleaned["0020000D"]["Value"] == [anonymizer.uid(study_uid)]
    assert cleaned["00100010"]["Value"] == [{"Alphabetic": "Anonymized"}]
    assert "00102297" not in cleaned and "00080080" not in cleaned and "00091010" not in cleaned
    assert cleaned["00102201"]["Value"] == ["Canine"]
    assert study_uid not in str(cleaned)
    assert anonymizer.uid(study_uid) in cleaned["7FE00010"]["BulkDataURI"]
    file_copy = _dataset()
    file_copy.StudyInstanceUID = study_uid
    anonymizer.dataset(file_copy)
    assert cleaned["00080020"]["Value"] == [file_copy.StudyDate]


@pytest.mark.django_db
def test_a_stored_file_reads_back_anonymized(study):
    from sharing.export import instance_bytes

    instance = Instance.objects.filter(series__study=study).first()
    data = b"".join(instance_bytes(instance, Anonymizer("s")))
    import io

    ds = dcmread(io.BytesIO(data))
    original = dcmread(storage.instance_open(instance.storage_key))
    assert ds.PatientIdentityRemoved == "YES" and "InstitutionName" not in ds
    assert ds.PixelData == original.PixelData
