"""Study-level work staff do from the pages: moving a study to its right patient, confirming a patient."""

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from clinic.models import Patient
from imaging.models import Study, StudyEvent


def _patient_label(patient: Patient) -> str:
    owner = f", owner {patient.owner_name}" if patient.owner_name else ""
    return f"{patient.name} (ID {patient.patient_id}{owner})"


def study_reassign(*, study: Study, patient: Patient, user: User) -> Study:
    """File `study` under `patient` (a wrong-patient arrival), and say so in the study's history.

    The stored DICOM files keep the demographics the modality sent; the index is what the
    portal shows and serves, so the move is one row and one history line.
    """
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=study.pk)
        previous = Patient.objects.select_related("owner").get(pk=study.patient_id)
        if previous.pk == patient.pk:
            return study
        study.patient = patient
        study.updated_at = timezone.now()
        study.save(update_fields=["patient", "updated_at"])
        StudyEvent.objects.create(
            study=study,
            kind="patient_reassigned",
            message=f"Moved from {_patient_label(previous)} to {_patient_label(patient)}.",
            user=user,
        )
    return study


def patient_verify(*, patient: Patient, user: User) -> Patient:
    """Staff confirm a patient created from an arrival; each of its studies records who did."""
    with transaction.atomic():
        updated = Patient.objects.filter(pk=patient.pk, verified=False).update(verified=True)
        if updated:
            who = user.get_full_name() or user.get_username()
            StudyEvent.objects.bulk_create(
                StudyEvent(
                    study=study,
                    kind="patient_verified",
                    message=f"Patient {_patient_label(patient)} confirmed by {who}.",
                    user=user,
                )
                for study in Study.objects.filter(patient=patient)
            )
    patient.refresh_from_db()
    return patient
