"""Sending a study sends its signed report: DCMTK storescp receives the Encapsulated PDF."""

import pytest
from django.core.management import call_command
from pydicom import dcmread
from pydicom.uid import EncapsulatedPDFStorage

from reports import reports as service
from tests.conftest import require_executable
from tests.reports.conftest import ingest_study
from tests.send_peers import destination_for, storescp

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]


def test_the_signed_report_travels_with_the_study(tmp_path, settings, rex, vet):
    settings.CELERY_BROKER_URL = None  # sends on this process's task thread (embedded mode)
    require_executable("storescp")
    study = ingest_study()
    report = service.report_start(study=study, user=vet)
    service.report_sign(report=report, user=vet, impression="Normal thorax.")
    report.refresh_from_db()
    with storescp(tmp_path / "storescp") as (port, out_dir):
        destination_for("Specialist", port, "STORESCP", kind="specialist")
        call_command("send_study", study.study_instance_uid, "--to", "Specialist", "--wait")
        received = [dcmread(path) for path in out_dir.iterdir()]
    documents = [ds for ds in received if ds.SOPClassUID == EncapsulatedPDFStorage]
    assert len(received) == 3 and len(documents) == 1
    document = documents[0]
    assert document.SOPInstanceUID == report.dicom_sop_instance_uid
    assert document.StudyInstanceUID == study.study_instance_uid
    assert document.PatientName == "Smith^Rex"
    assert bytes(document.EncapsulatedDocument).startswith(b"%PDF")
