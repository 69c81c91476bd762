"""The diagnostic viewer in real headless Chromium, over the portal's own DICOMweb and REST API:
open CT and DR studies, scroll, window, measure in mm, the vertebral heart score, and
annotations that are saved and come back after a reload."""

import math
import re

import pytest

from tests.conftest import browser_page_open, page_watch, require
from tests.frontend import viewer_data

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WAIT_MS = 30_000
SCREENSHOT = "/tmp/frontend-viewer-{}.png"


@pytest.fixture
def browser_page(chromium_browser):
    """A tablet-sized page whose script errors fail the test."""
    page = page_watch(browser_page_open(chromium_browser))
    page.set_default_timeout(WAIT_MS)
    return page


@pytest.fixture
def built_viewer():
    from frontend.viewer import viewer_bundle

    require(viewer_bundle() is not None, "the viewer is not built (make viewer)")


def _sign_in(page, live_server, user="vet"):
    page.goto(live_server.url + "/login/")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill("pw-" + user)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login/" not in url)


def _open(page, live_server, study):
    page.goto(f"{live_server.url}/studies/{study.pk}/viewer")
    page.wait_for_selector("#viewer[data-viewer-ready='true']", timeout=WAIT_MS)
    page.wait_for_selector("#viewer[data-state='ready']", timeout=WAIT_MS)
    assert not page.errors, page.errors


def _overlay(page, name, attribute, index=0):
    cell = page.locator(f".viewport-cell[data-viewport-index='{index}']")
    return cell.locator(f"[data-ov='{name}']").get_attribute(f"data-{attribute}")


def _point(page, column, row, index=0):
    point = page.evaluate(
        "([c, r, i]) => window.portalViewer.imageToPage(c, r, i)", [column, row, index]
    )
    return point["x"], point["y"]


def _drag(page, start, end):
    page.mouse.move(*_point(page, *start))
    page.mouse.down()
    page.mouse.move(*_point(page, *end), steps=8)
    page.mouse.up()


def _click(page, point):
    page.mouse.click(*_point(page, *point))


def test_a_ct_opens_scrolls_and_windows(live_server, vet, browser_page, built_viewer):
    study = viewer_data.ct_study(slices=20)
    page = browser_page
    _sign_in(page, live_server)
    _open(page, live_server, study)

    overlay = page.locator(".viewport-cell[data-viewport-index='0'] .viewport-overlay")
    assert "Bella (Jones)" in overlay.inner_text()
    assert _overlay(page, "slice", "slice-count") == "20"
    assert _overlay(page, "slice", "slice-index") == "1"
    assert _overlay(page, "window", "window-width") == "400"  # the file's own window
    assert _overlay(page, "calibration", "calibration-source") == "pixel_spacing"

    # Scroll: keys and the mouse wheel move through the stack.
    page.locator(".viewport-element").first.hover()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.wait_for_function(
        "() => document.querySelector('[data-ov=slice]').dataset.sliceIndex === '3'"
    )
    page.mouse.wheel(0, 300)
    page.wait_for_function(
        "() => Number(document.querySelector('[data-ov=slice]').dataset.sliceIndex) > 3"
    )

    # Window: the bone preset, then a drag with the window/level tool.
    page.select_option("[data-window-preset]", label="Bone 300/1500")
    page.wait_for_function(
        "() => document.querySelector('[data-ov=window]').dataset.windowWidth === '1500'"
    )
    assert _overlay(page, "window", "window-center") == "300"
    _drag(page, (40, 40), (90, 70))
    page.wait_for_function(
        "() => document.querySelector('[data-ov=window]').dataset.windowWidth !== '1500'"
    )
    page.screenshot(path=SCREENSHOT.format("ct"))
    assert not page.errors, page.errors


def test_a_length_on_a_dr_image_reads_in_mm(live_server, vet, browser_page, built_viewer):
    study = viewer_data.dr_study(rows=600, columns=800, spacing="pixel")
    page = browser_page
    _sign_in(page, live_server)
    _open(page, live_server, study)
    assert _overlay(page, "calibration", "calibration-source") == "pixel_spacing"

    start, end = (100, 100), (400, 500)
    expected = math.hypot(end[0] - start[0], end[1] - start[1]) * viewer_data.DR_SPACING  # 100 mm
    page.locator("[data-tool=Length]").click()
    _drag(page, start, end)

    # The live value while drawing, then the server's once saved.
    saved = page.locator("[data-tool='length'][data-annotation-state='saved']")
    saved.wait_for()
    value = saved.locator("[data-value-name='length']")
    assert value.get_attribute("data-unit") == "mm"
    # Clicks land on screen pixels: allow the distance of a screen pixel at this zoom.
    assert float(value.get_attribute("data-value")) == pytest.approx(expected, abs=1.5)
    page.screenshot(path=SCREENSHOT.format("dr"))
    assert not page.errors, page.errors


def test_the_rendered_preview_shows_first_then_gives_way_to_the_diagnostic_image(
    live_server, vet, browser_page, built_viewer
):
    study = viewer_data.dr_study(rows=600, columns=800, spacing="pixel")
    page = browser_page
    _sign_in(page, live_server)
    # Hold the viewer's script back, as a slow start would: the preview must not need it.
    held = []
    bundle = re.compile(r"/static/frontend/dist/assets/viewer-[^/]*\.js$")

    def hold(route):
        held.append(route)

    page.route(bundle, hold)
    page.goto(f"{live_server.url}/studies/{study.pk}/viewer", wait_until="commit")
    page.wait_for_selector("#viewer[data-preview='shown']")
    assert page.get_attribute("#viewer", "data-state") == "loading"
    assert int(page.get_attribute("#viewer", "data-first-picture-ms")) > 0
    assert "loading full image" in page.locator("[data-viewer-preview]").inner_text()
    # The JPEG the portal rendered, fitted (contain) into the viewport's area.
    shown = page.evaluate(
        """() => {
          const img = document.querySelector('[data-viewer-preview] img');
          const box = img.getBoundingClientRect();
          const scale = Math.min(box.width / img.naturalWidth, box.height / img.naturalHeight);
          const w = img.naturalWidth * scale, h = img.naturalHeight * scale;
          return {natural: img.naturalWidth / img.naturalHeight,
                  left: box.left + (box.width - w) / 2, top: box.top + (box.height - h) / 2,
                  width: w, height: h,
                  tools: getComputedStyle(document.querySelector('[data-toolbar]')).pointerEvents};
        }"""
    )
    assert shown["natural"] == pytest.approx(800 / 600, rel=0.01)
    assert shown["tools"] == "none"  # no tools on the preview

    assert held
    for route in held:
        route.continue_()
    page.unroute(bundle, hold)
    page.wait_for_selector("#viewer[data-viewer-ready='true']")
    page.wait_for_selector("#viewer[data-state='ready']")
    page.wait_for_selector("[data-viewer-preview]", state="detached")
    # The page fetched the first frame while the script was held; the viewer drew those bytes
    # and did not ask the portal for the frame again.
    transferred = page.evaluate(
        """() => performance.getEntriesByType('resource')
             .filter((entry) => entry.name.endsWith('/frames/1')).map((entry) => entry.transferSize)"""
    )
    assert len(transferred) == 1 and transferred[0] > 600 * 800, transferred
    assert page.get_attribute("#viewer", "data-preview") is None
    # The diagnostic image sits where the preview was: no jump when it replaces it.
    top_left = _point(page, 0, 0)
    bottom_right = _point(page, 800, 600)
    assert top_left[0] == pytest.approx(shown["left"], abs=2)
    assert top_left[1] == pytest.approx(shown["top"], abs=2)
    assert bottom_right[0] - top_left[0] == pytest.approx(shown["width"], abs=2)
    assert bottom_right[1] - top_left[1] == pytest.approx(shown["height"], abs=2)
    assert not page.errors, page.errors


def test_an_uncalibrated_image_says_so_and_calibrates_by_hand(
    live_server, vet, browser_page, built_viewer
):
    study = viewer_data.dr_study(rows=400, columns=600, spacing="none")
    page = browser_page
    _sign_in(page, live_server)
    _open(page, live_server, study)
    assert _overlay(page, "calibration", "calibration-source") == "none"
    panel = page.locator("[data-calibration-panel]")
    assert "Not calibrated — measurements in pixels" in panel.inner_text()

    # A line of 200 px over a "25 mm ball" makes 8 px per mm.
    page.on("dialog", lambda d: (page.errors.append(f"browser dialog: {d.message}"), d.dismiss()))
    panel.get_by_role("button", name="Calibrate with a known length…").click()
    _click(page, (100, 200))
    _click(page, (300, 200))
    # The known length is asked in a form on the page (no browser prompt).
    form = page.locator("[data-ask]")
    form.get_by_role("spinbutton").fill("25")
    form.get_by_role("button", name="OK").click()
    assert form.count() == 0
    page.locator("[data-tool='calibration'][data-annotation-state='saved']").wait_for()
    page.wait_for_function(
        "() => document.querySelector('[data-ov=calibration]').dataset.calibrationSource"
        " === 'manual'"
    )
    page.locator("[data-tool=Length]").click()
    _drag(page, (100, 300), (500, 300))  # 400 px = 50 mm
    value = page.locator(
        "[data-tool='length'][data-annotation-state='saved'] [data-value-name='length']"
    )
    value.wait_for()
    assert value.get_attribute("data-unit") == "mm"
    assert float(value.get_attribute("data-value")) == pytest.approx(50, abs=0.6)
    assert not page.errors, page.errors


def test_vertebral_heart_score_is_saved_and_comes_back(
    live_server, vet, browser_page, built_viewer
):
    study = viewer_data.lateral_thorax_study()
    page = browser_page
    _sign_in(page, live_server)
    _open(page, live_server, study)

    page.get_by_role("button", name="VHS").click()
    clicks = [
        *viewer_data.THORAX_LONG_AXIS,
        *viewer_data.THORAX_SHORT_AXIS,
        *viewer_data.THORAX_VERTEBRAE,
    ]
    for point in clicks:
        _click(page, point)
    page.keyboard.press("Enter")  # the last vertebra marked

    saved = page.locator("[data-tool='vhs'][data-annotation-state='saved']")
    saved.wait_for()
    vhs = saved.locator("[data-value-name='vhs']")
    assert float(vhs.get_attribute("data-value")) == pytest.approx(viewer_data.THORAX_VHS, abs=0.1)
    assert "reference" in saved.inner_text().lower()  # the dog's reference range beside it
    page.screenshot(path=SCREENSHOT.format("vhs"))

    # Reload: the annotation comes back from the server, listed and drawn on its image.
    page.reload()
    page.wait_for_selector("#viewer[data-annotations-loaded='true']")
    page.wait_for_selector("#viewer[data-state='ready']")
    again = page.locator("[data-tool='vhs'][data-annotation-state='saved']")
    assert float(again.locator("[data-value-name='vhs']").get_attribute("data-value")) == (
        pytest.approx(viewer_data.THORAX_VHS, abs=0.1)
    )
    page.screenshot(path=SCREENSHOT.format("vhs-reloaded"))
    page.wait_for_function(
        "() => document.querySelectorAll('.viewport-element svg [data-annotation-uid]').length > 0"
    )
    # Hidden with the toggle, shown again.
    page.keyboard.press("g")
    page.wait_for_selector("#viewer[data-annotations-visible='false']")
    page.keyboard.press("g")
    page.wait_for_selector("#viewer[data-annotations-visible='true']")
    assert not page.errors, page.errors


def test_layouts_take_dropped_series_and_cine_plays_at_the_recorded_rate(
    live_server, vet, browser_page, built_viewer
):
    from pydicom.uid import generate_uid

    from imaging.ingest import instance_receive_dataset
    from imaging.models import Study
    from imaging.synthetic import make_dataset

    # One study: a DR view and an ultrasound loop (FrameTime 33.3 ms, Cine Rate 30).
    study_uid = generate_uid()
    instance_receive_dataset(
        dataset=make_dataset(
            study_uid=study_uid,
            series_number=1,
            series_description="Abdomen VD",
            view_position="VD",
            rows=128,
            columns=128,
        )  # fmt: skip
    )
    instance_receive_dataset(
        dataset=make_dataset(
            modality="US",
            study_uid=study_uid,
            series_number=2,
            series_description="Liver cine",
            frames=12,
            rows=96,
            columns=128,
            bits=8,
            view_position="",
        )  # fmt: skip
    )
    study = Study.objects.get(study_instance_uid=study_uid)
    page = browser_page
    _sign_in(page, live_server)
    _open(page, live_server, study)

    # 1×2: the second viewport takes the next series by itself.
    page.keyboard.press("2")
    page.wait_for_selector(".viewport-cell[data-viewport-index='1'] [data-slice-count='12']")
    # 2×2, then the ultrasound dragged from the strip onto the fourth viewport.
    page.locator("[data-layout-choice='2x2']").click()
    page.locator(".series-tile").nth(1).drag_to(
        page.locator(".viewport-cell[data-viewport-index='3']")
    )
    page.wait_for_selector(".viewport-cell[data-viewport-index='3'] [data-slice-count='12']")
    assert page.locator(".viewport-cell.active").get_attribute("data-viewport-index") == "3"

    page.keyboard.press("Space")
    page.wait_for_selector("#viewer[data-cine-fps='30']")
    page.wait_for_function(
        "() => Number(document.querySelectorAll('[data-ov=slice]')[3].dataset.sliceIndex) > 2"
    )
    page.keyboard.press("Space")

    # The help lists the shortcuts.
    page.keyboard.press("?")
    help_box = page.locator("[data-help]")
    assert help_box.is_visible()
    assert "Vertebral heart score" in help_box.inner_text()
    page.screenshot(path=SCREENSHOT.format("layout"))
    assert not page.errors, page.errors


def test_another_vets_annotations_are_shown_read_only(
    live_server, vet, tech, browser_page, built_viewer
):
    from imaging.annotations import annotation_create
    from imaging.models import Instance

    study = viewer_data.dr_study(rows=400, columns=600, spacing="pixel")
    instance = Instance.objects.get(series__study=study)
    theirs = annotation_create(
        study=study, author=tech, sop_instance_uid=instance.sop_instance_uid, frame=1,
        tool="length", geometry={"points": [[50, 50], [350, 50]]},
    )  # fmt: skip
    page = browser_page
    _sign_in(page, live_server)
    _open(page, live_server, study)
    page.wait_for_selector("#viewer[data-annotations-loaded='true']")
    item = page.locator(f"[data-annotation-id='{theirs.pk}']")
    assert float(item.locator("[data-value-name='length']").get_attribute("data-value")) == 60.0
    assert "read-only" in item.inner_text()
    assert item.locator("[data-delete-annotation]").count() == 0
    assert not page.errors, page.errors


def test_norberg_angles_are_saved_and_an_own_annotation_is_deleted(
    live_server, vet, browser_page, built_viewer
):
    from imaging.models import Annotation

    study = viewer_data.dr_study(rows=400, columns=600, spacing="pixel")
    page = browser_page
    page.on("dialog", lambda d: (page.errors.append(f"browser dialog: {d.message}"), d.dismiss()))
    _sign_in(page, live_server)
    _open(page, live_server, study)
    page.wait_for_selector("#viewer[data-annotations-loaded='true']")

    # Femoral head centre, a point on its edge, the acetabular rim: left, then right.
    # Left: the centre line (200, 0) against the rim (-60, -180): 108.4°.
    # Right: (-200, 0) against (20, -180): 96.3°, below 105° and flagged.
    page.get_by_role("button", name="Norberg").click()
    for point in [(200, 200), (200, 160), (140, 20), (400, 200), (400, 160), (420, 20)]:
        _click(page, point)
    saved = page.locator("[data-tool='norberg'][data-annotation-state='saved']")
    saved.wait_for()
    left = saved.locator("[data-value-name='norberg_left']")
    right = saved.locator("[data-value-name='norberg_right']")
    assert float(left.get_attribute("data-value")) == pytest.approx(108.4, abs=1)
    assert float(right.get_attribute("data-value")) == pytest.approx(96.3, abs=1)
    flag = saved.locator("[data-value-name='flag']")
    assert flag.get_attribute("data-value").startswith("right below 105°")
    mark = Annotation.objects.get(tool="norberg")
    stored = {v["name"]: v["value"] for v in mark.values}
    assert stored["norberg_left"] == pytest.approx(108.4, abs=1)
    assert stored["norberg_right"] == pytest.approx(96.3, abs=1)
    page.screenshot(path=SCREENSHOT.format("norberg"))

    # Deleting asks on the page; cancelling keeps it, confirming deletes it on the server.
    saved.locator("[data-delete-annotation]").click()
    form = page.locator("[data-ask]")
    form.get_by_role("button", name="Cancel").click()
    assert form.count() == 0 and saved.count() == 1
    saved.locator("[data-delete-annotation]").click()
    form.get_by_role("button", name="Delete").click()
    expect_gone = page.locator("[data-tool='norberg']")
    expect_gone.first.wait_for(state="detached")
    assert not Annotation.objects.filter(pk=mark.pk).exists()
    page.reload()
    page.wait_for_selector("#viewer[data-annotations-loaded='true']")
    assert page.locator("[data-tool='norberg']").count() == 0
    assert not page.errors, page.errors
