"""Writing a report: versions kept, the template that fits, signing locks, addenda, key images."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from imaging.models import Device, Instance
from reports import reports as service
from reports.catalog import CATALOG, template_for_study, template_seed
from reports.models import KeyImage, Report, ReportEventKind, ReportStatus, ReportTemplate
from tests.reports.conftest import ingest_study
from worklist.models import Procedure
from worklist.orders import order_schedule

pytestmark = pytest.mark.django_db


def test_every_kind_of_study_has_a_seeded_template():
    names = set(ReportTemplate.objects.values_list("name", flat=True))
    assert {"Thorax", "Abdomen", "Orthopedic", "Dental", "Ultrasound"} <= names
    # Seeding again adds nothing and keeps what administrators edited.
    ReportTemplate.objects.filter(name="Thorax").update(findings="Our own thorax text")
    assert template_seed() == 0
    assert ReportTemplate.objects.get(name="Thorax").findings == "Our own thorax text"
    assert len(CATALOG) == ReportTemplate.objects.count()


def test_the_template_matches_the_order_then_modality_and_body_part(rex):
    thorax = ingest_study()
    assert template_for_study(thorax).name == "Thorax"
    dental = ingest_study(modality="IO", body_part="JAW", views=[(1, "", "Rostral maxilla")])
    assert template_for_study(dental).name == "Dental"
    ultrasound = ingest_study(modality="US", body_part="ABDOMEN", views=[(1, "", "Liver")])
    assert template_for_study(ultrasound).name == "Ultrasound"
    stifle = ingest_study(body_part="KNEE", views=[(1, "ML", "Stifle ML")])
    assert template_for_study(stifle).name == "Orthopedic"


def test_the_order_s_procedure_decides_over_the_body_part(rex, front_desk):
    device = Device.objects.create(name="DR room", ae_title="DR_ROOM_1", modality="DX")
    order = order_schedule(
        patient=rex,
        procedure=Procedure.objects.get(code="ABD2"),
        device=device,
        scheduled_at=timezone.now() + timedelta(hours=1),
        user=front_desk,
    )
    # The console labelled it CHEST, but the clinic booked an abdomen.
    study = ingest_study(study_uid=order.study_instance_uid, body_part="CHEST")
    order.study = study
    order.save(update_fields=["study"])
    assert template_for_study(study).name == "Abdomen"


def test_a_draft_starts_from_its_template_and_every_save_is_a_version(study, vet, tech):
    report = service.report_start(study=study, user=tech)
    assert report.status == ReportStatus.DRAFT
    assert report.template.name == "Thorax"
    assert "Cardiac silhouette" in report.findings
    service.report_save(report=report, findings="Heart enlarged.", impression="", user=tech)
    # An unchanged save adds no version.
    service.report_save(report=report, findings="Heart enlarged.", impression="", user=tech)
    service.report_save(
        report=report, findings="Heart enlarged.", impression="Cardiomegaly.", user=vet
    )
    versions = list(report.versions.values_list("number", "findings", "impression"))
    assert [v[0] for v in versions] == [1, 2, 3]
    assert versions[0][1].startswith("Cardiac silhouette")
    assert versions[1][1:] == ("Heart enlarged.", "")
    assert versions[2][1:] == ("Heart enlarged.", "Cardiomegaly.")
    # Starting again returns the same report.
    assert service.report_start(study=study, user=vet).pk == report.pk


def test_applying_a_template_keeps_the_old_text_in_the_history(study, vet):
    report = service.report_start(study=study, user=vet)
    service.report_save(report=report, findings="Typed by hand.", impression="x", user=vet)
    dental = ReportTemplate.objects.get(name="Dental")
    report = service.report_apply_template(report=report, template=dental, user=vet)
    assert report.findings == dental.findings
    assert report.versions.filter(findings="Typed by hand.").exists()


def test_signing_locks_the_report(study, vet):
    report = service.report_start(study=study, user=vet)
    report = service.report_sign(
        report=report, user=vet, findings="Normal heart.", impression="Normal thorax."
    )
    report.refresh_from_db()
    assert report.status == ReportStatus.FINAL
    assert report.signed_by == vet and report.signed_at is not None
    assert report.signed_by_name == "Dr vet"
    assert report.versions.filter(signed=True, impression="Normal thorax.").count() == 1
    with pytest.raises(service.ReportLocked):
        service.report_save(report=report, findings="Changed", impression="Changed", user=vet)
    with pytest.raises(service.ReportLocked):
        service.report_sign(report=report, user=vet)
    with pytest.raises(service.ReportLocked):
        service.report_apply_template(
            report=report, template=ReportTemplate.objects.first(), user=vet
        )
    report.refresh_from_db()
    assert report.findings == "Normal heart."
    assert report.events.filter(kind=ReportEventKind.SIGNED).exists()


def test_signing_needs_an_impression(study, vet):
    report = service.report_start(study=study, user=vet)
    with pytest.raises(service.ReportError, match="impression"):
        service.report_sign(report=report, user=vet, impression="  ")
    report.refresh_from_db()
    assert report.status == ReportStatus.DRAFT


def test_a_technician_drafts_but_cannot_sign_or_add_addenda(study, tech, vet):
    report = service.report_start(study=study, user=tech)
    with pytest.raises(PermissionDenied):
        service.report_sign(report=report, user=tech, impression="Fine.")
    report.refresh_from_db()
    assert report.status == ReportStatus.DRAFT
    service.report_sign(report=report, user=vet, impression="Fine.")
    with pytest.raises(PermissionDenied):
        service.addendum_add(report=report, text="More", user=tech)


def test_addenda_follow_a_signature_with_author_and_time(study, vet):
    report = service.report_start(study=study, user=vet)
    with pytest.raises(service.ReportError, match="draft"):
        service.addendum_add(report=report, text="Too early", user=vet)
    service.report_sign(report=report, user=vet, impression="Fine.")
    first = service.addendum_add(report=report, text="Follow-up: lungs clear.", user=vet)
    second = service.addendum_add(report=report, text="Owner informed.", user=vet)
    assert (first.number, second.number) == (1, 2)
    assert first.author == vet and first.author_name == "Dr vet" and first.created_at
    kinds = list(report.events.values_list("kind", flat=True))
    assert kinds.count(ReportEventKind.ADDENDUM) == 2
    with pytest.raises(service.ReportError):
        service.addendum_add(report=report, text="   ", user=vet)


def test_a_key_image_starts_the_draft_and_is_kept_once(study, image, tech):
    assert not Report.objects.filter(study=study).exists()
    key_image = service.key_image_add(
        study=study, sop_instance_uid=image.sop_instance_uid, frame=1, user=tech
    )
    report = Report.objects.get(study=study)
    assert key_image.report == report and key_image.instance == image
    again = service.key_image_add(
        study=study, sop_instance_uid=image.sop_instance_uid, frame=1, user=tech
    )
    assert again.pk == key_image.pk
    assert report.key_images.count() == 1
    service.key_image_remove(key_image=key_image, user=tech)
    assert not KeyImage.objects.exists()
    kinds = set(report.events.values_list("kind", flat=True))
    assert {ReportEventKind.KEY_IMAGE_ADDED, ReportEventKind.KEY_IMAGE_REMOVED} <= kinds


def test_key_images_are_refused_from_another_study_a_missing_frame_or_a_signed_report(
    study, image, vet, rex
):
    other = ingest_study()
    foreign = Instance.objects.filter(series__study=other).first()
    with pytest.raises(service.ReportError, match="not part of this study"):
        service.key_image_add(
            study=study, sop_instance_uid=foreign.sop_instance_uid, frame=1, user=vet
        )
    with pytest.raises(service.ReportError, match="Frame 2 does not exist"):
        service.key_image_add(
            study=study, sop_instance_uid=image.sop_instance_uid, frame=2, user=vet
        )
    report = service.report_start(study=study, user=vet)
    service.report_sign(report=report, user=vet, impression="Fine.")
    with pytest.raises(service.ReportLocked):
        service.key_image_add(
            study=study, sop_instance_uid=image.sop_instance_uid, frame=1, user=vet
        )
