"""DCMTK `findscu -W` (a real worklist client) against the portal's listener."""

import os
import subprocess
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pydicom
import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.conftest import require_executable
from tests.dicom_server import running_listener
from tests.worklist.conftest import demo_clinic

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]

SPS = "ScheduledProcedureStepSequence[0]"
# What a DR console asks for: the patient with the veterinary attributes, the order, the step.
RETURN_KEYS = [
    "SpecificCharacterSet", "PatientName", "PatientID", "PatientBirthDate", "PatientSex",
    "PatientSexNeutered", "PatientWeight", "PatientSpeciesDescription",
    "PatientSpeciesCodeSequence", "PatientBreedDescription", "PatientBreedCodeSequence",
    "ResponsiblePerson", "ResponsiblePersonRole", "ResponsibleOrganization", "AccessionNumber",
    "RequestingPhysician", "ReferringPhysicianName", "RequestedProcedureID",
    "RequestedProcedureDescription", "RequestedProcedureCodeSequence", "StudyInstanceUID",
    f"{SPS}.Modality", f"{SPS}.ScheduledStationAETitle", f"{SPS}.ScheduledProcedureStepStartDate",
    f"{SPS}.ScheduledProcedureStepStartTime", f"{SPS}.ScheduledProcedureStepID",
    f"{SPS}.ScheduledProcedureStepDescription", f"{SPS}.ScheduledPerformingPhysicianName",
    f"{SPS}.ScheduledProcedureStepStatus", "IssuerOfPatientID",
]  # fmt: skip


def findscu(host: str, port: int, ae_title: str, out: Path, **match: str) -> list[pydicom.Dataset]:
    """Run `findscu -W` with the return keys plus `match` (key path -> value); read the answers."""
    executable = require_executable("findscu")
    keys = {**dict.fromkeys(RETURN_KEYS, ""), **match}
    arguments = [executable, "-W", "-aet", "DR1", "-aec", ae_title, "-to", "20", "-X"]
    arguments += ["-od", str(out)]
    for key, value in keys.items():
        arguments += ["-k", f"{key}={value}" if value else key]
    arguments += [host, str(port)]
    result = subprocess.run(
        arguments,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TCP_NODELAY": "1"},
    )
    assert result.returncode == 0, result.stderr
    return [pydicom.dcmread(path) for path in sorted(out.glob("rsp*.dcm"))]


@pytest.fixture
def worklist(clinic_day, tmp_path):
    """Run findscu queries against a listener serving the clinic day."""
    with running_listener() as (host, port, ae_title):
        runs = iter(range(100))

        def query(**match: str) -> list[pydicom.Dataset]:
            out = tmp_path / f"run{next(runs)}"
            out.mkdir()
            return findscu(host, port, ae_title, out, **match)

        yield query


def sps(answer: pydicom.Dataset) -> pydicom.Dataset:
    return answer.ScheduledProcedureStepSequence[0]


def test_by_station_ae_today(clinic_day, worklist):
    answers = worklist(
        **{
            f"{SPS}.ScheduledStationAETitle": "DR1",
            f"{SPS}.ScheduledProcedureStepStartDate": clinic_day.dicom_day,
        }
    )
    assert [a.AccessionNumber for a in answers] == [clinic_day.thorax.accession_number]
    rex = answers[0]
    assert str(rex.PatientName) == "Smith^Rex"
    assert rex.PatientID == "P-1001"
    assert (rex.PatientSex, rex.PatientSexNeutered, rex.PatientBirthDate) == (
        "M", "ALTERED", "20190402",
    )  # fmt: skip
    assert rex.PatientSpeciesDescription == "Canine"
    assert rex.PatientSpeciesCodeSequence[0].CodeValue == "448771007"
    assert rex.PatientSpeciesCodeSequence[0].CodingSchemeDesignator == "SCT"
    assert rex.PatientBreedDescription == "Labrador Retriever"
    assert str(rex.ResponsiblePerson) == "Smith^Sarah"
    assert rex.ResponsiblePersonRole == "OWNER"
    assert str(rex.RequestingPhysician) == "Berg^Anna"
    assert rex.RequestedProcedureCodeSequence[0].CodeValue == "THX3"
    assert rex.StudyInstanceUID == clinic_day.thorax.study_instance_uid
    step = sps(rex)
    assert (step.Modality, step.ScheduledStationAETitle) == ("DX", "DR1")
    assert (step.ScheduledProcedureStepStartDate, step.ScheduledProcedureStepStartTime) == (
        clinic_day.dicom_day, "090000",
    )  # fmt: skip
    assert step.ScheduledProcedureStepDescription == "Thorax 3-view"
    assert str(step.ScheduledPerformingPhysicianName) == "Jansen^Lea"
    assert step.ScheduledProcedureStepStatus == "SCHEDULED"
    assert rex.IssuerOfPatientID == ""


def test_by_performing_vet_step_status_and_issuer(clinic_day, worklist, settings):
    jansen = worklist(**{f"{SPS}.ScheduledPerformingPhysicianName": "Jansen^*"})
    assert [a.AccessionNumber for a in jansen] == [clinic_day.thorax.accession_number]
    assert worklist(**{f"{SPS}.ScheduledPerformingPhysicianName": "Berg^Anna"}) == []
    clinic_day.thorax.status = "in_progress"
    clinic_day.thorax.save()
    started = worklist(**{f"{SPS}.ScheduledProcedureStepStatus": "STARTED"})
    assert [a.AccessionNumber for a in started] == [clinic_day.thorax.accession_number]
    assert sps(started[0]).ScheduledProcedureStepStatus == "STARTED"
    settings.PATIENT_ID_ISSUER = "VETCLINIC"
    clinic_day.mimi.issuer = "SHELTER"
    clinic_day.mimi.save()
    shelter = worklist(IssuerOfPatientID="SHELTER")
    assert [(a.AccessionNumber, a.IssuerOfPatientID) for a in shelter] == [
        (clinic_day.abdomen_us.accession_number, "SHELTER")
    ]
    ours = worklist(IssuerOfPatientID="VETCLINIC")
    assert {a.PatientID for a in ours} == {"P-1001"}
    assert {a.IssuerOfPatientID for a in ours} == {"VETCLINIC"}


def test_by_todays_date_range(clinic_day, worklist):
    tomorrow = (clinic_day.day + timedelta(days=1)).strftime("%Y%m%d")
    today_only = worklist(**{f"{SPS}.ScheduledProcedureStepStartDate": f"{clinic_day.dicom_day}-{clinic_day.dicom_day}"})  # fmt: skip
    assert [a.AccessionNumber for a in today_only] == [
        clinic_day.thorax.accession_number,
        clinic_day.abdomen_us.accession_number,
    ]  # the cancelled order is not offered
    from_tomorrow = worklist(**{f"{SPS}.ScheduledProcedureStepStartDate": f"{tomorrow}-"})
    assert [a.AccessionNumber for a in from_tomorrow] == [clinic_day.stifle.accession_number]


def test_by_modality_with_a_non_ascii_owner(clinic_day, worklist):
    answers = worklist(**{f"{SPS}.Modality": "US"})
    assert len(answers) == 1
    mimi = answers[0]
    assert mimi.SpecificCharacterSet == "ISO_IR 192"
    assert str(mimi.PatientName) == "Müller^Mimi"
    assert str(mimi.ResponsiblePerson) == "Müller^Jürgen"
    assert mimi.PatientSpeciesCodeSequence[0].CodeMeaning == "Felis catus"
    assert mimi.PatientSexNeutered == "UNALTERED"
    assert sps(mimi).ScheduledStationAETitle == "US1"


def test_by_patient_name_wildcard(clinic_day, worklist):
    assert {a.AccessionNumber for a in worklist(PatientName="smi*")} == {
        clinic_day.thorax.accession_number,
        clinic_day.stifle.accession_number,
    }
    assert [str(a.PatientName) for a in worklist(PatientName="M?ller^*")] == ["Müller^Mimi"]
    assert worklist(PatientName="Jones*") == []


def test_a_fresh_demo_portal_has_a_worklist_at_once(tmp_path):
    demo_clinic()
    call_command("seed_worklist", stdout=StringIO())
    today = timezone.localdate().strftime("%Y%m%d")
    with running_listener() as (host, port, ae_title):
        answers = findscu(
            host, port, ae_title, tmp_path,
            **{f"{SPS}.ScheduledStationAETitle": "DEMO_US", f"{SPS}.ScheduledProcedureStepStartDate": today},
        )  # fmt: skip
    assert [sps(a).ScheduledProcedureStepDescription for a in answers] == [
        "Abdominal ultrasound", "Echocardiogram", "Abdominal ultrasound",
    ]  # fmt: skip
    assert str(answers[0].PatientName) == "Müller^Mimi"
    assert answers[0].PatientSpeciesDescription == "Feline"
