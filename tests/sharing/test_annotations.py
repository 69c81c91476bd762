"""A specialist measures under a share: marks saved under the share, in its scope only, the
clinic's read-only, seen by the clinic as the specialist's, refused once the share is closed,
and anonymized shares speak only their replacement UIDs."""

from datetime import datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from imaging.annotations import annotation_create
from imaging.models import Annotation, Instance
from sharing import shares
from sharing.anonymize import Anonymizer
from sharing.models import AccessAction, Consultant
from tests.sharing.conftest import series_uids

pytestmark = pytest.mark.django_db
LENGTH = {"points": [[1, 1], [10, 1]]}


class Specialist:
    """A fresh browser that opened the link; posts as the viewer does (JSON, CSRF header, and
    `Origin: null` as browsers send it under `Referrer-Policy: no-referrer`)."""

    def __init__(self, created: shares.Created):
        self.client = Client(enforce_csrf_checks=True)
        page = self.client.get(created.path, follow=True)
        assert page.status_code == 200
        self.client.get(f"/share/v/{created.share.pk}/viewer")
        self.token = self.client.cookies["csrftoken"].value
        self.url = f"/share/v/{created.share.pk}/annotations/"

    def _headers(self, token: bool = True) -> dict:
        headers = {"HTTP_ORIGIN": "null"}
        if token:
            headers["HTTP_X_CSRFTOKEN"] = self.token
        return headers

    def list(self):
        return self.client.get(self.url)

    def draw(self, uid: str, tool: str = "length", geometry=None, *, token: bool = True):
        body = {"sop_instance_uid": uid, "frame": 1, "tool": tool, "geometry": geometry or LENGTH}
        return self.client.post(
            self.url, body, content_type="application/json", **self._headers(token)
        )

    def change(self, pk: int, body: dict, *, url: str | None = None):
        return self.client.patch(
            f"{url or self.url}{pk}/", body, content_type="application/json", **self._headers()
        )

    def delete(self, pk: int, *, url: str | None = None):
        return self.client.delete(f"{url or self.url}{pk}/", **self._headers())


def first_image(series_uid: str) -> Instance:
    return Instance.objects.filter(series__series_instance_uid=series_uid).first()


def clinic_length(study, vet, series_uid: str) -> Annotation:
    return annotation_create(study=study, author=vet, sop_instance_uid=first_image(series_uid)
                             .sop_instance_uid, frame=1, tool="length", geometry=LENGTH)  # fmt: skip


def values(payload) -> dict:
    return {v["name"]: (v["value"], v["unit"]) for v in payload["values"]}


@pytest.fixture
def dr_jones(db) -> Consultant:
    return Consultant.objects.create(name="Dr Jones", specialty="Cardiology",
                                     email="jones@example.org")  # fmt: skip


def test_a_specialists_measurement_is_saved_under_the_share_and_measured(
    make_share, study, dr_jones
):
    created = make_share(consultant=dr_jones, email="")
    specialist = Specialist(created)
    image = first_image(series_uids(study)[0])
    response = specialist.draw(image.sop_instance_uid)
    assert response.status_code == 201, response.content
    body = response.json()
    assert values(body)["length"] == (9.0, "px")
    assert body["calibration_source"] == "none"
    assert body["can_edit"] is True and body["via_share"] is True
    assert body["author"] == {"id": None, "name": "Dr Jones (specialist, via share)"}
    assert body["sop_instance_uid"] == image.sop_instance_uid
    saved = Annotation.objects.get(pk=body["id"])
    assert saved.share_key == f"share:{created.share.pk}" and saved.author is None
    assert saved.instance == image
    assert [a["id"] for a in specialist.list().json()] == [body["id"]]

    changed = specialist.change(body["id"], {"geometry": {"points": [[1, 1], [1, 21]]}})
    assert changed.status_code == 200 and values(changed.json())["length"] == (20.0, "px")
    logged = created.share.accesses.filter(action=AccessAction.MEASURED)
    assert [a.detail for a in logged.order_by("pk")] == [
        f"drew length (#{body['id']})",
        f"changed length (#{body['id']})",
    ]
    assert specialist.delete(body["id"]).status_code == 204
    assert not Annotation.objects.filter(pk=body["id"]).exists()
    assert logged.order_by("-pk").first().detail == f"deleted length (#{body['id']})"
    assert specialist.list().json() == []


def test_saving_needs_the_csrf_token(make_share, study):
    specialist = Specialist(make_share())
    image = first_image(series_uids(study)[0])
    refused = specialist.draw(image.sop_instance_uid, token=False)
    assert refused.status_code == 403 and "CSRF" in refused.content.decode()
    assert not Annotation.objects.exists()


def test_the_clinics_annotations_are_read_only_under_the_share(make_share, study, vet):
    shown = series_uids(study)[0]
    clinic = clinic_length(study, vet, shown)
    specialist = Specialist(make_share(include_annotations=True))
    listed = specialist.list().json()
    assert [(a["id"], a["can_edit"]) for a in listed] == [(clinic.pk, False)]
    assert listed[0]["author"] == {"id": vet.pk, "name": "vet"}
    assert specialist.change(clinic.pk, {"text": "mine now"}).status_code == 403
    assert specialist.delete(clinic.pk).status_code == 403
    clinic.refresh_from_db()
    assert clinic.text == "" and clinic.share_key == ""


def test_a_share_without_annotations_does_not_see_the_clinics(make_share, study, vet):
    clinic = clinic_length(study, vet, series_uids(study)[0])
    specialist = Specialist(make_share())
    assert specialist.list().json() == []
    assert specialist.change(clinic.pk, {"text": "x"}).status_code == 404
    assert specialist.delete(clinic.pk).status_code == 404
    assert Annotation.objects.filter(pk=clinic.pk).exists()


def test_a_share_cannot_touch_another_shares_marks(make_share, study):
    image = first_image(series_uids(study)[0])
    first, second = make_share(include_annotations=True), make_share(include_annotations=True)
    one, other = Specialist(first), Specialist(second)
    theirs = one.draw(image.sop_instance_uid).json()
    assert other.list().json() == []
    assert other.change(theirs["id"], {"text": "x"}).status_code == 404
    assert other.delete(theirs["id"]).status_code == 404
    # Nor through the first share's door, which this browser was never given.
    assert other.change(theirs["id"], {"text": "x"}, url=one.url).status_code == 401
    assert other.delete(theirs["id"], url=one.url).status_code == 401
    assert Annotation.objects.get(pk=theirs["id"]).text == ""


def test_the_clinic_sees_the_specialists_mark_as_the_specialists(make_share, study, vet, dr_jones):
    image = first_image(series_uids(study)[0])
    specialist = Specialist(make_share(consultant=dr_jones, email=""))
    drawn = specialist.draw(image.sop_instance_uid).json()
    staff = APIClient()
    staff.force_login(vet)
    listed = staff.get(f"/api/studies/{study.pk}/annotations/").json()
    [mark] = [a for a in listed if a["id"] == drawn["id"]]
    assert mark["author"] == {"id": None, "name": "Dr Jones (specialist, via share)"}
    assert mark["via_share"] is True and mark["can_edit"] is False
    assert values(mark)["length"] == (9.0, "px")
    assert staff.patch(f"/api/annotations/{drawn['id']}/", {"text": "x"}, format="json").status_code == 403  # fmt: skip
    assert staff.delete(f"/api/annotations/{drawn['id']}/").status_code == 403
    assert Annotation.objects.filter(pk=drawn["id"], text="").exists()


def test_the_share_session_does_not_open_the_staff_annotation_api(make_share, study):
    image = first_image(series_uids(study)[0])
    specialist = Specialist(make_share())
    drawn = specialist.draw(image.sop_instance_uid).json()
    client = specialist.client
    assert client.get(f"/api/annotations/{drawn['id']}/").status_code in (401, 403)
    assert client.get(f"/api/studies/{study.pk}/annotations/").status_code in (401, 403)


@pytest.mark.parametrize("closing", ["revoke", "expire"])
def test_a_closed_share_reads_and_saves_nothing(make_share, study, vet, closing):
    created = make_share()
    specialist = Specialist(created)
    image = first_image(series_uids(study)[0])
    drawn = specialist.draw(image.sop_instance_uid).json()
    if closing == "revoke":
        shares.share_revoke(share=created.share, user=vet)
    else:
        created.share.expires_at = timezone.now() - timedelta(minutes=1)
        created.share.save(update_fields=["expires_at"])
    assert specialist.list().status_code == 401
    assert specialist.draw(image.sop_instance_uid).status_code == 401
    assert specialist.change(drawn["id"], {"text": "late"}).status_code == 401
    assert specialist.delete(drawn["id"]).status_code == 401
    assert Annotation.objects.filter(study=study).count() == 1
    assert Annotation.objects.get().text == ""


def test_images_outside_the_share_are_refused(make_share, study, other_study, vet):
    shown, hidden = series_uids(study)
    clinic_hidden = clinic_length(study, vet, hidden)
    specialist = Specialist(make_share(series_uids=[shown], include_annotations=True))
    elsewhere = first_image(series_uids(other_study)[0])
    for uid in (elsewhere.sop_instance_uid, first_image(hidden).sop_instance_uid, "1.2.3"):
        refused = specialist.draw(uid)
        assert refused.status_code == 400
        assert "sop_instance_uid" in refused.json()
    assert not Annotation.objects.exclude(pk=clinic_hidden.pk).exists()
    assert specialist.list().json() == []
    assert specialist.change(clinic_hidden.pk, {"text": "x"}).status_code == 404


def test_an_anonymized_share_draws_and_reads_by_its_replacement_uids(make_share, study, vet):
    shown = series_uids(study)[0]
    clinic = clinic_length(study, vet, shown)
    created = make_share(anonymize=True, include_annotations=True, series_uids=[shown])
    anonymizer = Anonymizer(created.share.salt)
    image = first_image(shown)
    specialist = Specialist(created)

    assert specialist.draw(image.sop_instance_uid).status_code == 400  # the real UID is unknown
    response = specialist.draw(anonymizer.uid(image.sop_instance_uid))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sop_instance_uid"] == anonymizer.uid(image.sop_instance_uid)
    assert body["series_instance_uid"] == anonymizer.uid(shown)
    assert Annotation.objects.get(pk=body["id"]).instance == image

    listed = specialist.list()
    text = listed.content.decode()
    assert image.sop_instance_uid not in text and shown not in text and "vet" not in text
    rows = {a["id"]: a for a in listed.json()}
    assert set(rows) == {clinic.pk, body["id"]}
    assert rows[clinic.pk]["author"] == {"id": None, "name": "Clinic"}
    assert rows[clinic.pk]["sop_instance_uid"] == anonymizer.uid(image.sop_instance_uid)
    assert rows[clinic.pk]["can_edit"] is False and rows[body["id"]]["can_edit"] is True
    # Like every date of the share, the times are moved by the share's shift.
    shown_at = datetime.fromisoformat(rows[clinic.pk]["created_at"])
    assert shown_at == clinic.created_at + anonymizer.shift

    changed = specialist.change(body["id"], {"text": "cardiomegaly?"})
    assert changed.status_code == 200
    assert changed.json()["sop_instance_uid"] == anonymizer.uid(image.sop_instance_uid)
    staff = APIClient()
    staff.force_login(vet)
    [mark] = [
        a for a in staff.get(f"/api/studies/{study.pk}/annotations/").json() if a["via_share"]
    ]
    assert mark["sop_instance_uid"] == image.sop_instance_uid and mark["text"] == "cardiomegaly?"
