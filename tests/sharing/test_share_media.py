"""A share's videos and PDFs open in its viewer exactly as far as the share reaches: a video
with byte ranges, a PDF only on a share that is not anonymized, nothing of other series, other
studies, revoked shares or browsers the share was never opened in."""

import io
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from imaging.convert.attach import media_attach
from imaging.models import Instance, Study
from reports.reports import report_save, report_sign, report_start
from sharing import shares
from sharing.anonymize import Anonymizer
from sharing.models import AccessAction
from tests.media_samples import document_pdf, video_mp4
from tests.sharing.conftest import series_uids

pytestmark = pytest.mark.django_db

MP4 = video_mp4(frames=8)
PDF = document_pdf()


def _attach(study: Study, data: bytes, filename: str) -> Instance:
    return media_attach(
        source=io.BytesIO(data), filename=filename, patient=study.patient, study=study, batch="b"
    ).instance


@pytest.fixture
def video(study) -> Instance:
    return _attach(study, MP4, "echo.mp4")


@pytest.fixture
def pdf(study) -> Instance:
    return _attach(study, PDF, "referral.pdf")


def _opened(created) -> Client:
    client = Client()
    client.get(created.path, follow=True)
    return client


def _media(share, uid: str) -> str:
    return f"/share/v/{share.pk}/media/{uid}"


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def _private(response) -> None:
    assert response["Cache-Control"] == "no-store, private"
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_shared_video_plays_with_byte_ranges(make_share, video):
    created = make_share()
    client = _opened(created)
    url = _media(created.share, video.sop_instance_uid)
    whole = client.get(url)
    assert whole.status_code == 200 and whole["Content-Type"] == "video/mp4"
    assert _body(whole) == MP4
    part = client.get(url, HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206 and part["Content-Range"] == f"bytes 10-19/{len(MP4)}"
    assert _body(part) == MP4[10:20]
    _private(part)
    assert part["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in part["Content-Security-Policy"]
    assert client.get(url, HTTP_RANGE=f"bytes={len(MP4)}-").status_code == 416
    # Many range requests, one entry in the clinic's access log.
    viewed = created.share.accesses.filter(action=AccessAction.VIEWED_SERIES)
    assert viewed.count() == 1 and "Video" in viewed.get().detail


def test_a_shared_pdf_opens_framed_by_the_share_viewer_only(make_share, pdf):
    created = make_share()
    response = _opened(created).get(_media(created.share, pdf.sop_instance_uid))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert _body(response) == PDF
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in csp and "default-src 'none'" in csp
    _private(response)


def test_an_anonymized_share_plays_the_video_but_opens_no_pdf(make_share, study, video, pdf):
    created = make_share(anonymize=True)
    client = _opened(created)
    anonymizer = Anonymizer(created.share.salt)
    # The video under the share's replacement UID only; its real UID is unknown here.
    shown = anonymizer.uid(video.sop_instance_uid)
    assert _body(client.get(_media(created.share, shown))) == MP4
    assert client.get(_media(created.share, video.sop_instance_uid)).status_code == 404
    for uid in (pdf.sop_instance_uid, anonymizer.uid(pdf.sop_instance_uid)):
        assert client.get(_media(created.share, uid)).status_code == 404
    config = client.get(f"/share/v/{created.share.pk}/viewer").context["viewer_config"]
    media = {row["description"]: row["media"] for row in config["series"]}
    assert media["Video"] == {"kind": "video", "url": _media(created.share, shown)}
    assert "Documents (PDF)" not in media
    assert video.sop_instance_uid not in str(config)


def test_nothing_outside_the_share_is_served(make_share, study, other_study, video, pdf):
    image_series = series_uids(study)[0]
    created = make_share(series_uids=[image_series])
    client = _opened(created)
    for instance in (video, pdf):  # series that were not shared
        assert client.get(_media(created.share, instance.sop_instance_uid)).status_code == 404
    # Another study's video, through this share or through that study's share not opened here.
    theirs = _attach(other_study, video_mp4(frames=6), "other.mp4")
    whole = make_share()
    client = _opened(whole)
    assert client.get(_media(whole.share, video.sop_instance_uid)).status_code == 200
    assert client.get(_media(whole.share, theirs.sop_instance_uid)).status_code == 404
    other_share = make_share(study=other_study).share
    assert client.get(_media(other_share, theirs.sop_instance_uid)).status_code == 404
    # An image is not media, even inside the share.
    image = Instance.objects.filter(series__series_instance_uid=image_series).first()
    assert client.get(_media(whole.share, image.sop_instance_uid)).status_code == 404


def test_a_revoked_or_expired_share_or_a_fresh_browser_gets_nothing(make_share, video, pdf):
    created = make_share()
    client = _opened(created)
    url = _media(created.share, video.sop_instance_uid)
    assert client.get(url).status_code == 200
    assert Client().get(url).status_code == 404  # never opened the link
    shares.share_revoke(share=created.share)
    assert client.get(url).status_code == 404
    expiring = make_share()
    client = _opened(expiring)
    url = _media(expiring.share, pdf.sop_instance_uid)
    assert client.get(url).status_code == 200
    expiring.share.expires_at = timezone.now() - timedelta(minutes=1)
    expiring.share.save(update_fields=["expires_at"])
    response = client.get(url)
    assert response.status_code == 404 and response["Cache-Control"] == "no-store, private"


def test_the_share_viewer_is_told_where_its_video_and_pdf_are(make_share, study, video, pdf):
    created = make_share()
    client = _opened(created)
    page = client.get(f"/share/v/{created.share.pk}/viewer")
    config = page.context["viewer_config"]
    rows = {row["description"]: row for row in config["series"]}
    assert rows["Video"]["media"] == {
        "kind": "video",
        "url": _media(created.share, video.sop_instance_uid),
    }
    assert rows["Documents (PDF)"]["media"] == {
        "kind": "document",
        "url": _media(created.share, pdf.sop_instance_uid),
    }
    assert rows["Documents (PDF)"]["thumbnail"] == ""  # not in the share's DICOMweb door
    assert rows["Thorax VD"]["media"] is None and rows["Thorax VD"]["thumbnail"]
    for row in config["series"]:
        if row["media"]:
            assert client.get(row["media"]["url"]).status_code == 200


def test_only_the_viewer_page_may_play_and_frame_media(make_share, video):
    created = make_share()
    client = _opened(created)
    viewer = client.get(f"/share/v/{created.share.pk}/viewer")["Content-Security-Policy"]
    assert "media-src 'self'" in viewer and "frame-src 'self'" in viewer
    assert "frame-ancestors 'none'" in viewer
    study_page = client.get(f"/share/v/{created.share.pk}/")
    assert study_page.status_code == 200
    csp = study_page["Content-Security-Policy"]
    assert "media-src" not in csp and "frame-src" not in csp
    assert study_page["X-Frame-Options"] == "DENY"


def test_the_signed_reports_own_pdf_never_opens_in_the_share_viewer(make_share, study, vet, pdf):
    report = report_start(study=study, user=vet)
    report_save(report=report, findings="Normal heart.", impression="No disease.", user=vet)
    report_sign(report=report, user=vet)
    report.refresh_from_db()
    stored = Instance.objects.get(sop_instance_uid=report.dicom_sop_instance_uid)
    created = make_share(include_report=True)
    client = _opened(created)
    assert client.get(_media(created.share, stored.sop_instance_uid)).status_code == 404
    assert client.get(_media(created.share, pdf.sop_instance_uid)).status_code == 200
    config = client.get(f"/share/v/{created.share.pk}/viewer").context["viewer_config"]
    assert [row["description"] for row in config["series"] if row["media"]] == ["Documents (PDF)"]
