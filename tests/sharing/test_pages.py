"""The specialist's pages: link, passcode, study page, download, reply; headers; refusals that
show nothing; the token never in a log; the clinic's panel."""

import io
import logging
import zipfile
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from imaging.models import StudyEvent
from sharing import shares
from sharing.models import AccessAction, ConsultReply, Share

pytestmark = pytest.mark.django_db


def _follow(client: Client, path: str):
    return client.get(path, follow=True, HTTP_USER_AGENT="SpecialistBrowser/1.0")


def _assert_protected(response):
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["X-Frame-Options"] == "DENY"
    assert "no-store" in response["Cache-Control"]
    csp = response["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp


def _shows_nothing(response, study):
    body = response.content.decode()
    for secret in ("Rex", "Labrador", study.study_instance_uid, "Thorax"):
        assert secret not in body


def test_a_link_without_passcode_opens_the_study_page(make_share, study):
    created = make_share(question="Cardiomegaly? Please assess the VHS.")
    response = _follow(Client(), created.path)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == f"/share/v/{created.share.pk}/"
    body = response.content.decode()
    assert "Rex" in body and "Labrador Retriever" in body and "Cardiomegaly?" in body
    assert "Thorax R LAT" in body and "Thorax VD" in body
    assert created.token not in body
    _assert_protected(response)
    access = created.share.accesses.get()
    assert access.action == AccessAction.OPENED and access.user_agent == "SpecialistBrowser/1.0"
    assert access.ip == "127.0.0.1"


def test_the_passcode_page_shows_nothing_until_the_right_passcode(make_share, study):
    created = make_share(passcode="blue-whale")
    client = Client()
    page = _follow(client, created.path)
    assert page.redirect_chain[-1][0].endswith("/passcode")
    _shows_nothing(page, study)
    _assert_protected(page)
    assert client.get(f"/share/v/{created.share.pk}/").status_code == 404
    wrong = client.post(f"/share/v/{created.share.pk}/passcode", {"passcode": "red-whale"})
    assert wrong.status_code == 403 and "not right" in wrong.content.decode()
    _shows_nothing(wrong, study)
    right = client.post(f"/share/v/{created.share.pk}/passcode", {"passcode": "blue-whale"},
                        follow=True)  # fmt: skip
    assert right.status_code == 200 and "Rex" in right.content.decode()


def test_the_passcode_page_needs_the_link_first(make_share, study):
    created = make_share(passcode="blue-whale")
    response = Client().post(f"/share/v/{created.share.pk}/passcode", {"passcode": "blue-whale"})
    assert response.status_code == 403
    assert not Share.objects.get(pk=created.share.pk).accesses.exists()


def test_lockout_refuses_even_the_right_passcode(make_share, study, settings):
    settings.SHARE_PASSCODE_ATTEMPTS = 2
    created = make_share(passcode="blue-whale")
    client = Client()
    _follow(client, created.path)
    url = f"/share/v/{created.share.pk}/passcode"
    client.post(url, {"passcode": "a1234"})
    locked = client.post(url, {"passcode": "b1234"})
    assert locked.status_code == 429 and "locked" in locked.content.decode()
    again = client.post(url, {"passcode": "blue-whale"})
    assert again.status_code == 429
    _shows_nothing(again, study)


@pytest.mark.parametrize("closing", ["revoke", "expire"])
def test_revoked_or_expired_links_show_nothing_and_take_effect_on_the_next_request(
    make_share, study, closing
):
    created = make_share()
    client = Client()
    assert _follow(client, created.path).status_code == 200
    if closing == "revoke":
        shares.share_revoke(share=created.share)
    else:
        Share.objects.filter(pk=created.share.pk).update(expires_at=timezone.now())
    for path in (f"/share/v/{created.share.pk}/", f"/share/v/{created.share.pk}/download.zip"):
        response = client.get(path)
        assert response.status_code == 404
        _shows_nothing(response, study)
        _assert_protected(response)
    again = _follow(Client(), created.path)
    assert again.status_code == 410
    _shows_nothing(again, study)
    assert created.share.accesses.filter(action=AccessAction.REFUSED).exists()


def test_the_token_never_appears_in_any_log(make_share, study):
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep(level=logging.DEBUG)
    names = [None, "django", "django.request", "django.server", "sharing", "imaging"]
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        good = make_share(passcode="blue-whale")
        client = Client()
        _follow(client, good.path)
        client.post(f"/share/v/{good.share.pk}/passcode", {"passcode": "wrong-one"})
        client.post(f"/share/v/{good.share.pk}/passcode", {"passcode": "blue-whale"})
        revoked = make_share()
        shares.share_revoke(share=revoked.share)
        _follow(Client(), revoked.path)
        _follow(Client(), "/share/" + good.token[:-2] + "zz/")  # an unknown token
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
    text = "\n".join(r.getMessage() + str(r.args) + str(getattr(r, "request", "")) for r in records)
    assert "created" in text and "refused" in text  # the flow was logged...
    for token in (good.token, revoked.token, good.token[:-2]):
        assert token not in text  # ...without the token


def test_download_streams_a_zip_and_is_logged(make_share, study):
    created = make_share()
    client = Client()
    _follow(client, created.path)
    response = client.get(f"/share/v/{created.share.pk}/download.zip")
    assert response.status_code == 200 and response.streaming
    _assert_protected(response)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert "DICOMDIR" in archive.namelist() and len(archive.namelist()) == 5
    assert created.share.accesses.filter(action=AccessAction.DOWNLOADED).count() == 1


def test_a_view_only_share_offers_no_download(make_share, study):
    created = make_share(allow_download=False)
    client = Client()
    page = _follow(client, created.path)
    assert "download.zip" not in page.content.decode()
    assert client.get(f"/share/v/{created.share.pk}/download.zip").status_code == 404


def test_a_reply_lands_in_the_study_notifies_the_vet_and_shows_on_the_study_page(
    make_share, study, vet, mailoutbox, django_capture_on_commit_callbacks
):
    vet.email = "vet@clinic.example"
    vet.save()
    created = make_share()
    client = Client()
    _follow(client, created.path)
    upload = SimpleUploadedFile("echo.txt", b"LV dilated", content_type="text/plain")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/share/v/{created.share.pk}/reply",
            {"author": "Dr Heart", "findings": "VHS 11.8.", "impression": "Cardiomegaly.",
             "attachments": [upload]},
        )  # fmt: skip
    assert response.status_code == 302
    reply = ConsultReply.objects.get()
    assert reply.study == study and reply.author == "Dr Heart"
    assert reply.attachments.get().file.read() == b"LV dilated"
    assert StudyEvent.objects.filter(study=study, kind="consult").exists()
    assert [m.to for m in mailoutbox] == [["vet@clinic.example"]]
    assert "VHS 11.8." in mailoutbox[0].body
    assert created.share.accesses.filter(action=AccessAction.REPLIED).exists()
    staff = Client()
    staff.force_login(vet)
    page = staff.get(study.get_absolute_url()).content.decode()
    assert "VHS 11.8." in page and "Cardiomegaly." in page and "echo.txt" in page
    assert "Replied" in page and "Opened" in page


def test_an_empty_reply_is_refused(make_share, study):
    created = make_share()
    client = Client()
    _follow(client, created.path)
    response = client.post(f"/share/v/{created.share.pk}/reply", {"findings": " "})
    assert response.status_code == 400 and not ConsultReply.objects.exists()


def test_a_vet_creates_a_share_from_the_study_page_and_sees_link_and_passcode_once(
    study, vet, mailoutbox
):
    client = Client()
    client.force_login(vet)
    page = client.get(study.get_absolute_url()).content.decode()
    assert "Share with a specialist" in page
    response = client.post(
        f"/studies/{study.pk}/share",
        {"email": "derm@example.org", "question": "Skin?", "expires_days": "7",
         "generate_passcode": "on", "anonymize": "on"},
    )  # fmt: skip
    assert response.status_code == 200
    _assert_protected(response)
    share = Share.objects.get()
    body = response.content.decode()
    token = body.split("/share/", 1)[1].split("/", 1)[0]
    assert shares.share_by_token(token) == share
    assert share.anonymize and share.has_passcode
    assert share.expires_at - timezone.now() < timedelta(days=7, minutes=1)
    assert mailoutbox[0].to == ["derm@example.org"] and token in mailoutbox[0].body
    again = client.get(study.get_absolute_url()).content.decode()
    assert token not in again and "derm@example.org" in again and "Active" in again
    client.post(f"/shares/{share.pk}/revoke")
    assert Share.objects.get().revoked_at is not None


@pytest.mark.parametrize("person", ["tech", "front_desk", "outsider"])
def test_only_veterinarians_share(study, person, request):
    client = Client()
    client.force_login(request.getfixturevalue(person))
    response = client.post(f"/studies/{study.pk}/share", {"email": "x@example.org"})
    assert response.status_code == 403 and not Share.objects.exists()


def test_share_forms_still_need_the_csrf_token(make_share, study):
    """Browsers post with `Origin: null` under no-referrer; the token still decides."""
    created = make_share(passcode="blue-whale")
    client = Client(enforce_csrf_checks=True)
    page = _follow(client, created.path)
    token = page.context["csrf_token"]
    url = f"/share/v/{created.share.pk}/passcode"
    refused = client.post(url, {"passcode": "blue-whale"}, HTTP_ORIGIN="null")
    assert refused.status_code == 403 and "CSRF" in refused.content.decode()
    accepted = client.post(
        url, {"passcode": "blue-whale", "csrfmiddlewaretoken": str(token)}, HTTP_ORIGIN="null"
    )
    assert accepted.status_code == 302


def test_the_viewer_page_reads_and_measures_through_the_share(make_share, study):
    import json as jsonlib

    created = make_share(anonymize=True)
    client = Client()
    _follow(client, created.path)
    page = client.get(f"/share/v/{created.share.pk}/viewer")
    assert page.status_code == 200
    _assert_protected(page)
    assert "'wasm-unsafe-eval'" in page["Content-Security-Policy"]
    body = page.content.decode()
    script = body.split('id="viewer-config"', 1)[1].split(">", 1)[1].split("</script>", 1)[0]
    config = jsonlib.loads(script)
    assert config["dicomweb"] == f"/share/v/{created.share.pk}/dicomweb"
    assert study.study_instance_uid not in body and "Rex" not in body and "Smith" not in body
    assert config["patient"]["species"] == "Canine"
    annotations = config["api"]["annotations"]
    assert annotations == config["api"]["annotation"] == f"/share/v/{created.share.pk}/annotations/"
    assert client.get(annotations).json() == []
    assert client.post(annotations, {}, content_type="application/json").status_code == 400
    assert Client().get(annotations).status_code == 401
    assert Client().get(f"/share/v/{created.share.pk}/viewer").status_code == 404
