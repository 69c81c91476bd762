"""What the diagnostic viewer script reads from its page, and where its built bundle is.

One builder for every page that embeds the viewer: the staff viewer (frontend) and the
specialist's viewer under a share (sharing). Each caller says where images come from
(`dicomweb_root`), where annotations go (`api`), how thumbnails are addressed, whom the page
shows and who draws; the structure the script reads is defined here only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path

from django.contrib.staticfiles import finders
from django.templatetags.static import static

MANIFEST_STATIC_PATH = "frontend/dist/.vite/manifest.json"
ENTRY = "main.js"


def _manifest_entry(manifest_path: Path, mtime: float) -> dict | None:
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return None
    entry = manifest.get(ENTRY)
    if not entry or not (manifest_path.parent.parent / entry["file"]).is_file():
        return None
    return {
        "script": static(f"frontend/dist/{entry['file']}"),
        "styles": [static(f"frontend/dist/{css}") for css in entry.get("css", [])],
    }


_cached_entry = lru_cache(maxsize=4)(_manifest_entry)


def viewer_bundle(manifest_path: Path | None = None) -> dict | None:
    """The built entry's script and stylesheets from Vite's manifest, or None when not built.

    The manifest is found among the static files unless a path is given. Cached per
    modification time, so a rebuild is picked up without a restart.
    """
    if manifest_path is None:
        found = finders.find(MANIFEST_STATIC_PATH)
        if not found:
            return None
        manifest_path = Path(found)
    try:
        mtime = manifest_path.stat().st_mtime
    except OSError:
        return None
    return _cached_entry(manifest_path, mtime)


def series_label(series) -> str:
    number = f"Series {series.series_number}" if series.series_number is not None else "Series"
    return f"{number} · {series.description}" if series.description else number


def first_image_preview(
    series: list,
    dicomweb_root: str,
    study_uid: str,
    uid: Callable[[str], str],
) -> dict | None:
    """The rendered (JPEG) address of the image the viewer shows first, or None.

    The page shows it while the viewer's script starts, until the diagnostic image replaces it.
    Only offered when that first image is unambiguous: the first series' lowest Instance Number
    belongs to one instance (the script orders a stack by Instance Number first).
    `frame` is its first frame, which the page fetches while the viewer's script starts and
    the viewer then decodes (frontend/viewer/earlyFrame.js).
    """
    if not series:
        return None
    first = list(
        series[0]
        .instances.order_by("instance_number", "received_at")
        .values_list("sop_instance_uid", "instance_number")[:2]
    )
    if not first or (len(first) == 2 and first[0][1] == first[1][1]):
        return None
    instance = (
        f"{dicomweb_root}/studies/{study_uid}/series/{uid(series[0].series_instance_uid)}"
        f"/instances/{uid(first[0][0])}"
    )
    return {"rendered": f"{instance}/rendered", "frame": f"{instance}/frames/1"}


def build_viewer_config(
    *,
    study,
    series: Iterable,
    dicomweb_root: str,
    api: dict,
    thumbnail_url: Callable[[object], str],
    patient: dict,
    user: dict,
    csrf_token: str,
    uid: Callable[[str], str] = lambda value: value,
    study_url: str = "",
    study_date: str | None = None,
    study_pk: int | None = None,
    vhs_reference: dict | None = None,
    read_only: bool = False,
    media_url: Callable[[object], dict | None] | None = None,
) -> dict:
    """The viewer's configuration (handed to the page through json_script).

    `api` holds the annotation URLs (`annotations` for the study's list and new ones,
    `annotation` to which "<id>/" is appended) and, for staff, `export` and `key_images`;
    an empty URL hides the matching feature. `uid` maps the stored UIDs to the ones the
    DICOMweb root answers to (an anonymizing share replaces them). `read_only` forbids new
    annotations altogether; annotations the server marks `can_edit: false` are locked either way.
    `media_url` gives a video or PDF series its playback address (`{"kind", "url"}`), or None.
    """
    if study_date is None:
        study_date = study.study_date.isoformat() if study.study_date else ""
    series = list(series)
    root = dicomweb_root.rstrip("/")
    return {
        "study": {
            "pk": study_pk,
            "uid": uid(study.study_instance_uid),
            "date": study_date,
            "description": study.description,
            "url": study_url,
        },
        "patient": {
            "name": patient.get("name", ""),
            "animal": patient.get("animal", patient.get("name", "")),
            "owner": patient.get("owner", ""),
            "species": patient.get("species", ""),
            "breed": patient.get("breed", ""),
            "patient_id": patient.get("patient_id", ""),
        },
        "series": [
            {
                "pk": row.pk,
                "uid": uid(row.series_instance_uid),
                "number": row.series_number,
                "description": row.description,
                "label": series_label(row),
                "modality": row.modality,
                "view": row.view_position,
                "instances": row.instance_count,
                "thumbnail": thumbnail_url(row),
                "media": media_url(row) if media_url else None,
            }
            for row in series
        ],
        "dicomweb": root,
        # A video or PDF first series has no still preview to show while the viewer starts.
        "preview": None
        if series and media_url and media_url(series[0])
        else first_image_preview(series[:1], root, uid(study.study_instance_uid), uid),
        "api": {
            "annotations": api.get("annotations", ""),
            "annotation": api.get("annotation", ""),
            "export": api.get("export", ""),
            "key_images": api.get("key_images", ""),
        },
        "user": user,
        "vhs_reference": vhs_reference,
        "read_only": read_only,
        "csrf_token": csrf_token,
    }
