"""The report REST API: every endpoint, who may call it, and the report's life through it."""

import pytest
from django.core import mail
from rest_framework.test import APIClient

from reports.models import Report, ReportStatus
from tests.reports.conftest import api_as

pytestmark = pytest.mark.django_db


def _url(study, tail: str = "report/") -> str:
    return f"/api/studies/{study.pk}/{tail}"


def test_a_technician_drafts_and_a_vet_signs_through_the_api(study, image, tech, vet, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    as_tech, as_vet = api_as(tech), api_as(vet)
    assert as_tech.get(_url(study)).status_code == 404

    started = as_tech.post(_url(study), {}, format="json")
    assert started.status_code == 201
    assert started.json()["template"]["name"] == "Thorax"
    assert as_tech.post(_url(study), {}, format="json").status_code == 200  # already there

    key = as_tech.post(
        _url(study, "key-images/"), {"sop_instance_uid": image.sop_instance_uid, "frame": 1},
        format="json",
    )  # fmt: skip
    assert key.status_code == 201, key.content
    assert key.json()["label"] == "Series 1 Thorax R LAT, image 1"
    png = as_tech.get(key.json()["image_url"] + "?size=200")
    assert png.status_code == 200 and png["Content-Type"] == "image/png"

    saved = as_tech.patch(
        _url(study), {"findings": "Heart normal.", "impression": "Normal."}, format="json"
    )
    assert saved.status_code == 200 and saved.json()["findings"] == "Heart normal."
    assert [v["number"] for v in saved.json()["versions"]] == [1, 2]

    refused = as_tech.post(_url(study, "report/sign"), {}, format="json")
    assert refused.status_code == 403
    assert Report.objects.get(study=study).status == ReportStatus.DRAFT

    signed = as_vet.post(
        _url(study, "report/sign"), {"impression": "Normal thorax."}, format="json"
    )
    assert signed.status_code == 200, signed.content
    body = signed.json()
    assert body["status"] == "final" and body["signed_by_name"] == "Dr vet"
    assert body["impression"] == "Normal thorax." and body["dicom_sop_instance_uid"]
    assert len(body["key_images"]) == 1

    assert as_vet.post(_url(study, "report/sign"), {}, format="json").status_code == 409
    locked = as_vet.patch(_url(study), {"findings": "changed"}, format="json")
    assert locked.status_code == 409 and "addendum" in locked.json()["detail"]
    assert as_tech.delete(_url(study, f"key-images/{key.json()['id']}/")).status_code == 409

    assert (
        as_tech.post(_url(study, "report/addenda"), {"text": "x"}, format="json").status_code == 403
    )
    addendum = as_vet.post(_url(study, "report/addenda"), {"text": "Re-read."}, format="json")
    assert addendum.status_code == 201 and addendum.json()["number"] == 1

    pdf = as_tech.get(_url(study, "report/pdf"))
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert "attachment" in pdf["Content-Disposition"]

    sent = as_tech.post(_url(study, "report/email"), {"to": "ref@vets.example"}, format="json")
    assert sent.status_code == 200 and len(mail.outbox) == 1
    history = as_tech.get(_url(study)).json()["events"]
    assert {"emailed", "signed", "addendum", "stored", "key_image_added"} <= {
        e["kind"] for e in history
    }


def test_key_images_can_be_removed_from_a_draft(study, image, tech):
    client = api_as(tech)
    key = client.post(
        _url(study, "key-images/"), {"sop_instance_uid": image.sop_instance_uid}, format="json"
    ).json()
    assert client.get(_url(study, "key-images/")).json()[0]["id"] == key["id"]
    assert client.delete(_url(study, f"key-images/{key['id']}/")).status_code == 204
    assert client.get(_url(study, "key-images/")).json() == []


def test_bad_key_images_are_refused_with_a_reason(study, tech):
    client = api_as(tech)
    unknown = client.post(_url(study, "key-images/"), {"sop_instance_uid": "1.2.3"}, format="json")
    assert unknown.status_code == 400 and "not part of this study" in unknown.json()["detail"]
    assert client.post(_url(study, "key-images/"), {}, format="json").status_code == 400


@pytest.mark.parametrize("who", ["front_desk", "outsider"])
def test_people_without_report_permissions_get_403_everywhere(study, image, vet, who, request):
    api_as(vet).post(_url(study), {}, format="json")
    client = api_as(request.getfixturevalue(who))
    calls = [
        ("get", _url(study), None),
        ("post", _url(study), {}),
        ("patch", _url(study), {"findings": "x"}),
        ("post", _url(study, "report/sign"), {}),
        ("post", _url(study, "report/addenda"), {"text": "x"}),
        ("get", _url(study, "report/pdf"), None),
        ("post", _url(study, "report/email"), {"to": "a@b.example"}),
        ("get", _url(study, "key-images/"), None),
        ("post", _url(study, "key-images/"), {"sop_instance_uid": image.sop_instance_uid}),
        ("get", "/api/report-templates/", None),
    ]
    for method, url, data in calls:
        response = getattr(client, method)(url, data, format="json")
        assert response.status_code == 403, (method, url)


def test_signed_out_clients_get_401(study):
    assert APIClient().get(_url(study)).status_code == 401
    assert APIClient().post(_url(study, "report/sign")).status_code == 401


def test_templates_are_listed(tech):
    names = [t["name"] for t in api_as(tech).get("/api/report-templates/").json()]
    assert names[:5] == ["Thorax", "Abdomen", "Orthopedic", "Dental", "Ultrasound"]


def test_the_endpoints_are_in_the_openapi_schema(tech):
    schema = api_as(tech).get("/api/schema/?format=json").json()
    for path in (
        "/api/studies/{study_pk}/report/",
        "/api/studies/{study_pk}/report/sign",
        "/api/studies/{study_pk}/report/addenda",
        "/api/studies/{study_pk}/report/pdf",
        "/api/studies/{study_pk}/report/email",
        "/api/studies/{study_pk}/key-images/",
        "/api/studies/{study_pk}/key-images/{id}/",
        "/api/report-templates/",
    ):
        assert path in schema["paths"], path
