"""Patient matching from DICOM demographics."""

import pytest
from pydicom.dataset import Dataset
from pydicom.valuerep import PersonName

from clinic.matching import parse_patient_name, patient_match
from clinic.models import Owner, Patient, Species
from imaging.synthetic import make_dataset


@pytest.mark.parametrize(
    ("raw", "responsible", "animal", "owner"),
    [
        ("Smith^Rex", "Smith^John", "Rex", "Smith"),  # the standard's veterinary convention
        ("Rex^Smith", "Smith^John", "Rex", "Smith"),  # reversed by the console
        ("Rex Smith", "Smith^John", "Rex", "Smith"),  # free text
        ("Rex Smith", "", "Rex", "Smith"),
        ("Rex", "", "Rex", ""),
        ("Müller^Bello", "", "Bello", "Müller"),
        ("", "Smith", "", "Smith"),
    ],
)
def test_patient_name_is_parsed_tolerantly(raw, responsible, animal, owner):
    assert parse_patient_name(PersonName(raw), PersonName(responsible)) == (animal, owner)


def test_matches_existing_patient_by_id(db):
    owner = Owner.objects.create(last_name="Smith")
    rex = Patient.objects.create(
        patient_id="P-1001", name="Rex", owner=owner, species=Species.CANINE
    )
    ds = make_dataset(patient_id="P-1001", patient_name="Smith^Rex")
    assert patient_match(dataset=ds, fallback_key="1.2.3") == rex


def test_never_merges_on_name_alone(db):
    Patient.objects.create(patient_id="P-1", name="Rex", species=Species.CANINE)
    ds = make_dataset(patient_id="P-2", patient_name="Smith^Rex")
    created = patient_match(dataset=ds, fallback_key="1.2.3")
    assert created.patient_id == "P-2"
    assert Patient.objects.count() == 2


def test_issuer_keeps_ids_apart(db):
    Patient.objects.create(patient_id="42", name="Rex", species=Species.CANINE)
    ds = make_dataset(patient_id="42")
    ds.IssuerOfPatientID = "SHELTER"
    other = patient_match(dataset=ds, fallback_key="1.2.3")
    assert other.issuer == "SHELTER" and not other.verified


def test_unknown_patient_is_created_unverified_with_veterinary_attributes(db):
    ds = make_dataset(
        patient_id="NEW-7",
        patient_name="Jones^Whiskers",
        species="Feline",
        breed="Maine Coon",
        responsible_person="Jones^Mary",
        sex="F",
        neutered="ALTERED",
    )
    ds.PatientWeight = "5.4"
    patient = patient_match(dataset=ds, fallback_key="1.2.3")
    assert (patient.name, patient.species, patient.breed) == (
        "Whiskers",
        Species.FELINE,
        "Maine Coon",
    )
    assert (patient.sex, patient.neutered, float(patient.weight_kg)) == ("F", "ALTERED", 5.4)
    assert patient.responsible_person == "Jones"
    assert patient.verified is False
    assert patient.dicom_name == "Jones^Whiskers"


def test_species_from_code_sequence_when_text_is_missing(db):
    from pydicom import Dataset

    ds = make_dataset(patient_id="C-1", species="")
    del ds.PatientSpeciesDescription
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = (
        "448771007",
        "SCT",
        "Canis lupus familiaris",
    )
    ds.PatientSpeciesCodeSequence = [code]
    assert patient_match(dataset=ds, fallback_key="x").species == Species.CANINE


def test_unrecognised_species_keeps_the_written_text(db):
    patient = patient_match(
        dataset=make_dataset(patient_id="X-1", species="Axolotl"), fallback_key="x"
    )
    assert patient.species == Species.OTHER
    assert patient.species_label == "Axolotl"


def test_missing_patient_id_groups_by_study(db):
    first = patient_match(dataset=make_dataset(patient_id=None), fallback_key="1.2.840.1")
    again = patient_match(dataset=make_dataset(patient_id=None), fallback_key="1.2.840.1")
    other = patient_match(dataset=make_dataset(patient_id=None), fallback_key="1.2.840.2")
    assert first == again != other
    assert first.patient_id.startswith("UNK-") and not first.verified


@pytest.mark.django_db
def test_the_clinics_own_issuer_matches_the_clinics_patients(settings):
    """A console copies the issuer the worklist gave it: that is the clinic's own patient ID."""
    settings.PATIENT_ID_ISSUER = "VETCLINIC"
    own = Patient.objects.create(patient_id="P-77", name="Rex")
    ds = Dataset()
    ds.PatientID = "P-77"
    ds.IssuerOfPatientID = "VETCLINIC"
    ds.PatientName = "Smith^Rex"
    assert patient_match(dataset=ds, fallback_key="x") == own
    ds.IssuerOfPatientID = "OTHERCLINIC"
    other = patient_match(dataset=ds, fallback_key="x")
    assert other != own and other.issuer == "OTHERCLINIC"
