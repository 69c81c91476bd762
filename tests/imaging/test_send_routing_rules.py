"""Managing auto-routing rules: the administrators' page and the REST API, and who may use them."""

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from imaging.models import Destination, Device, RoutingRule

pytestmark = pytest.mark.django_db


@pytest.fixture
def pacs() -> Destination:
    return Destination.objects.create(
        name="Clinic PACS", ae_title="PACS", host="10.0.0.5", port=104
    )


@pytest.fixture
def archive() -> Destination:
    return Destination.objects.create(name="Archive", ae_title="ARCH", host="10.0.0.6", port=104)


def _api(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_an_administrator_adds_edits_and_deletes_a_rule_on_the_page(client, administrator, pacs):
    client.force_login(administrator)
    device = Device.objects.create(name="Thorax DR", ae_title="DR_ROOM1")
    page = client.get("/routing-rules/").content.decode()
    assert "No rules yet" in page and "Add a rule" in page

    answer = client.post(
        "/routing-rules/",
        {
            "name": "Thorax to PACS",
            "destinations": [pacs.pk],
            "device": device.pk,
            "modality": "DX",
            "procedure": "Thorax",
            "quiet_seconds": 90,
            "active": "on",
        },
    )
    assert answer.status_code == 302
    rule = RoutingRule.objects.get()
    assert list(rule.destinations.all()) == [pacs]
    assert (rule.device, rule.modality, rule.procedure, rule.quiet_seconds) == (
        device,
        "DX",
        "Thorax",
        90,
    )
    page = client.get("/routing-rules/").content.decode()
    assert "Thorax to PACS" in page and "from Thorax DR" in page and "Clinic PACS" in page

    answer = client.post(
        f"/routing-rules/{rule.pk}/",
        {"name": "Thorax to PACS", "destinations": [pacs.pk], "body_part": "CHEST",
         "quiet_seconds": 30},
    )  # fmt: skip
    assert answer.status_code == 302
    rule.refresh_from_db()
    assert (rule.body_part, rule.modality, rule.active) == ("CHEST", "", False)

    assert client.post(f"/routing-rules/{rule.pk}/delete").status_code == 302
    assert not RoutingRule.objects.exists()


def test_a_rule_without_a_destination_is_refused_with_the_reason(client, administrator):
    client.force_login(administrator)
    answer = client.post("/routing-rules/", {"name": "Nowhere", "quiet_seconds": 60})
    assert answer.status_code == 200
    assert "This field is required" in answer.content.decode()
    assert not RoutingRule.objects.exists()


def test_technicians_and_outsiders_cannot_open_or_change_rules(client, tech, outsider, pacs):
    rule = RoutingRule.objects.create(name="All to PACS")
    rule.destinations.add(pacs)
    for user in (tech, outsider):
        client.force_login(user)
        assert client.get("/routing-rules/").status_code == 403
        assert client.post(f"/routing-rules/{rule.pk}/delete").status_code == 403
        assert client.post(f"/routing-rules/{rule.pk}/", {"name": "x"}).status_code == 403
    assert RoutingRule.objects.get().name == "All to PACS"


def test_an_administrator_manages_rules_through_the_api(administrator, pacs, archive):
    api = _api(administrator)
    created = api.post(
        "/api/routing-rules/",
        {"name": "CT to archive", "destinations": [archive.pk, pacs.pk], "modality": "CT"},
        format="json",
    )
    assert created.status_code == 201, created.data
    pk = created.data["id"]
    assert sorted(created.data["destinations"]) == sorted([archive.pk, pacs.pk])
    assert created.data["quiet_seconds"] == 120
    listed = api.get("/api/routing-rules/")
    assert [r["name"] for r in listed.data["results"]] == ["CT to archive"]
    patched = api.patch(
        f"/api/routing-rules/{pk}/", {"destinations": [archive.pk], "quiet_seconds": 10}
    , format="json")  # fmt: skip
    assert patched.status_code == 200, patched.data
    rule = RoutingRule.objects.get(pk=pk)
    assert list(rule.destinations.all()) == [archive] and rule.quiet_seconds == 10
    empty = api.patch(f"/api/routing-rules/{pk}/", {"destinations": []}, format="json")
    assert empty.status_code == 400 and "destinations" in empty.data
    assert api.delete(f"/api/routing-rules/{pk}/").status_code == 204
    assert not RoutingRule.objects.exists()


def test_the_api_refuses_rules_to_those_without_the_permission(tech, outsider, pacs):
    RoutingRule.objects.create(name="All to PACS").destinations.add(pacs)
    for user in (tech, outsider):
        api = _api(user)
        assert api.get("/api/routing-rules/").status_code == 403
        body = {"name": "Mine", "destinations": [pacs.pk]}
        assert api.post("/api/routing-rules/", body, format="json").status_code == 403
    assert APIClient().get("/api/routing-rules/").status_code in (401, 403)
    assert RoutingRule.objects.count() == 1


def test_the_schema_lists_the_routing_rule_endpoints(tmp_path):
    schema = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--file", str(schema))
    text = schema.read_text()
    assert "/api/routing-rules/:" in text and "/api/routing-rules/{id}/:" in text
    assert "RoutingRule:" in text
