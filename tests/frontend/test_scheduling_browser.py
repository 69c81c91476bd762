"""Booking to arrival in real headless Chromium and DCMTK: the front desk books an exam, the
console pulls it with `findscu -W`, sends the images with `storescu`, and the technician sees
the study under the booked patient, linked to its order, with its missing view called out."""

import os
import subprocess
from pathlib import Path

import pytest
from django.utils import timezone
from pydicom import dcmread
from pydicom.uid import generate_uid

from clinic.queue import wait_for_local_tasks
from imaging.dicom import services
from imaging.models import Study
from imaging.synthetic import make_dataset, write
from tests.conftest import require, require_executable
from tests.dicom_server import running_listener
from tests.frontend import test_browser
from tests.worklist import booking
from worklist.models import Order, OrderStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The arrivals browser test's fixture: thumbnails rendered in-process.
embedded_tasks = test_browser.embedded_tasks

WAIT_MS = 20_000
DCMTK_ENV = {**os.environ, "TCP_NODELAY": "1"}
SCHEDULE_SCREENSHOT = "/tmp/scheduling-day.png"
ARRIVALS_SCREENSHOT = "/tmp/scheduling-arrivals.png"
BOOKING_SCREENSHOT = "/tmp/scheduling-book.png"


def _sign_in(page, url: str, username: str) -> None:
    page.goto(url + "/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill("pw-" + username)
    page.get_by_role("button", name="Sign in").click()


def _findscu(host: str, port: int, ae_title: str, out: Path) -> list:
    """The console's worklist query: today, this station, the keys it fills its images from."""
    findscu = require_executable("findscu")
    today = timezone.localdate().strftime("%Y%m%d")
    step = "ScheduledProcedureStepSequence[0]"
    keys = [
        f"{step}.ScheduledStationAETitle=DR_ROOM_1",
        f"{step}.ScheduledProcedureStepStartDate={today}",
        f"{step}.Modality",
        "PatientName", "PatientID", "AccessionNumber", "StudyInstanceUID",
        "RequestedProcedureDescription",
    ]  # fmt: skip
    args = [findscu, "-W", "-aet", "DR_ROOM_1", "-aec", ae_title, "-X", "-od", str(out)]
    for key in keys:
        args += ["-k", key]
    done = subprocess.run(
        [*args, host, str(port)], env=DCMTK_ENV, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return [dcmread(path) for path in sorted(out.glob("rsp*.dcm"))]


def _storescu(host: str, port: int, ae_title: str, files: list[Path]) -> None:
    storescu = require_executable("storescu")
    done = subprocess.run(
        [storescu, "-aet", "DR_ROOM_1", "-aec", ae_title, host, str(port), *map(str, files)],
        env=DCMTK_ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def _views_from_worklist(item, folder: Path, views: list[tuple[int, str, str]]) -> list[Path]:
    """Images as a console makes them from a worklist item: its patient, accession and UID."""
    files = []
    for number, position, description in views:
        dataset = make_dataset(
            study_uid=item.StudyInstanceUID,
            series_uid=generate_uid(),
            series_number=number,
            view_position=position,
            series_description=description,
            patient_id=item.PatientID,
            patient_name=str(item.PatientName),
            accession=item.AccessionNumber,
            study_description=item.RequestedProcedureDescription,
            rows=64,
            columns=64,
        )
        path = folder / f"view{number}.dcm"
        write(dataset, path)
        files.append(path)
    return files


def test_booked_in_the_browser_pulled_by_the_console_and_arrived_complete(
    live_server,
    tech,
    embedded_tasks,
    browser_page,
    settings,
    tmp_path,
):
    from playwright.sync_api import expect

    require(
        any(s.name == "modality-worklist" for s in services.registered_services()),
        "the Modality Worklist service is not registered with the listener",
    )
    rex = booking.patient("Rex", "P-100", owner="Smith")
    booking.procedure("THX3")
    booking.device("DR_ROOM_1", "DX")
    page = browser_page
    _sign_in(page, live_server.url, "tech")

    # The front desk's booking, found by typing part of the owner's name.
    page.goto(live_server.url + "/schedule/")
    page.get_by_role("link", name="Book an exam").click()
    page.get_by_label("Find patient").fill("smi")
    page.get_by_role("button", name="Choose Rex (ID P-100)").click()
    expect(page.locator("[data-chosen]")).to_contain_text("Rex · Canine · Labrador Retriever")
    page.get_by_label("Procedure").select_option(label="Thorax 3-view (DX)")
    page.get_by_label("Modality device").select_option(label="DX room (DX · DR_ROOM_1)")
    page.get_by_label("Time").fill("10:30")
    page.get_by_label("Requesting vet").fill("Dr Anna Vet")
    page.get_by_label("Reason / clinical history").fill("Coughing for two weeks")
    page.screenshot(path=BOOKING_SCREENSHOT, full_page=True)
    page.get_by_role("button", name="Book exam").click()
    expect(page.get_by_text("Booked Thorax 3-view for Rex at 10:30")).to_be_visible()
    order = Order.objects.get()
    row = page.locator("tr.order", has_text=order.accession_number)
    expect(row.get_by_text("Scheduled")).to_be_visible()
    page.evaluate("window.stillTheSamePage = true")

    with running_listener(ae_title=settings.DICOM_AE_TITLE) as (host, port, ae_title):
        (tmp_path / "worklist").mkdir()
        answers = _findscu(host, port, ae_title, tmp_path / "worklist")
        assert [a.AccessionNumber for a in answers] == [order.accession_number]
        item = answers[0]
        assert item.StudyInstanceUID == order.study_instance_uid
        assert (item.PatientID, str(item.PatientName)) == ("P-100", "Smith^Rex")

        (tmp_path / "images").mkdir()
        two_views = [(1, "RL", "Thorax R LAT"), (2, "LL", "Thorax L LAT")]
        _storescu(host, port, ae_title, _views_from_worklist(item, tmp_path / "images", two_views))

        # The day view follows the order's status without a reload.
        expect(row.get_by_text("Arrived")).to_be_visible(timeout=WAIT_MS)
        expect(row.get_by_text("2 of 3 views: Ventrodorsal missing")).to_be_visible()
        assert page.evaluate("window.stillTheSamePage") is True
        page.screenshot(path=SCHEDULE_SCREENSHOT, full_page=True)

        page.goto(live_server.url + "/")
        arrival = page.locator(".arrival", has_text="Rex")
        expect(
            arrival.get_by_text(f"Order {order.accession_number} · Thorax 3-view")
        ).to_be_visible()
        expect(arrival.get_by_text("2 of 3 views: Ventrodorsal missing")).to_be_visible()
        expect(arrival.locator(".mismatch")).to_have_count(0)

        # The forgotten view is taken: the arrivals page catches up by itself.
        (tmp_path / "more").mkdir()
        vd = _views_from_worklist(item, tmp_path / "more", [(3, "VD", "Thorax VD")])
        _storescu(host, port, ae_title, vd)
        expect(arrival.get_by_text("3 of 3 views")).to_be_visible(timeout=WAIT_MS)

    assert wait_for_local_tasks(timeout=60)
    page.screenshot(path=ARRIVALS_SCREENSHOT, full_page=True)
    study = Study.objects.get(study_instance_uid=order.study_instance_uid)
    order.refresh_from_db()
    assert (order.study, order.matched_by, order.status) == (
        study,
        "study_uid",
        OrderStatus.ARRIVED,
    )
    assert study.patient == rex
    assert study.series_count == 3
