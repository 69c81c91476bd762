"""The report pages: the panel on the study page, the editor, and who may do what there."""

import pytest
from django.core import mail
from django.test import Client

from reports.models import KeyImage, Report, ReportStatus, ReportTemplate
from tests.reports.conftest import pages_as

pytestmark = pytest.mark.django_db


def _editor(study) -> str:
    return f"/studies/{study.pk}/report/"


def test_the_study_page_offers_to_write_the_report(study, tech):
    page = pages_as(tech).get(f"/studies/{study.pk}/")
    assert page.status_code == 200
    assert b"Write report" in page.content


def test_the_study_page_shows_the_report_s_status_and_pdf(study, vet):
    client = pages_as(vet)
    client.post(f"/studies/{study.pk}/report/start")
    page = client.get(f"/studies/{study.pk}/").content.decode()
    assert "Draft" in page and "Open report editor" in page
    assert f"/studies/{study.pk}/report/pdf" in page


def test_the_editor_suggests_the_template_and_saves_versions(study, tech):
    client = pages_as(tech)
    page = client.get(_editor(study)).content.decode()
    assert "Thorax (suggested)" in page
    client.post(f"/studies/{study.pk}/report/start")
    response = client.post(
        f"/studies/{study.pk}/report/save",
        {"findings": "Bronchial pattern.", "impression": "Bronchitis.", "action": "save"},
    )
    assert response.status_code == 302
    report = Report.objects.get(study=study)
    assert report.findings == "Bronchial pattern." and report.versions.count() == 2
    page = client.get(_editor(study)).content.decode()
    assert "Bronchial pattern." in page and "Saved versions (2)" in page
    assert "Sign and finalize" not in page  # technicians don't sign


def test_use_template_replaces_the_text(study, vet):
    client = pages_as(vet)
    dental = ReportTemplate.objects.get(name="Dental")
    client.post(
        f"/studies/{study.pk}/report/save",
        {"findings": "typed", "impression": "", "template": dental.pk, "action": "template"},
    )
    report = Report.objects.get(study=study)
    assert report.template == dental and report.findings == dental.findings.strip()
    assert report.versions.filter(findings="typed").exists()


def test_a_technician_signing_gets_403_and_a_vet_signs(study, tech, vet):
    pages_as(tech).post(f"/studies/{study.pk}/report/start")
    data = {"findings": "Normal.", "impression": "Normal thorax.", "action": "sign"}
    assert pages_as(tech).post(f"/studies/{study.pk}/report/save", data).status_code == 403
    assert pages_as(tech).post(f"/studies/{study.pk}/report/sign").status_code == 403
    assert Report.objects.get(study=study).status == ReportStatus.DRAFT
    assert pages_as(vet).post(f"/studies/{study.pk}/report/save", data).status_code == 302
    report = Report.objects.get(study=study)
    assert report.status == ReportStatus.FINAL and report.impression == "Normal thorax."
    page = pages_as(tech).get(_editor(study)).content.decode()
    assert "Electronically signed by Dr vet" in page
    assert 'name="findings"' not in page  # locked: no editing


def test_addenda_and_email_after_signing(study, tech, vet, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    client = pages_as(vet)
    client.post(
        f"/studies/{study.pk}/report/save",
        {"findings": "", "impression": "Normal.", "action": "sign"},
    )
    url = f"/studies/{study.pk}/report/addendum"
    assert pages_as(tech).post(url, {"text": "x"}).status_code == 403
    client.post(url, {"text": "Owner called: coughing stopped."})
    assert Report.objects.get(study=study).addenda.get().text == "Owner called: coughing stopped."
    response = pages_as(tech).post(
        f"/studies/{study.pk}/report/email", {"to": "ref@vets.example", "message": ""}
    )
    assert response.status_code == 302 and len(mail.outbox) == 1
    page = pages_as(tech).get(_editor(study)).content.decode()
    assert "PDF emailed to ref@vets.example." in page
    assert 'value="ref@vets.example"' in page  # prefilled next time


def test_key_images_are_added_shown_and_removed_in_the_editor(study, image, tech):
    client = pages_as(tech)
    client.post(f"/studies/{study.pk}/report/key-images/add", {"instance": image.pk, "frame": 1})
    key_image = KeyImage.objects.get()
    page = client.get(_editor(study)).content.decode()
    thumbnail = f"/studies/{study.pk}/report/key-images/{key_image.pk}.png"
    assert thumbnail in page
    png = client.get(thumbnail)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    client.post(f"/studies/{study.pk}/report/key-images/{key_image.pk}/remove")
    assert not KeyImage.objects.exists()


def test_the_pdf_downloads(study, tech):
    client = pages_as(tech)
    client.post(f"/studies/{study.pk}/report/start")
    response = client.get(f"/studies/{study.pk}/report/pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert response["Content-Disposition"].startswith('attachment; filename="report-Rex')


@pytest.mark.parametrize("who", ["front_desk", "outsider"])
def test_every_report_page_is_closed_to_people_without_report_permissions(
    study, image, vet, who, request
):
    pages_as(vet).post(f"/studies/{study.pk}/report/start")
    key = pages_as(vet).post(
        f"/studies/{study.pk}/report/key-images/add", {"instance": image.pk, "frame": 1}
    )
    assert key.status_code == 302
    key_image = KeyImage.objects.get()
    client = pages_as(request.getfixturevalue(who))
    base = f"/studies/{study.pk}/report"
    for method, url in [
        ("get", f"{base}/"),
        ("post", f"{base}/start"),
        ("post", f"{base}/save"),
        ("post", f"{base}/sign"),
        ("post", f"{base}/addendum"),
        ("post", f"{base}/email"),
        ("get", f"{base}/pdf"),
        ("post", f"{base}/store"),
        ("post", f"{base}/key-images/add"),
        ("get", f"{base}/key-images/{key_image.pk}.png"),
        ("post", f"{base}/key-images/{key_image.pk}/remove"),
    ]:
        assert getattr(client, method)(url).status_code == 403, url


def test_signed_out_visitors_go_to_the_login_page(study):
    response = Client().get(_editor(study))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_administrators_edit_templates_in_the_admin(administrator, tech):
    administrator.is_staff = True
    administrator.save()
    client = pages_as(administrator)
    thorax = ReportTemplate.objects.get(name="Thorax")
    assert client.get("/admin/reports/reporttemplate/").status_code == 200
    page = client.get(f"/admin/reports/reporttemplate/{thorax.pk}/change/")
    assert page.status_code == 200 and b"Cardiac silhouette" in page.content
    response = client.post(
        f"/admin/reports/reporttemplate/{thorax.pk}/change/",
        {
            "name": "Thorax",
            "procedure_codes": "THX3, THX2",
            "modalities": "DX, CR",
            "body_parts": "CHEST",
            "findings": "Heart: ...",
            "impression": "Normal.",
            "active": "on",
            "order": 10,
        },
    )
    assert response.status_code == 302
    assert ReportTemplate.objects.get(pk=thorax.pk).findings == "Heart: ..."
    assert pages_as(tech).get("/admin/reports/reporttemplate/").status_code == 302  # not staff
