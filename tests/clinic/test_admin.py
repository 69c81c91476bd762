"""Administrators manage devices, destinations, routing and the procedure catalog in the admin."""

import pytest

from worklist.models import Procedure

pytestmark = pytest.mark.django_db

PAGES = [
    "/admin/clinic/owner/",
    "/admin/clinic/patient/",
    "/admin/imaging/device/",
    "/admin/imaging/destination/",
    "/admin/imaging/routingrule/",
    "/admin/imaging/study/",
    "/admin/imaging/sendjob/",
    "/admin/worklist/procedure/",
    "/admin/worklist/order/",
]


def test_an_administrator_opens_every_management_page(client, administrator):
    administrator.is_staff = True
    administrator.save()
    client.force_login(administrator)
    for page in PAGES:
        assert client.get(page).status_code == 200, page


def test_an_administrator_adds_a_procedure_with_its_views(client, administrator):
    administrator.is_staff = True
    administrator.save()
    client.force_login(administrator)
    response = client.post(
        "/admin/worklist/procedure/add/",
        {
            "code": "CARP2",
            "name": "Carpus 2-view",
            "modality": "DX",
            "body_part": "CARPUS",
            "coding_scheme": "VETPORTAL",
            "active": "on",
            "views-TOTAL_FORMS": "1",
            "views-INITIAL_FORMS": "0",
            "views-0-name": "Dorsopalmar",
            "views-0-order": "1",
            "views-0-view_positions": "DP",
            "views-0-description_patterns": "dorsopalmar, dp",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    carpus = Procedure.objects.get(code="CARP2")
    assert [v.name for v in carpus.views.all()] == ["Dorsopalmar"]


def test_a_technician_cannot_reach_the_admin(client, tech):
    client.force_login(tech)
    assert client.get("/admin/imaging/device/").status_code == 302  # to the admin login
