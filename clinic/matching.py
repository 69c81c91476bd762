"""Finding the clinic's patient for an arriving DICOM data set: the one door all ingest uses.

A study lands under the patient whose clinic patient ID (with its issuer) matches Patient ID
(0010,0020). When none does, a patient is created from the data set's demographics and marked
unverified for staff to confirm or merge. Two patients are never merged on name alone.
"""

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, transaction
from pydicom import Dataset
from pydicom.valuerep import PersonName

from clinic.models import Neutered, Patient, Sex, Species

logger = logging.getLogger(__name__)

# Words (and SNOMED CT codes, PS3.16 CID 7454) that name each species on consoles in the field.
_SPECIES_WORDS: dict[str, tuple[str, ...]] = {
    Species.CANINE: ("canine", "canis", "dog", "k9", "hund", "chien", "perro"),
    Species.FELINE: ("feline", "felis", "cat", "katze", "chat", "gato"),
    Species.EQUINE: ("equine", "equus", "horse", "pony", "donkey", "pferd", "cheval"),
    Species.BOVINE: ("bovine", "bos", "cow", "cattle", "calf", "bull"),
    Species.OVINE: ("ovine", "ovis", "sheep", "lamb"),
    Species.CAPRINE: ("caprine", "capra", "goat"),
    Species.PORCINE: ("porcine", "sus", "pig", "swine", "hog"),
    Species.AVIAN: ("avian", "bird", "parrot", "chicken", "budgerigar", "pigeon", "raptor"),
    Species.LAGOMORPH: ("lagomorph", "rabbit", "hare", "oryctolagus"),
    Species.RODENT: (
        "rodent",
        "guinea pig",
        "rat",
        "mouse",
        "hamster",
        "chinchilla",
        "gerbil",
        "cavia",
    ),
    Species.REPTILE: (
        "reptile",
        "snake",
        "lizard",
        "tortoise",
        "turtle",
        "gecko",
        "python",
        "iguana",
    ),
}
# SNOMED CT codes of the species (Patient Species Code Sequence), with their meanings.
SPECIES_CODE_MEANINGS: dict[str, tuple[str, str]] = {
    Species.CANINE: ("448771007", "Canis lupus familiaris"),
    Species.FELINE: ("448169003", "Felis catus"),
    Species.EQUINE: ("388445009", "Equus caballus"),
    Species.BOVINE: ("34618005", "Bos taurus"),
    Species.OVINE: ("125099002", "Ovis aries"),
    Species.CAPRINE: ("125097000", "Capra hircus"),
    Species.PORCINE: ("78678003", "Sus scrofa"),
    Species.LAGOMORPH: ("387961004", "Oryctolagus cuniculus"),
}
_SPECIES_CODES = {code: species for species, (code, _) in SPECIES_CODE_MEANINGS.items()}


@dataclass(frozen=True)
class Demographics:
    """What a data set says about its patient, decoded and parsed."""

    patient_id: str
    issuer: str
    animal_name: str
    owner_name: str
    dicom_name: str
    species: str
    species_text: str
    breed: str
    sex: str
    neutered: str
    birth_date: date | None
    weight_kg: Decimal | None


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    if isinstance(value, (list, tuple)) or getattr(value, "VM", 1) > 1:
        value = value[0] if len(value) else ""
    return str(value).strip()


def _person_words(name: PersonName | str) -> tuple[str, str]:
    """(family, given) of a Person Name, tolerant of `^`-less free text."""
    if isinstance(name, PersonName):
        return (name.family_name or "").strip(), (name.given_name or "").strip()
    return str(name).strip(), ""


def parse_patient_name(
    raw: PersonName | str, responsible_person: PersonName | str = ""
) -> tuple[str, str]:
    """(animal, owner) from Patient's Name.

    The standard's veterinary convention (PS3.5 6.2, PS3.3 C.7.1.1) puts the responsible party in
    the family name and the animal in the given name: `Smith^Rex`. Consoles also send
    `Rex^Smith` or `Rex Smith`; the responsible person, when present, tells which way round.
    """
    family, given = _person_words(raw if isinstance(raw, PersonName) else PersonName(str(raw)))
    owner_family, _ = _person_words(
        responsible_person
        if isinstance(responsible_person, PersonName)
        else PersonName(str(responsible_person))
    )
    if family and given:
        if owner_family and given.casefold() == owner_family.casefold() != family.casefold():
            return family, given  # reversed: Rex^Smith with Responsible Person Smith^John
        return given, family
    text = (family or given).strip()
    if not text:
        return "", owner_family
    words = text.split()
    if owner_family and len(words) > 1:
        # "Rex Smith" or "Smith Rex" with a known owner: the other words are the animal.
        rest = [w for w in words if w.casefold() != owner_family.casefold()]
        if len(rest) < len(words):
            return " ".join(rest), owner_family
    if len(words) > 1:
        return words[0], " ".join(words[1:])
    return text, owner_family


def species_from(ds: Dataset) -> tuple[str, str]:
    """(coded species, text as written) from Species Description / Species Code Sequence."""
    written = _text(ds, "PatientSpeciesDescription")
    code_meaning = ""
    for item in ds.get("PatientSpeciesCodeSequence", []):
        code = str(item.get("CodeValue", "") or item.get("LongCodeValue", ""))
        if code in _SPECIES_CODES:
            return _SPECIES_CODES[code], written or str(item.get("CodeMeaning", ""))
        code_meaning = str(item.get("CodeMeaning", ""))
    text = written or code_meaning
    lowered = text.casefold()
    for species, words in _SPECIES_WORDS.items():
        if any(re.search(rf"\b{re.escape(word)}\b", lowered) for word in words):
            return species, text
    return Species.OTHER, text


def _birth_date(ds: Dataset) -> date | None:
    value = _text(ds, "PatientBirthDate")
    try:
        return datetime.strptime(value[:8], "%Y%m%d").date() if value else None
    except ValueError:
        return None


def _weight(ds: Dataset) -> Decimal | None:
    value = _text(ds, "PatientWeight")
    try:
        weight = Decimal(value) if value else None
    except InvalidOperation:
        return None
    return weight if weight is not None and 0 < weight < 100000 else None


def demographics_from(ds: Dataset, *, fallback_key: str) -> Demographics:
    """Parse the patient module. `fallback_key` (the Study Instance UID) names a patient that
    arrived without a Patient ID, so every instance of that study lands together."""
    raw_name = ds.get("PatientName", "") or ""
    responsible = ds.get("ResponsiblePerson", "") or ""
    animal, owner = parse_patient_name(raw_name, responsible)
    if not owner:
        owner = _text(ds, "ResponsibleOrganization")
    species, species_text = species_from(ds)
    sex = _text(ds, "PatientSex").upper()[:1]
    neutered = _text(ds, "PatientSexNeutered").upper()
    patient_id = _text(ds, "PatientID")
    if not patient_id:
        patient_id = "UNK-" + hashlib.sha1(fallback_key.encode()).hexdigest()[:12].upper()
    issuer = _text(ds, "IssuerOfPatientID")[:64]
    if issuer and issuer == settings.PATIENT_ID_ISSUER:
        issuer = ""  # the clinic's own IDs, which the worklist hands out under its issuer
    return Demographics(
        patient_id=patient_id[:64],
        issuer=issuer,
        animal_name=(animal or "Unnamed")[:100],
        owner_name=owner[:200],
        dicom_name=str(raw_name)[:200],
        species=species,
        species_text=species_text[:64],
        breed=_text(ds, "PatientBreedDescription")[:64],
        sex=sex if sex in (Sex.MALE, Sex.FEMALE, Sex.OTHER) else Sex.UNKNOWN,
        neutered=neutered
        if neutered in (Neutered.ALTERED, Neutered.UNALTERED)
        else Neutered.UNKNOWN,
        birth_date=_birth_date(ds),
        weight_kg=_weight(ds),
    )


def patient_match(*, dataset: Dataset, fallback_key: str) -> Patient:
    """The clinic's patient for this data set: matched on Patient ID and issuer, else created unverified."""
    found = demographics_from(dataset, fallback_key=fallback_key)
    existing = Patient.objects.filter(patient_id=found.patient_id, issuer=found.issuer).first()
    if existing:
        return existing
    try:
        with transaction.atomic():
            patient = Patient.objects.create(
                patient_id=found.patient_id,
                issuer=found.issuer,
                name=found.animal_name,
                species=found.species,
                species_text=found.species_text,
                breed=found.breed,
                sex=found.sex,
                neutered=found.neutered,
                birth_date=found.birth_date,
                weight_kg=found.weight_kg,
                verified=False,
                dicom_name=found.dicom_name,
                responsible_person=found.owner_name,
            )
    except IntegrityError:
        # Another association created the same patient a moment ago.
        return Patient.objects.get(patient_id=found.patient_id, issuer=found.issuer)
    logger.info(
        "new unverified patient %s %r from DICOM name %r",
        patient.patient_id,
        patient.name,
        found.dicom_name,
    )
    return patient
