"""The consultants directory page, and the admin pages of the sharing models."""

import pytest
from django.test import Client

from sharing.models import Consultant

pytestmark = pytest.mark.django_db


def test_a_vet_adds_and_edits_a_consultant(vet):
    client = Client()
    client.force_login(vet)
    response = client.post("/consultants/", {"name": "Dr Bone", "practice": "Ortho Referrals",
                           "specialty": "Orthopedics", "email": "bone@example.org",
                           "active": "on"})  # fmt: skip
    assert response.status_code == 302
    consultant = Consultant.objects.get()
    assert consultant.specialty == "Orthopedics"
    client.post(f"/consultants/{consultant.pk}/", {"name": "Dr Bone", "email": "b@example.org",
                                                    "active": "on"})  # fmt: skip
    consultant.refresh_from_db()
    assert consultant.email == "b@example.org"
    assert "Dr Bone" in client.get("/consultants/").content.decode()


@pytest.mark.parametrize("person", ["tech", "front_desk", "outsider"])
def test_others_do_not_see_the_directory(person, request):
    client = Client()
    client.force_login(request.getfixturevalue(person))
    assert client.get("/consultants/").status_code == 403


def test_the_admin_lists_shares_without_their_credentials(administrator, make_share):
    administrator.is_staff = True
    administrator.save()
    created = make_share(passcode="blue-whale")
    client = Client()
    client.force_login(administrator)
    assert client.get("/admin/sharing/share/").status_code == 200
    page = client.get(f"/admin/sharing/share/{created.share.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert created.share.token_hash not in body and created.share.salt not in body
    assert created.share.passcode_hash not in body
    assert client.get("/admin/sharing/consultant/").status_code == 200
    assert client.get("/admin/sharing/consultreply/").status_code == 200
