"""Rendered images and thumbnails through dicomweb-client: window, viewport, quality, formats."""

import io

import numpy as np
import pytest
from PIL import Image

from tests.imaging.dicomweb_support import client_for, multipart_parts, session_for, store_series

pytestmark = pytest.mark.django_db(transaction=True)


def _image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_instance_rendered_as_jpeg_by_default_and_png_on_request(live_server, vet):
    dr = store_series(count=1, modality="DX", rows=120, columns=100)
    client = client_for(live_server, vet)
    args = (dr.study_uid, dr.series_uid, dr.sop_uids[0])

    jpeg = client.retrieve_instance_rendered(*args)
    png = client.retrieve_instance_rendered(*args, media_types=("image/png",))

    assert _image(jpeg).format == "JPEG" and _image(jpeg).size == (100, 120)
    assert _image(png).format == "PNG" and _image(png).size == (100, 120)


def test_window_changes_the_grey_levels(live_server, vet):
    # A 12-bit ramp (values 0…4095): a narrow window at the top turns most of it black.
    dr = store_series(count=1, modality="DX", rows=64, columns=64)
    client = client_for(live_server, vet)
    args = (dr.study_uid, dr.series_uid, dr.sop_uids[0])

    default = np.asarray(
        _image(client.retrieve_instance_rendered(*args, media_types=("image/png",)))
    )
    narrow = np.asarray(
        _image(
            client.retrieve_instance_rendered(
                *args, media_types=("image/png",), params={"window": "4000,100,linear"}
            )
        )
    )

    assert (narrow == 0).mean() > 0.5
    assert (default == 0).mean() < 0.1


def test_viewport_scales_and_crops(live_server, vet):
    dr = store_series(count=1, modality="DX", rows=200, columns=100)
    session = session_for(vet)
    url = (
        f"{live_server.url}/dicomweb/studies/{dr.study_uid}/series/{dr.series_uid}"
        f"/instances/{dr.sop_uids[0]}/rendered"
    )

    fitted = session.get(url, params={"viewport": "50,50"})
    cropped = session.get(url, params={"viewport": "40,40,0,0,20,20"})

    assert _image(fitted.content).size == (25, 50)  # aspect kept, fitted into 50×50
    assert _image(cropped.content).size == (40, 40)


def test_quality_changes_the_jpeg_size(live_server, vet):
    dr = store_series(count=1, modality="DX", rows=256, columns=256)
    client = client_for(live_server, vet)
    args = (dr.study_uid, dr.series_uid, dr.sop_uids[0])

    low = client.retrieve_instance_rendered(*args, params={"quality": "5"})
    high = client.retrieve_instance_rendered(*args, params={"quality": "95"})

    assert len(low) < len(high)


def test_a_cine_frame_rendered(live_server, vet):
    us = store_series(count=1, modality="US", frames=5, bits=8, photometric="RGB")
    session = session_for(vet)
    base = (
        f"{live_server.url}/dicomweb/studies/{us.study_uid}/series/{us.series_uid}"
        f"/instances/{us.sop_uids[0]}/frames"
    )

    first = session.get(base + "/1/rendered", headers={"Accept": "image/png"})
    last = session.get(base + "/5/rendered", headers={"Accept": "image/png"})
    missing = session.get(base + "/6/rendered")

    assert first.status_code == last.status_code == 200
    assert _image(first.content).mode == "RGB"
    assert first.content != last.content  # the synthetic cine moves between frames
    assert missing.status_code == 404


def test_series_rendered_has_one_image_per_instance(live_server, vet):
    ct = store_series(count=3, modality="CT")
    response = session_for(vet).get(
        f"{live_server.url}/dicomweb/studies/{ct.study_uid}/series/{ct.series_uid}/rendered"
    )

    parts = multipart_parts(response)
    assert [content_type for content_type, _ in parts] == ["image/jpeg"] * 3
    assert all(_image(body).size == (64, 64) for _, body in parts)


def test_thumbnails_fit_the_viewport(live_server, vet):
    dr = store_series(count=2, modality="DX", rows=600, columns=400)
    session = session_for(vet)
    series_url = f"{live_server.url}/dicomweb/studies/{dr.study_uid}/series/{dr.series_uid}"

    series = session.get(series_url + "/thumbnail")
    study = session.get(f"{live_server.url}/dicomweb/studies/{dr.study_uid}/thumbnail")
    small = session.get(
        series_url + f"/instances/{dr.sop_uids[0]}/thumbnail", params={"viewport": "64,64"}
    )

    assert series.headers["Content-Type"] == "image/jpeg"
    assert max(_image(series.content).size) == 256
    assert max(_image(study.content).size) == 256
    assert _image(small.content).size == (43, 64)


@pytest.mark.parametrize(
    "params",
    [
        {"window": "40"},
        {"window": "40,400,cubic"},
        {"viewport": "0,10"},
        {"quality": "0"},
        {"zoom": "2"},
    ],
)
def test_bad_rendering_parameters_are_answered_400(live_server, vet, params):
    dr = store_series(count=1, modality="DX")
    response = session_for(vet).get(
        f"{live_server.url}/dicomweb/studies/{dr.study_uid}/series/{dr.series_uid}"
        f"/instances/{dr.sop_uids[0]}/rendered",
        params=params,
    )

    assert response.status_code == 400


def test_rendered_gif_is_not_acceptable(live_server, vet):
    dr = store_series(count=1, modality="DX")
    response = session_for(vet).get(
        f"{live_server.url}/dicomweb/studies/{dr.study_uid}/series/{dr.series_uid}"
        f"/instances/{dr.sop_uids[0]}/rendered",
        headers={"Accept": "image/gif"},
    )

    assert response.status_code == 406
