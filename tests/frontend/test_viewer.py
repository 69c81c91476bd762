"""The viewer page: permission, what it hands the viewer script, and the built bundle."""

import json

import pytest
from django.urls import reverse

from frontend import viewer
from tests.frontend.viewer_data import ct_study, dr_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def built(tmp_path, monkeypatch):
    """A manifest like Vite's, pointing at an entry that exists."""
    dist = tmp_path / "dist"
    (dist / ".vite").mkdir(parents=True)
    (dist / "assets").mkdir()
    (dist / "assets" / "viewer-abc123.js").write_text("export {}")
    manifest = {
        "main.js": {"file": "assets/viewer-abc123.js", "isEntry": True, "css": ["assets/v-1.css"]}
    }
    (dist / ".vite" / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(viewer, "MANIFEST", dist / ".vite" / "manifest.json")
    return dist


@pytest.fixture
def not_built(tmp_path, monkeypatch):
    monkeypatch.setattr(viewer, "MANIFEST", tmp_path / "missing" / "manifest.json")


def _config(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="viewer-config" type="application/json">')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


def test_a_vet_opens_the_viewer_with_the_built_entry_and_the_study(client, vet, built):
    study = ct_study(slices=3)
    client.force_login(vet)
    response = client.get(reverse("study-viewer", args=[study.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert '<script type="module" src="/static/frontend/dist/assets/viewer-abc123.js">' in html
    assert 'href="/static/frontend/dist/assets/v-1.css"' in html
    config = _config(response)
    assert config["study"]["uid"] == study.study_instance_uid
    assert config["patient"]["name"] == "Bella (Jones)"  # DICOM "Jones^Bella", readably
    assert config["patient"]["species"] == "Canine"
    assert config["patient"]["breed"] == "Beagle"
    assert [s["instances"] for s in config["series"]] == [3]
    assert config["api"]["annotations"] == f"/api/studies/{study.pk}/annotations/"
    assert config["csrf_token"]
    assert config["vhs_reference"]["mean"] > 0  # a dog: Buchanan's reference or the breed's


def test_series_come_in_series_number_order_then_view(client, vet, built):
    from pydicom.uid import generate_uid

    from imaging.ingest import instance_receive_dataset
    from imaging.synthetic import make_dataset

    study_uid = generate_uid()
    for number, view in [(2, "VD"), (1, "RL"), (1, "LL")]:
        instance_receive_dataset(
            dataset=make_dataset(
                study_uid=study_uid,
                series_uid=generate_uid(),
                series_number=number,
                view_position=view,
                series_description=f"Thorax {view}",
            )  # fmt: skip
        )
    client.force_login(vet)
    from imaging.models import Study

    study = Study.objects.get(study_instance_uid=study_uid)
    config = _config(client.get(reverse("study-viewer", args=[study.pk])))
    assert [(s["number"], s["view"]) for s in config["series"]] == [(1, "LL"), (1, "RL"), (2, "VD")]


def test_the_first_image_is_offered_as_a_rendered_preview(client, vet, built):
    from imaging.models import Instance

    study = dr_study(rows=300, columns=400)
    instance = Instance.objects.get(series__study=study)
    client.force_login(vet)
    response = client.get(reverse("study-viewer", args=[study.pk]))
    config = _config(response)
    series_uid = instance.series.series_instance_uid
    assert config["preview"]["rendered"] == (
        f"/dicomweb/studies/{study.study_instance_uid}/series/{series_uid}"
        f"/instances/{instance.sop_instance_uid}/rendered"
    )
    assert "data-viewer-preview" in response.content.decode()
    rendered = client.get(config["preview"]["rendered"] + "?viewport=200,150")
    assert rendered.status_code == 200
    assert rendered["Content-Type"] == "image/jpeg"
    # Its first frame, which the page fetches while the viewer's script starts.
    assert config["preview"]["frame"] == config["preview"]["rendered"].replace(
        "/rendered", "/frames/1"
    )
    frame = client.get(
        config["preview"]["frame"],
        HTTP_ACCEPT="multipart/related; type=application/octet-stream; transfer-syntax=*",
    )
    assert frame.status_code == 200


def test_a_stack_previews_its_lowest_instance_number_unless_that_is_ambiguous(client, vet, built):
    from imaging.models import Instance

    study = ct_study(slices=3)
    client.force_login(vet)
    first = Instance.objects.filter(series__study=study).order_by("instance_number").first()
    config = _config(client.get(reverse("study-viewer", args=[study.pk])))
    assert config["preview"]["rendered"].endswith(f"/instances/{first.sop_instance_uid}/rendered")

    Instance.objects.filter(series__study=study).update(instance_number=1)
    response = client.get(reverse("study-viewer", args=[study.pk]))
    assert _config(response)["preview"] is None
    assert "data-viewer-preview" not in response.content.decode()


def test_without_a_built_bundle_the_page_says_to_run_make(client, vet, not_built):
    study = dr_study()
    client.force_login(vet)
    response = client.get(reverse("study-viewer", args=[study.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Viewer not built: run <code>make</code>" in html
    assert 'type="module"' not in html


def test_the_study_page_links_to_the_viewer(client, vet):
    study = dr_study()
    client.force_login(vet)
    response = client.get(reverse("study-detail", args=[study.pk]))
    assert reverse("study-viewer", args=[study.pk]).encode() in response.content


def test_outsiders_and_visitors_cannot_open_the_viewer(client, outsider, built):
    study = dr_study()
    url = reverse("study-viewer", args=[study.pk])
    assert client.get(url).status_code == 302  # to the login page
    client.force_login(outsider)
    assert client.get(url).status_code == 403


def test_the_manifest_is_read_again_after_a_rebuild(built):
    first = viewer.viewer_bundle()
    manifest = built / ".vite" / "manifest.json"
    (built / "assets" / "viewer-new.js").write_text("export {}")
    manifest.write_text(json.dumps({"main.js": {"file": "assets/viewer-new.js", "isEntry": True}}))
    import os

    stat = manifest.stat()
    os.utime(manifest, (stat.st_atime, stat.st_mtime + 5))
    assert first["script"].endswith("viewer-abc123.js")
    assert viewer.viewer_bundle()["script"].endswith("viewer-new.js")


def test_the_page_has_no_inline_script_or_style_and_offers_the_staff_features(client, vet, built):
    """Pages under a strict Content-Security-Policy embed the same template."""
    import re

    study = dr_study()
    client.force_login(vet)
    html = client.get(reverse("study-viewer", args=[study.pk])).content.decode()
    assert "<style" not in html and " style=" not in html
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all("src=" in s or 'type="application/json"' in s for s in scripts)
    assert "/static/frontend/viewer-prefetch.js" in html
    assert 'data-action="keyImage"' in html and 'data-action="exportAnnotations"' in html
