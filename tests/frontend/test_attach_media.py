"""Adding photos, videos and PDFs from the study and patient pages and through the REST API:
who may, what the clinic sees per file, and the video and PDF served back for playback."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from clinic.models import Owner, Patient, Species
from imaging.models import Instance, Study
from tests.media_samples import document_pdf, photo_jpeg, video_mp4

pytestmark = pytest.mark.django_db


@pytest.fixture
def rex(db) -> Patient:
    owner = Owner.objects.create(last_name="Smith")
    return Patient.objects.create(patient_id="P-9", name="Rex", owner=owner, species=Species.CANINE)


def _jpeg(name="IMG_1.jpg"):
    return SimpleUploadedFile(name, photo_jpeg(), content_type="image/jpeg")


def _api(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_a_tech_adds_a_photo_to_a_new_study_through_the_api(tech, rex):
    response = _api(tech).post(
        "/api/media/",
        {
            "file": _jpeg(),
            "patient": rex.pk,
            "study_description": "Wound photos",
            "batch": "visit1",
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "added" and body["kind"] == "photo"
    assert body["series_description"] == "Photos"
    study = Study.objects.get(pk=body["study"])
    assert study.patient == rex and study.description == "Wound photos"
    assert body["study_url"] == study.get_absolute_url()


def test_the_same_photo_again_is_reported_as_already_there(tech, rex):
    api = _api(tech)
    first = api.post("/api/media/", {"file": _jpeg(), "patient": rex.pk}, format="multipart").json()
    again = api.post("/api/media/", {"file": _jpeg(), "study": first["study"]}, format="multipart")
    assert again.status_code == 200
    assert (
        again.json()["status"] == "duplicate" and "already in this study" in again.json()["message"]
    )
    assert Instance.objects.count() == 1


def test_a_refused_file_says_why_in_the_clinics_words(tech, rex):
    heic = SimpleUploadedFile(
        "IMG_2.HEIC", b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", content_type="image/heic"
    )
    response = _api(tech).post("/api/media/", {"file": heic, "patient": rex.pk}, format="multipart")
    assert response.status_code == 422
    assert (
        response.json()["message"]
        == "IMG_2.HEIC: HEIC photos are not supported: export the photo as JPEG"
    )


def test_front_desk_may_not_add_files(front_desk, rex, client):
    response = _api(front_desk).post(
        "/api/media/", {"file": _jpeg(), "patient": rex.pk}, format="multipart"
    )
    assert response.status_code == 403
    client.force_login(front_desk)
    assert client.get(reverse("patient-attach-media", args=[rex.pk])).status_code == 403
    assert Instance.objects.count() == 0


def test_the_endpoint_is_in_the_api_schema(tech):
    schema = _api(tech).get("/api/schema/").content.decode()
    assert "/api/media/" in schema and "video_kind" in schema


def test_the_page_without_javascript_adds_every_chosen_file(tech, rex, client):
    client.force_login(tech)
    page = client.get(reverse("patient-attach-media", args=[rex.pk]))
    assert page.status_code == 200 and b"Add photos, videos or documents" in page.content
    response = client.post(
        reverse("patient-attach-media", args=[rex.pk]),
        {
            "file": [
                _jpeg(),
                SimpleUploadedFile("letter.pdf", document_pdf()),
                SimpleUploadedFile("x.txt", b"hi"),
            ],
            "study": "",
            "study_description": "Referral",
            "video_kind": "other",
            "batch": "nojs",
        },
    )
    html = response.content.decode()
    assert "IMG_1.jpg: added to Photos" in html
    assert "letter.pdf: added to Documents (PDF)" in html
    assert "x.txt: this kind of file is not supported" in html
    study = Study.objects.get()
    assert study.series.count() == 2 and study.description == "Referral"


def test_the_study_and_patient_pages_offer_it_to_a_tech_only(tech, front_desk, rex, client):
    client.force_login(tech)
    _api(tech).post("/api/media/", {"file": _jpeg(), "patient": rex.pk}, format="multipart")
    study = Study.objects.get()
    attach = reverse("study-attach-media", args=[study.pk])
    assert attach in client.get(study.get_absolute_url()).content.decode()
    assert (
        reverse("patient-attach-media", args=[rex.pk])
        in client.get(rex.get_absolute_url()).content.decode()
    )
    assert client.get(attach).status_code == 200
    client.force_login(front_desk)
    assert (
        reverse("patient-attach-media", args=[rex.pk])
        not in client.get(rex.get_absolute_url()).content.decode()
    )


def test_a_video_is_served_with_byte_ranges_and_a_pdf_inline(tech, rex, client, outsider):
    mp4 = video_mp4(frames=8)
    api = _api(tech)
    video = api.post(
        "/api/media/",
        {
            "file": SimpleUploadedFile("scope.mp4", mp4),
            "patient": rex.pk,
            "video_kind": "endoscopy",
        },
        format="multipart",
    ).json()
    pdf = api.post(
        "/api/media/",
        {"file": SimpleUploadedFile("letter.pdf", document_pdf()), "study": video["study"]},
        format="multipart",
    ).json()
    client.force_login(tech)
    url = reverse("instance-video", args=[video["study"], video["sop_instance_uid"]])
    whole = client.get(url)
    assert whole.status_code == 200 and whole["Content-Type"] == "video/mp4"
    assert b"".join(whole.streaming_content) == mp4
    part = client.get(url, HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 10-19/{len(mp4)}"
    assert b"".join(part.streaming_content) == mp4[10:20]
    assert client.get(url, HTTP_RANGE=f"bytes={len(mp4)}-").status_code == 416
    doc = client.get(reverse("instance-document", args=[pdf["study"], pdf["sop_instance_uid"]]))
    assert doc["Content-Type"] == "application/pdf"
    assert doc["X-Frame-Options"] == "SAMEORIGIN"  # the viewer frames it; other sites may not
    assert b"".join(doc.streaming_content) == document_pdf()
    # A video address does not serve the PDF, and an outsider sees neither.
    assert (
        client.get(
            reverse("instance-video", args=[pdf["study"], pdf["sop_instance_uid"]])
        ).status_code
        == 404
    )
    client.force_login(outsider)
    assert client.get(url).status_code == 403


def test_the_viewer_is_told_where_to_play_a_video_and_open_a_pdf(tech, rex, client):
    api = _api(tech)
    video = api.post(
        "/api/media/",
        {"file": SimpleUploadedFile("a.mp4", video_mp4(frames=4)), "patient": rex.pk, "batch": "v"},
        format="multipart",
    ).json()
    api.post(
        "/api/media/",
        {
            "file": SimpleUploadedFile("b.pdf", document_pdf()),
            "study": video["study"],
            "batch": "v",
        },
        format="multipart",
    )
    api.post(
        "/api/media/", {"file": _jpeg(), "study": video["study"], "batch": "v"}, format="multipart"
    )
    client.force_login(tech)
    page = client.get(reverse("study-viewer", args=[video["study"]]))
    config = page.context["viewer_config"]
    media = {row["description"]: row["media"] for row in config["series"]}
    assert media["Video"] == {
        "kind": "video",
        "url": reverse("instance-video", args=[video["study"], video["sop_instance_uid"]]),
    }
    assert media["Documents (PDF)"]["kind"] == "document"
    assert media["Photos"] is None
    assert config["preview"] is None  # the first series is the video: no still preview
    if page.context["bundle"]:  # the series strip is drawn only with a built viewer
        html = page.content.decode()
        assert "1 video" in html and "1 document" in html and "1 image" in html
