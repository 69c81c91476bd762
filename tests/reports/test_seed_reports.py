"""`manage.py seed_reports` (run by `seed_demo`): a signed thorax report and a draft, once."""

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from pydicom.uid import EncapsulatedPDFStorage

from clinic.queue import wait_for_local_tasks
from imaging.models import Instance, Study
from reports.catalog import template_seed
from reports.models import KeyImage, Report, ReportEvent, ReportStatus, ReportVersion
from reports.pdf import report_pdf
from tests.dicom_server import running_listener

pytestmark = pytest.mark.django_db(transaction=True)


def _command(name: str, **options) -> str:
    out = StringIO()
    call_command(name, stdout=out, **options)
    return out.getvalue()


def _state() -> dict:
    """Everything a repeated run must leave exactly as it was."""
    return {
        "reports": list(
            Report.objects.order_by("pk").values_list(
                "pk", "status", "findings", "impression", "signed_at", "dicom_sop_instance_uid"
            )
        ),
        "versions": list(
            ReportVersion.objects.order_by("pk").values_list("pk", "report", "number")
        ),
        "key_images": list(KeyImage.objects.order_by("pk").values_list("pk", "instance", "frame")),
        "events": ReportEvent.objects.count(),
        "instances": Instance.objects.count(),
    }


def test_seed_demo_writes_a_signed_thorax_report_and_a_draft_once():
    template_seed()  # a transactional test that ran before emptied the migration's templates
    with running_listener() as (host, port, ae_title):
        first = _command("seed_demo", host=host, port=port, ae_title=ae_title)
        wait_for_local_tasks(timeout=60)
        after_first = _state()
        second = _command("seed_demo", host=host, port=port, ae_title=ae_title)
    third = _command("seed_reports")
    wait_for_local_tasks(timeout=60)

    vet = User.objects.get(username="vet")
    assert Report.objects.count() == 2

    # Rex's thorax: signed by Anna Berg, the template's text replaced by hers, one key image.
    thorax = Report.objects.get(study__patient__patient_id="DEMO-1001")
    assert thorax.status == ReportStatus.FINAL
    assert (thorax.signed_by, thorax.signed_by_name) == (vet, "Dr Anna Berg")
    assert "vertebral heart score 10.2 v" in thorax.findings
    assert thorax.impression.startswith("1. No radiographic evidence of pulmonary metastatic")
    versions = list(thorax.versions.values_list("number", "template_name", "signed"))
    assert versions == [(1, "Thorax", False), (2, "Thorax", False), (3, "Thorax", True)]
    assert thorax.versions.get(number=3).findings == thorax.findings
    key_image = thorax.key_images.select_related("instance__series").get()
    assert key_image.instance.series.view_position == "RL"
    assert key_image.added_by == vet and "VHS 10.2 v" in key_image.caption

    # The signature stored the PDF into the study, as signing in the editor does.
    stored = Instance.objects.get(sop_instance_uid=thorax.dicom_sop_instance_uid)
    assert stored.sop_class_uid == EncapsulatedPDFStorage
    assert stored.series.study_id == thorax.study_id
    assert report_pdf(thorax).startswith(b"%PDF")

    # Thunder's fetlock: a draft by the same vet, unsigned, without key images.
    fetlock = Report.objects.get(study__patient__patient_id="DEMO-1004")
    assert fetlock.status == ReportStatus.DRAFT
    assert fetlock.created_by == vet and fetlock.signed_by is None
    assert "oblique views" in fetlock.impression
    assert fetlock.versions.count() == 2
    assert not fetlock.key_images.exists() and not fetlock.dicom_sop_instance_uid

    # Nothing else got a report, and the runs after the first changed nothing.
    assert not Report.objects.exclude(pk__in=[thorax.pk, fetlock.pk]).exists()
    assert _state() == after_first
    assert "Thorax 3 views of Rex — signed report written" in first
    assert "Left fore fetlock 2 views of Thunder — draft report written" in first
    for out in (second, third):
        assert out.count("— report already there") == 2
        assert "written" not in out


def test_seed_reports_without_the_demo_studies_writes_nothing_and_says_so(vet):
    template_seed()
    out = _command("seed_reports")

    assert out.count("\n") == 1
    assert "not written, the demo studies have not arrived" in out
    assert "Thorax 3 views" in out and "run seed_demo" in out
    assert not Report.objects.exists()
    assert not Study.objects.exists()
