"""What the specialist's page says about the patient: all of it, or, anonymized, only what a
specialist needs (species, breed, sex, neutered, age, weight)."""

from __future__ import annotations

from datetime import date

from sharing.models import Share


def _age(born: date | None, seen: date | None) -> str:
    if not born or not seen or seen < born:
        return ""
    months = (seen.year - born.year) * 12 + seen.month - born.month - (seen.day < born.day)
    if months < 24:
        return f"{months} months"
    return f"{months // 12} years"


def patient_summary(share: Share) -> list[tuple[str, str]]:
    study = share.study
    patient = study.patient
    seen = study.study_date
    rows: list[tuple[str, str]] = []
    if not share.anonymize:
        rows.append(("Patient", patient.name))
    rows += [
        ("Species", patient.species_label),
        ("Breed", patient.breed),
        ("Sex", patient.get_sex_display() if patient.sex else ""),
        ("Neutered", patient.get_neutered_display() if patient.neutered else ""),
        ("Age at the study", _age(patient.birth_date, seen)),
        ("Weight", f"{patient.weight_kg} kg" if patient.weight_kg else ""),
        ("Study", study.description),
        ("Modalities", study.modalities),
    ]
    if not share.anonymize:
        rows.insert(1, ("Study date", seen.strftime("%d %b %Y") if seen else ""))
    return [(label, value) for label, value in rows if value]
