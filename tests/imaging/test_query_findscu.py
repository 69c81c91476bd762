"""DCMTK `findscu` (a real workstation's client) searching the portal at every level, both roots."""

import os
import subprocess
from pathlib import Path

import pydicom
import pytest

from imaging.models import Study
from tests.conftest import require_executable
from tests.dicom_server import running_listener
from tests.imaging.query_support import CT_IMAGE, Clinic, clinic_build

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def clinic(db) -> Clinic:
    return clinic_build()


class FindScu:
    def __init__(self, address, tmp_path: Path) -> None:
        self.host, self.port, self.ae_title = address
        self.tmp_path = tmp_path
        self.runs = 0

    def run(self, root: str, *keys: str, extra: tuple[str, ...] = ()):
        """(answers, findscu's log) of `findscu -P|-S -k …`; answers as written with -X."""
        executable = require_executable("findscu")
        self.runs += 1
        out = self.tmp_path / f"run{self.runs}"
        out.mkdir()
        arguments = [executable, root, "-v", "-aet", "WORKSTATION", "-aec", self.ae_title]
        arguments += ["-to", "30", "-X", "-od", str(out), *extra]
        for key in keys:
            arguments += ["-k", key]
        arguments += [self.host, str(self.port)]
        result = subprocess.run(
            arguments, capture_output=True, text=True, timeout=120,
            env={**os.environ, "TCP_NODELAY": "1"},
        )  # fmt: skip
        log = result.stdout + result.stderr
        assert "Association Aborted" not in log and "Peer Aborted" not in log, log
        return [pydicom.dcmread(path) for path in sorted(out.glob("rsp*.dcm"))], log


@pytest.fixture
def findscu(clinic, tmp_path):
    with running_listener() as address:
        yield FindScu(address, tmp_path)


def test_study_root_from_studies_to_images(findscu):
    studies, log = findscu.run(
        "-S", "QueryRetrieveLevel=STUDY", "StudyInstanceUID", "PatientName=smith^*",
        "PatientSpeciesDescription", "ResponsiblePerson", "ModalitiesInStudy",
        "NumberOfStudyRelatedInstances", "RetrieveAETitle", "StudyDate=20240101-",
    )  # fmt: skip
    assert sorted(s.StudyInstanceUID for s in studies) == ["1.2.3.1", "1.2.3.2"]
    ct = next(s for s in studies if s.StudyInstanceUID == "1.2.3.2")
    assert (str(ct.PatientName), ct.PatientSpeciesDescription) == ("Smith^Rex", "Canine")
    assert str(ct.ResponsiblePerson) == "Smith^Sarah"
    assert list(ct.ModalitiesInStudy) == ["CT", "SR"]
    assert (ct.NumberOfStudyRelatedInstances, ct.RetrieveAETitle) == (4, "VETPORTAL")
    series, _ = findscu.run(
        "-S", "QueryRetrieveLevel=SERIES", "StudyInstanceUID=1.2.3.2", "SeriesInstanceUID",
        "Modality", "NumberOfSeriesRelatedInstances",
    )  # fmt: skip
    assert sorted((s.Modality, s.NumberOfSeriesRelatedInstances) for s in series) == [
        ("CT", 3), ("SR", 1),
    ]  # fmt: skip
    images, _ = findscu.run(
        "-S", "QueryRetrieveLevel=IMAGE", "StudyInstanceUID=1.2.3.2",
        "SeriesInstanceUID=1.2.3.2.1", "SOPInstanceUID", "SOPClassUID", "InstanceNumber=2",
    )  # fmt: skip
    assert [(i.SOPInstanceUID, i.SOPClassUID) for i in images] == [("1.2.3.2.1.2", CT_IMAGE)]


def test_patient_root_from_patients_to_images(findscu):
    patients, _ = findscu.run(
        "-P", "QueryRetrieveLevel=PATIENT", "PatientID", "PatientName", "PatientSexNeutered",
        "NumberOfPatientRelatedStudies", "PatientSpeciesCodeSequence[0].CodeValue=448771007",
    )  # fmt: skip
    (rex,) = patients
    assert (rex.PatientID, rex.PatientSexNeutered) == ("P-1001", "ALTERED")
    assert rex.NumberOfPatientRelatedStudies == 2
    assert rex.PatientSpeciesCodeSequence[0].CodeValue == "448771007"
    studies, _ = findscu.run(
        "-P", "QueryRetrieveLevel=STUDY", "PatientID=P-1002", "StudyInstanceUID",
        "StudyDescription", "SpecificCharacterSet", "PatientName",
    )  # fmt: skip
    (dental,) = studies
    assert (dental.StudyInstanceUID, dental.StudyDescription) == ("1.2.3.3", "Dental")
    assert dental.SpecificCharacterSet == "ISO_IR 192"
    assert str(dental.PatientName) == "Müller^Mimi"
    series, _ = findscu.run(
        "-P", "QueryRetrieveLevel=SERIES", "PatientID=P-1001", "StudyInstanceUID=1.2.3.1",
        "SeriesInstanceUID", "BodyPartExamined",
    )  # fmt: skip
    assert [(s.SeriesInstanceUID, s.BodyPartExamined) for s in series] == [("1.2.3.1.1", "CHEST")]
    images, _ = findscu.run(
        "-P", "QueryRetrieveLevel=IMAGE", "PatientID=P-1001", "StudyInstanceUID=1.2.3.1",
        "SeriesInstanceUID=1.2.3.1.1", "SOPInstanceUID", "InstanceNumber",
    )  # fmt: skip
    assert sorted(i.SOPInstanceUID for i in images) == ["1.2.3.1.1.1", "1.2.3.1.1.2"]


def test_a_malformed_query_is_refused_and_the_listener_keeps_serving(findscu):
    answers, log = findscu.run("-S", "QueryRetrieveLevel=SERIES", "SeriesInstanceUID")
    assert answers == []
    assert "Final Find Response (Error: DataSetDoesNotMatchSOPClass)" in log
    answers, log = findscu.run("-S", "QueryRetrieveLevel=STUDY", "StudyDate=someday")
    assert answers == [] and "Final Find Response (Failed: UnableToProcess)" in log
    answers, _ = findscu.run("-S", "QueryRetrieveLevel=STUDY", "StudyInstanceUID=1.2.3.4")
    assert [a.StudyInstanceUID for a in answers] == ["1.2.3.4"]


def test_findscu_cancels_a_long_search(findscu, clinic):
    Study.objects.bulk_create(
        Study(study_instance_uid=f"1.2.4.{n}", patient=clinic.rex, accession_number=f"B{n}")
        for n in range(500)
    )
    answers, log = findscu.run(
        "-S", "QueryRetrieveLevel=STUDY", "StudyInstanceUID", "AccessionNumber",
        extra=("--cancel", "3"),
    )  # fmt: skip
    assert "Cancel" in log, log
    assert 3 <= len(answers) < 504
    after, _ = findscu.run("-S", "QueryRetrieveLevel=STUDY", "StudyInstanceUID=1.2.3.1")
    assert [a.StudyInstanceUID for a in after] == ["1.2.3.1"]
