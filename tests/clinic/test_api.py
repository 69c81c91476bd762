"""The REST API for owners and patients, its authentication, and its OpenAPI schema and docs."""

import io
import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from clinic.models import Owner, Patient, Species

pytestmark = pytest.mark.django_db


def signed_in(user) -> APIClient:
    client = APIClient()
    client.default_format = "json"
    client.force_login(user)
    return client


def make_owner(last_name: str = "Smith", **fields) -> Owner:
    return Owner.objects.create(last_name=last_name, **fields)


def make_patient(
    name: str = "Rex", *, patient_id: str = "", owner: Owner | None = None, **fields
) -> Patient:
    return Patient.objects.create(
        name=name, patient_id=patient_id or f"P-{name.upper()}", owner=owner, **fields
    )


# Owners


def test_front_desk_finds_an_owner_by_name_or_phone(front_desk):
    make_owner("Smith", first_name="Anna", phone="555-0101")
    make_owner("Jones", organization="Hillside Farm", phone="555-0202")
    client = signed_in(front_desk)

    by_name = client.get("/api/owners/", {"q": "smi"}).json()
    by_phone = client.get("/api/owners/", {"q": "0202"}).json()
    by_farm = client.get("/api/owners/", {"q": "hillside"}).json()

    assert [o["display_name"] for o in by_name["results"]] == ["Anna Smith"]
    assert [o["last_name"] for o in by_phone["results"]] == ["Jones"]
    assert [o["last_name"] for o in by_farm["results"]] == ["Jones"]


def test_front_desk_adds_an_owner_and_corrects_their_phone(front_desk):
    client = signed_in(front_desk)

    created = client.post(
        "/api/owners/", {"last_name": "Müller", "first_name": "Eva", "phone": "555-0303"}
    )
    assert created.status_code == 201, created.json()
    owner_id = created.json()["id"]

    corrected = client.patch(f"/api/owners/{owner_id}/", {"phone": "555-9999"})
    assert corrected.status_code == 200
    assert corrected.json()["display_name"] == "Eva Müller"
    assert Owner.objects.get(pk=owner_id).phone == "555-9999"


def test_an_owner_without_a_last_name_is_refused_with_the_reason(front_desk):
    response = signed_in(front_desk).post("/api/owners/", {"first_name": "Eva"})

    assert response.status_code == 400
    assert "last_name" in response.json()


def test_an_outsider_sees_no_owners_and_cannot_add_one(outsider):
    make_owner()
    client = signed_in(outsider)

    assert client.get("/api/owners/").status_code == 403
    assert client.post("/api/owners/", {"last_name": "Smith"}).status_code == 403
    assert Owner.objects.count() == 1


# Patients


def test_front_desk_registers_a_patient_for_an_owner(front_desk):
    owner = make_owner("Smith", first_name="Anna")
    client = signed_in(front_desk)

    response = client.post(
        "/api/patients/",
        {
            "patient_id": "P-1001",
            "name": "Rex",
            "owner": owner.pk,
            "species": "canine",
            "breed": "Beagle",
        },
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["owner"] == {"id": owner.pk, "display_name": "Anna Smith", "phone": ""}
    assert body["species_label"] == "Canine"
    assert body["verified"] is True
    assert Patient.objects.get(patient_id="P-1001").owner == owner


def test_a_patient_id_is_taken_only_once_per_issuer(front_desk):
    make_patient("Rex", patient_id="P-1")
    client = signed_in(front_desk)

    again = client.post("/api/patients/", {"patient_id": "P-1", "name": "Bella"})
    other_issuer = client.post(
        "/api/patients/", {"patient_id": "P-1", "issuer": "SHELTER", "name": "Bella"}
    )

    assert again.status_code == 400
    assert "non_field_errors" in again.json()
    assert other_issuer.status_code == 201


def test_front_desk_corrects_a_patient_but_cannot_mark_it_verified_by_editing(front_desk):
    patient = make_patient("Rex", verified=False, dicom_name="SMITH^REX")

    response = signed_in(front_desk).patch(
        f"/api/patients/{patient.pk}/", {"breed": "Beagle", "verified": True}
    )

    assert response.status_code == 200
    patient.refresh_from_db()
    assert (patient.breed, patient.verified) == ("Beagle", False)


def test_patients_are_searched_by_animal_owner_phone_patient_id_and_microchip(front_desk):
    smith = make_owner("Smith", phone="555-0101")
    rex = make_patient("Rex", patient_id="P-1", owner=smith)
    bella = make_patient("Bella", patient_id="P-2", microchip="985112345678901")
    client = signed_in(front_desk)

    def found(text: str) -> list[str]:
        return [p["name"] for p in client.get("/api/patients/", {"q": text}).json()["results"]]

    assert found("re") == [rex.name]
    assert found("smith") == [rex.name]
    assert found("0101") == [rex.name]
    assert found("P-2") == [bella.name]
    assert found("985112345678901") == [bella.name]


def test_patients_are_filtered_by_species_verification_and_owner(tech):
    smith = make_owner("Smith")
    make_patient("Rex", owner=smith, species=Species.CANINE)
    make_patient("Tom", species=Species.FELINE, verified=False)
    make_patient("Bella", owner=smith, species=Species.FELINE)
    client = signed_in(tech)

    def names(**filters) -> list[str]:
        response = client.get("/api/patients/", filters)
        assert response.status_code == 200, response.json()
        return [p["name"] for p in response.json()["results"]]

    assert names(species="feline") == ["Bella", "Tom"]
    assert names(verified="false") == ["Tom"]
    assert names(verified="true", species="feline") == ["Bella"]
    assert names(owner=smith.pk) == ["Bella", "Rex"]


def test_an_unknown_species_filter_is_a_clear_400(front_desk):
    response = signed_in(front_desk).get("/api/patients/", {"species": "dragon"})

    assert response.status_code == 400
    assert "not a valid choice" in response.json()["species"][0]


def test_an_outsider_cannot_see_or_change_a_patient(outsider):
    patient = make_patient("Rex")
    client = signed_in(outsider)

    assert client.get("/api/patients/").status_code == 403
    assert client.get(f"/api/patients/{patient.pk}/").status_code == 403
    assert client.patch(f"/api/patients/{patient.pk}/", {"name": "Max"}).status_code == 403
    patient.refresh_from_db()
    assert patient.name == "Rex"


# Authentication


def test_unauthenticated_requests_are_refused():
    response = APIClient().get("/api/patients/")

    assert response.status_code in (401, 403)
    assert response.json()["detail"] == "Authentication credentials were not provided."


def test_token_authentication_works_with_a_token_from_drf_create_token(front_desk):
    make_patient("Rex")
    printed = io.StringIO()
    call_command("drf_create_token", front_desk.username, stdout=printed)
    key = Token.objects.get(user=front_desk).key
    assert key in printed.getvalue()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + key)

    response = client.get("/api/patients/")

    assert response.status_code == 200
    assert [p["name"] for p in response.json()["results"]] == ["Rex"]


def test_a_wrong_token_is_refused():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = client.get("/api/patients/")

    assert response.status_code in (401, 403)
    assert response.json()["detail"] == "Invalid token."


def test_session_writes_need_the_csrf_token(front_desk):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(front_desk)

    response = client.post("/api/owners/", {"last_name": "Smith"})

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Owner.objects.exists()


# Schema and docs


def test_the_openapi_schema_has_no_warnings_or_errors(tmp_path):
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )

    assert "/api/studies/" in (tmp_path / "schema.yaml").read_text()


def test_the_schema_is_served_at_api_schema_to_signed_in_users(client, tech):
    assert client.get("/api/schema/").status_code in (401, 403)
    client.force_login(tech)
    response = client.get("/api/schema/")

    assert response.status_code == 200
    assert b"/api/series/{id}/thumbnail" in response.content


def test_the_docs_page_works_without_internet(client, tech):
    """Swagger UI comes from the portal's own static files, never from a CDN."""
    client.force_login(tech)
    page = client.get("/api/docs/")

    assert page.status_code == 200
    html = page.content.decode()
    assert not re.search(r"""(src|href)=["']https?://""", html), (
        "docs page loads assets from the internet"
    )
    bundle = "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert "/static/" + bundle in html
    assert finders.find(bundle), "Swagger UI's files are not among the static files"
    assert client.get("/static/" + bundle).status_code == 200
