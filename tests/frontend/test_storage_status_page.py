"""The Storage page (administrators) and the low-space banner on staff pages, with the Django
client and once in headless Chromium on a tablet."""

import pytest
from django.urls import reverse

from imaging.ingest import instance_receive_dataset
from imaging.synthetic import encode, make_dataset

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _plenty_of_room(settings):
    settings.STORAGE_WARN_FREE_BYTES = 0
    settings.STORAGE_WARN_FREE_PERCENT = 0


def _signed_in(client, user):
    client.force_login(user)
    return client


def test_administrators_see_used_and_free_space_by_modality(client, administrator):
    dataset = encode(make_dataset(modality="CT", rows=32, columns=32))
    instance_receive_dataset(dataset=dataset, calling_ae="CT_ROOM")
    page = _signed_in(client, administrator).get(reverse("storage-status") + "?fresh=1")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Free space" in html
    assert "Stored images (instances)" in html
    assert "<td>CT</td><td>1</td>" in html
    assert "Images received by month" in html
    assert 'aria-current="page">Storage</a>' in html


@pytest.mark.parametrize("person", ["tech", "vet", "front_desk"])
def test_other_staff_may_not_open_it_nor_see_the_link(client, request, person):
    user = request.getfixturevalue(person)
    signed_in = _signed_in(client, user)
    assert signed_in.get(reverse("storage-status")).status_code == 403
    assert reverse("storage-status") not in signed_in.get(reverse("patient-list")).content.decode()


def test_signed_out_visitors_go_to_the_login_page(client):
    response = client.get(reverse("storage-status"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_no_banner_while_there_is_room(client, tech):
    html = _signed_in(client, tech).get(reverse("arrivals")).content.decode()
    assert "storage-alert" not in html


def test_staff_pages_warn_before_the_disk_fills(client, tech, settings):
    settings.STORAGE_WARN_FREE_BYTES = 1 << 62
    html = _signed_in(client, tech).get(reverse("arrivals")).content.decode()
    assert 'data-level="low"' in html
    assert "Storage is running low" in html
    assert reverse("storage-status") not in html  # the link is for administrators


def test_a_full_disk_is_shown_red_with_what_it_means(client, administrator, settings):
    settings.DICOM_MIN_FREE_BYTES = 1 << 62
    html = _signed_in(client, administrator).get(reverse("arrivals")).content.decode()
    assert 'class="alert storage-alert alert-error"' in html
    assert "The DICOM listener is refusing new images" in html
    assert reverse("storage-status") in html


def test_front_desk_does_not_get_the_banner(client, front_desk, settings):
    settings.STORAGE_WARN_FREE_BYTES = 1 << 62
    html = _signed_in(client, front_desk).get(reverse("patient-list")).content.decode()
    assert "storage-alert" not in html


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_warning_shows_on_a_tablet(live_server, administrator, browser_page, settings):
    from playwright.sync_api import expect

    settings.STORAGE_WARN_FREE_BYTES = 1 << 62
    page = browser_page
    page.goto(live_server.url + "/login/")
    page.get_by_label("User name").fill("administrator")
    page.get_by_label("Password").fill("pw-administrator")
    page.get_by_role("button", name="Sign in").click()
    banner = page.locator(".storage-alert")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Storage is running low")
    box = banner.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1024  # fits the tablet's width
    banner.get_by_role("link", name="Storage status").click()
    expect(page.get_by_role("heading", name="Storage", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="Free space")).to_be_visible()
