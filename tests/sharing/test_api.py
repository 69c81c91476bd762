"""The sharing REST API: consultants, shares (link returned once), revoke, access log, replies,
permissions, and the OpenAPI schema."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from sharing import shares
from sharing.models import Consultant, Share

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_vets_manage_the_consultants_directory(vet, tech):
    created = _api(vet).post("/api/consultants/", {"name": "Dr Heart", "practice": "Cardio Vets",
                             "specialty": "Cardiology", "email": "heart@example.org"})  # fmt: skip
    assert created.status_code == 201
    pk = created.json()["id"]
    assert _api(vet).patch(f"/api/consultants/{pk}/", {"phone": "555"}).status_code == 200
    assert Consultant.objects.get().phone == "555"
    assert _api(tech).post("/api/consultants/", {"name": "X", "email": "x@example.org"}
                           ).status_code == 403  # fmt: skip
    assert _api(tech).get("/api/consultants/").status_code == 403


def test_a_vet_shares_through_the_api_and_gets_the_link_once(vet, study, mailoutbox):
    consultant = Consultant.objects.create(name="Dr Heart", email="heart@example.org")
    response = _api(vet).post(
        f"/api/studies/{study.pk}/shares/",
        {"consultant": consultant.pk, "question": "VHS?", "passcode": "blue-whale",
         "anonymize": True, "expires_days": 5},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.content
    body = response.json()
    token = body["url"].split("/share/", 1)[1].strip("/")
    share = Share.objects.get()
    assert shares.share_by_token(token) == share
    assert share.email == "heart@example.org" and share.anonymize and body["has_passcode"]
    assert "blue-whale" not in response.content.decode() and "token_hash" not in body
    assert mailoutbox[0].to == ["heart@example.org"]
    listed = _api(vet).get(f"/api/studies/{study.pk}/shares/").json()
    assert [s["id"] for s in listed] == [share.pk] and "url" not in listed[0]
    assert token not in str(listed)
    Client().get(body["url"].split("testserver", 1)[-1], follow=True)
    log = _api(vet).get(f"/api/shares/{share.pk}/access-log/").json()
    assert log == []  # a passcode share is not "opened" before the passcode
    revoked = _api(vet).post(f"/api/shares/{share.pk}/revoke")
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"


def test_bad_requests_are_400(vet, study):
    response = _api(vet).post(f"/api/studies/{study.pk}/shares/", {"expires_days": 9999},
                              format="json")  # fmt: skip
    assert response.status_code == 400


@pytest.mark.parametrize("person", ["tech", "front_desk", "outsider"])
def test_only_veterinarians_create_shares_through_the_api(person, request, study):
    user = request.getfixturevalue(person)
    response = _api(user).post(f"/api/studies/{study.pk}/shares/", {"email": "a@example.org"},
                               format="json")  # fmt: skip
    assert response.status_code == 403 and not Share.objects.exists()


def test_anonymous_callers_get_401_or_403(study):
    assert APIClient().get(f"/api/studies/{study.pk}/shares/").status_code in (401, 403)


def test_the_schema_lists_the_sharing_api(vet):
    schema = _api(vet).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path in ("/api/consultants/", "/api/studies/{id}/shares/", "/api/shares/{id}/revoke",
                 "/api/shares/{id}/access-log/", "/api/studies/{id}/consult-replies/"):  # fmt: skip
        assert path in schema["paths"], path
