"""What a report says about its patient and study, gathered once for the PDF, email and pages."""

from dataclasses import dataclass
from datetime import date

from django.utils import timezone

from clinic.models import Neutered, Patient, Sex
from imaging.models import Study
from reports.catalog import study_order


def person_name(value: str) -> str:
    """A DICOM Person Name (`Family^Given^Middle^Prefix^Suffix`) as people write it."""
    if not value or "^" not in value:
        return value or ""
    family, given, middle, prefix, suffix = [*value.split("=")[0].split("^"), "", "", "", ""][:5]
    return " ".join(part for part in (prefix, given, middle, family, suffix) if part.strip())


def age_at(birth: date | None, on: date | None) -> str:
    """Age in the units a clinic uses: "4 years 7 months", "5 months", "3 weeks"."""
    if birth is None:
        return ""
    on = on or timezone.localdate()
    if on < birth:
        return ""
    months = (on.year - birth.year) * 12 + on.month - birth.month - (on.day < birth.day)
    if months >= 24:
        years, rest = divmod(months, 12)
        return f"{years} years" + (f" {rest} month{'s' if rest != 1 else ''}" if rest else "")
    if months >= 2:
        return f"{months} months"
    days = (on - birth).days
    if days >= 14:
        return f"{days // 7} weeks"
    return f"{days} day{'s' if days != 1 else ''}"


def sex_label(patient: Patient) -> str:
    sex = patient.sex
    if patient.neutered == Neutered.ALTERED:
        return {Sex.MALE: "Male, neutered", Sex.FEMALE: "Female, spayed"}.get(sex, "Neutered")
    label = Sex(sex).label if sex in Sex.values and sex else ""
    if patient.neutered == Neutered.UNALTERED and label:
        return f"{label}, intact"
    return label


@dataclass(frozen=True)
class ReportFacts:
    patient_name: str
    patient_id: str
    owner: str
    species: str
    breed: str
    sex: str
    age: str
    weight: str
    microchip: str
    study_date: str
    procedure: str
    modalities: str
    accession: str
    requesting_vet: str
    referring_vet: str

    def patient_rows(self) -> list[tuple[str, str]]:
        rows = [
            ("Patient", f"{self.patient_name} (ID {self.patient_id})"),
            ("Owner", self.owner),
            ("Species / breed", " / ".join(v for v in (self.species, self.breed) if v)),
            ("Sex", self.sex),
            ("Age", self.age),
            ("Weight", self.weight),
            ("Microchip", self.microchip),
        ]
        return [(label, value) for label, value in rows if value]

    def study_rows(self) -> list[tuple[str, str]]:
        rows = [
            ("Study date", self.study_date),
            ("Procedure", self.procedure),
            ("Modality", self.modalities),
            ("Accession", self.accession),
            ("Requesting vet", self.requesting_vet),
            ("Referring vet", self.referring_vet),
        ]
        return [(label, value) for label, value in rows if value]


def report_facts(study: Study) -> ReportFacts:
    patient = study.patient
    order = study_order(study)
    study_day = study.study_date or timezone.localdate(study.received_at)
    weight = f"{patient.weight_kg.normalize():f} kg" if patient.weight_kg is not None else ""
    procedure = order.procedure.name if order else ""
    if study.description and study.description != procedure:
        procedure = f"{procedure} ({study.description})" if procedure else study.description
    return ReportFacts(
        patient_name=patient.name,
        patient_id=patient.patient_id,
        owner=patient.owner_name,
        species=patient.species_label,
        breed=patient.breed,
        sex=sex_label(patient),
        age=age_at(patient.birth_date, study_day),
        weight=weight,
        microchip=patient.microchip,
        study_date=study_day.strftime("%d %b %Y"),
        procedure=procedure,
        modalities=", ".join(m for m in study.modalities.split("\\") if m and m != "DOC"),
        accession=study.accession_number,
        requesting_vet=order.requesting_vet if order else "",
        referring_vet=(order.referring_vet if order and order.referring_vet else "")
        or person_name(study.referring_physician),
    )
