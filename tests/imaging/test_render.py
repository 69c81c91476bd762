"""Rendering stored DICOM into images: every transfer syntax and photometric the field sends."""

import io

import numpy as np
import pytest
from PIL import Image
from pydicom import Dataset, dcmread
from pydicom.pixels import convert_color_space
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from imaging import render, synthetic

ROWS, COLUMNS = 48, 64
LOSSLESS = [
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    ExplicitVRBigEndian,
    DeflatedExplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    JPEGLSLossless,
]
LOSSY = [JPEGBaseline8Bit, JPEG2000, JPEGLSNearLossless]


def _file(ds: Dataset, transfer_syntax: str = ExplicitVRLittleEndian) -> bytes:
    return synthetic.to_bytes(synthetic.encode(ds, transfer_syntax))


def _read(data: bytes) -> Dataset:
    return dcmread(io.BytesIO(data))


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image).astype(int)


def _centre(a: np.ndarray):
    return a[a.shape[0] // 2, a.shape[1] // 2]


def _thumbnail(data: bytes, size: int = 256) -> tuple[Image.Image, str]:
    result = render.thumbnail_for(io.BytesIO(data), size=size)
    return Image.open(io.BytesIO(result.png)), result.error


def _dx(**fields) -> Dataset:
    return synthetic.make_dataset(rows=ROWS, columns=COLUMNS, **fields)


@pytest.mark.parametrize("transfer_syntax", LOSSLESS + LOSSY, ids=lambda uid: uid.keyword)
def test_every_transfer_syntax_renders_the_bright_disc(transfer_syntax):
    data = _file(_dx(), transfer_syntax)

    image = render.render_frame(_read(data))

    assert image.mode == "L" and image.size == (COLUMNS, ROWS)
    pixels = _pixels(image)
    assert _centre(pixels) > pixels[0, 0] + 60  # the disc is bright, the top-left corner dark
    thumbnail, error = _thumbnail(data, size=32)
    assert error == ""
    assert thumbnail.mode == "L" and thumbnail.size == (32, 24)  # aspect kept


@pytest.mark.parametrize("transfer_syntax", LOSSLESS[1:], ids=lambda uid: uid.keyword)
def test_lossless_syntaxes_render_exactly_like_the_uncompressed_file(transfer_syntax):
    reference = _pixels(render.render_frame(_read(_file(_dx()))))
    ds = _dx()
    assert np.array_equal(_read(_file(ds, transfer_syntax)).pixel_array, ds.pixel_array), (
        f"imaging.synthetic.encode(ds, {transfer_syntax.keyword}) changed the pixels: "
        "the test file is wrong, not the renderer"
    )
    assert np.array_equal(
        _pixels(render.render_frame(_read(_file(ds, transfer_syntax)))), reference
    )
    # The thumbnail path decodes straight from the file; it must agree with the data set path.
    thumbnail, _ = _thumbnail(_file(ds, transfer_syntax), size=COLUMNS)
    assert np.array_equal(_pixels(thumbnail), reference)


@pytest.mark.parametrize("transfer_syntax", [JPEG2000, JPEGLSNearLossless], ids=lambda u: u.keyword)
def test_lossy_syntaxes_render_close_to_the_original(transfer_syntax):
    ds = _dx()
    reference = _pixels(render.render_frame(_read(_file(ds))))
    lossy = _pixels(render.render_frame(_read(_file(ds, transfer_syntax))))
    assert np.abs(lossy - reference).mean() < 12  # a 20:1 JPEG 2000 of a tiny image blurs a little


def test_monochrome1_is_inverted():
    mono2 = _pixels(render.render_frame(_read(_file(_dx()))))
    mono1 = _pixels(render.render_frame(_read(_file(_dx(photometric="MONOCHROME1")))))

    assert _centre(mono1) < mono1[0, 0] - 60  # the disc now dark, the corner bright
    assert np.abs(mono1 - (255 - mono2)).max() <= 1


def test_rgb_keeps_its_channels():
    image = render.render_frame(
        _read(_file(synthetic.make_dataset(modality="OT", photometric="RGB")))
    )

    assert image.mode == "RGB" and image.size == (64, 64)
    pixels = _pixels(image)
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    assert _centre(red) > red[0, 0] + 60  # red carries the gradient with its disc
    assert green[-1, 0] < green[0, 0]  # green is the gradient upside down
    assert np.all(blue == 96)


def test_rgb_sent_as_jpeg_ybr_full_422_comes_back_as_rgb():
    ds = synthetic.make_dataset(modality="OT", photometric="RGB")
    jpeg = synthetic.encode(ds, JPEGBaseline8Bit)
    assert jpeg.PhotometricInterpretation == "YBR_FULL_422"

    native = _pixels(render.render_frame(_read(_file(ds))))
    decoded = _pixels(render.render_frame(_read(synthetic.to_bytes(jpeg))))

    assert np.abs(decoded - native).mean() < 6  # colours right, not swapped or left in YCbCr


@pytest.mark.parametrize(
    "transfer_syntax", [ExplicitVRLittleEndian, RLELossless], ids=lambda u: u.keyword
)
def test_ybr_full_is_converted_to_rgb(transfer_syntax):
    ds = synthetic.make_dataset(modality="OT", photometric="YBR_FULL")
    ybr = np.frombuffer(ds.PixelData, dtype=np.uint8).reshape(64, 64, 3)
    expected = convert_color_space(ybr, "YBR_FULL", "RGB").astype(int)

    image = render.render_frame(_read(_file(ds, transfer_syntax)))

    assert image.mode == "RGB"
    assert np.abs(_pixels(image) - expected).max() <= 1


def test_native_ybr_full_422_is_converted_to_rgb():
    ds = synthetic.make_dataset(modality="OT", photometric="RGB")
    rgb = ds.pixel_array
    ybr = convert_color_space(rgb, "RGB", "YBR_FULL").astype(int)
    # PS3.3 C.7.6.3.1.2: two pixels share one Cb and Cr, stored Y1 Y2 Cb Cr.
    pairs = ybr.reshape(64, 32, 2, 3)
    packed = np.stack(
        [
            pairs[:, :, 0, 0],
            pairs[:, :, 1, 0],
            pairs[:, :, :, 1].mean(2),
            pairs[:, :, :, 2].mean(2),
        ],
        axis=-1,
    )
    ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.PixelData = np.rint(packed).astype(np.uint8).tobytes()

    image = render.render_frame(_read(synthetic.to_bytes(ds)))

    assert image.mode == "RGB" and image.size == (64, 64)
    assert np.abs(_pixels(image) - rgb.astype(int)).mean() < 3


def test_palette_color_goes_through_its_lookup_tables():
    ds = synthetic.make_dataset(modality="OT", photometric="PALETTE COLOR")

    image = render.render_frame(_read(_file(ds)))

    assert image.mode == "RGB"
    pixels = _pixels(image)
    grey = ds.pixel_array.astype(int)
    # The synthetic palette: red follows the index, green is reversed, blue is constant mid.
    assert np.abs(pixels[..., 0] - grey).max() <= 1
    assert np.abs(pixels[..., 1] - (255 - grey)).max() <= 1
    assert np.all(pixels[..., 2] == 128)


@pytest.mark.parametrize(
    "transfer_syntax", [ExplicitVRLittleEndian, JPEGBaseline8Bit], ids=lambda u: u.keyword
)
def test_multiframe_cine_shows_its_middle_frame(transfer_syntax):
    ds = synthetic.make_dataset(modality="US", photometric="RGB", frames=5, rows=32, columns=48)
    dataset = _read(_file(ds, transfer_syntax))

    middle = _pixels(render.render_frame(dataset))

    assert middle.shape == (32, 48, 3)
    assert np.array_equal(middle, _pixels(render.render_frame(dataset, frame=2)))
    assert not np.array_equal(middle, _pixels(render.render_frame(dataset, frame=0)))
    with pytest.raises(render.RenderError, match="Frame 6 does not exist"):
        render.render_frame(dataset, frame=5)


def test_a_cine_thumbnail_reads_only_the_frame_it_shows():
    ds = synthetic.make_dataset(modality="US", photometric="RGB", frames=5, rows=16, columns=16)
    data = synthetic.to_bytes(ds)
    frame_bytes = 16 * 16 * 3
    # The last frame and a half are missing: the middle frame is still whole and is all we read.
    thumbnail, error = _thumbnail(data[: -frame_bytes * 3 // 2])

    assert error == ""
    assert np.array_equal(_pixels(thumbnail), _pixels(render.render_frame(_read(data), frame=2)))


def test_rescale_intercept_changes_nothing_under_the_files_own_window():
    plain = _dx()
    shifted = _dx()
    shifted.RescaleSlope, shifted.RescaleIntercept = 1, -1024
    shifted.WindowCenter = plain.WindowCenter - 1024  # the window is in rescaled units

    assert np.array_equal(
        _pixels(render.render_frame(_read(_file(plain)))),
        _pixels(render.render_frame(_read(_file(shifted)))),
    )


def test_modality_lut_sequence_is_applied():
    doubled = _dx()
    doubled.RescaleSlope, doubled.RescaleIntercept = 2, 0
    doubled.WindowCenter, doubled.WindowWidth = 4096, 8192
    lut = _dx()
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.ModalityLUTType = "US"
    item.LUTData = [value * 2 for value in range(4096)]
    item["LUTData"].VR = "US"
    lut.ModalityLUTSequence = [item]
    lut.WindowCenter, lut.WindowWidth = 4096, 8192

    assert np.array_equal(
        _pixels(render.render_frame(_read(_file(doubled)))),
        _pixels(render.render_frame(_read(_file(lut)))),
    )


def test_without_a_window_in_the_file_an_automatic_one_uses_the_full_range():
    windowed = _pixels(render.render_frame(_read(_file(_dx()))))
    ds = _dx()
    del ds.WindowCenter, ds.WindowWidth
    automatic = _pixels(render.render_frame(_read(_file(ds))))

    assert windowed.max() < 230  # the file's window is the detector's whole 12-bit range
    assert automatic.min() == 0 and automatic.max() == 255
    assert _centre(automatic) > automatic[0, 0] + 60


def test_the_first_of_several_windows_is_the_default():
    several = _dx()
    several.WindowCenter, several.WindowWidth = [1500, 3000], [1000, 4000]
    first = _dx()
    first.WindowCenter, first.WindowWidth = 1500, 1000

    assert np.array_equal(
        _pixels(render.render_frame(_read(_file(several)))),
        _pixels(render.render_frame(_read(_file(first)))),
    )


@pytest.mark.parametrize(
    ("function", "expected"), [("LINEAR", 191), ("LINEAR_EXACT", 191), ("SIGMOID", 187)]
)
def test_voi_lut_functions(function, expected):
    ds = _dx()
    ds.PixelData = np.full((ROWS, COLUMNS), 2048 + 1024, dtype=np.uint16).tobytes()
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = 2048, 4096, function

    pixels = _pixels(render.render_frame(_read(_file(ds))))

    # A quarter width above the centre: 0.75 on a linear ramp, 1/(1+e^-1) on the sigmoid.
    assert np.abs(pixels - expected).max() <= 1


def test_an_explicit_window_replaces_the_files():
    dataset = _read(_file(_dx()))
    narrow = _pixels(render.render_frame(dataset, window=(1000.0, 10.0)))

    assert set(np.unique(narrow)) <= {0, 255} or (narrow.std() > 100)
    assert _centre(narrow) == 255 and narrow[0, 0] == 0


def test_voi_lut_sequence_is_applied():
    ds = _dx()
    del ds.WindowCenter, ds.WindowWidth
    item = Dataset()
    # 16 bits declared, 12 used: common in the field; the LUT's own range is what counts.
    item.LUTDescriptor = [4096, 0, 16]
    item.LUTData = [4095 - value for value in range(4096)]  # an inverting LUT
    item["LUTData"].VR = "US"
    ds.VOILUTSequence = [item]

    pixels = _pixels(render.render_frame(_read(_file(ds))))

    assert _centre(pixels) < pixels[0, 0] - 60
    assert pixels[0, 0] == 255


def test_enhanced_multiframe_takes_rescale_and_window_from_functional_groups():
    plain = _dx(frames=3)
    enhanced = _dx(frames=3)
    del enhanced.WindowCenter, enhanced.WindowWidth
    transform, voi, group = Dataset(), Dataset(), Dataset()
    transform.RescaleIntercept, transform.RescaleSlope, transform.RescaleType = -1024, 1, "US"
    voi.WindowCenter, voi.WindowWidth = 2048 - 1024, 4096
    group.PixelValueTransformationSequence = [transform]
    group.FrameVOILUTSequence = [voi]
    enhanced.SharedFunctionalGroupsSequence = [group]

    assert np.array_equal(
        _pixels(render.render_frame(_read(_file(plain)))),
        _pixels(render.render_frame(_read(_file(enhanced)))),
    )


def test_a_flat_image_renders_without_error():
    ds = _dx()
    del ds.WindowCenter, ds.WindowWidth
    ds.PixelData = np.full((ROWS, COLUMNS), 700, dtype=np.uint16).tobytes()

    pixels = _pixels(render.render_frame(_read(_file(ds))))

    assert pixels.std() == 0


def test_non_square_pixels_keep_their_shape_in_the_thumbnail():
    ds = synthetic.make_dataset(rows=64, columns=64)
    ds.PixelSpacing = [0.2, 0.1]  # rows twice as far apart as columns: the image is twice as tall

    thumbnail, _ = _thumbnail(_file(ds))

    assert thumbnail.size == (64, 128)


def test_a_report_without_pixels_gets_a_labelled_tile():
    data = _file(synthetic.make_dataset(modality="SR", pixel_data=False))

    thumbnail, error = _thumbnail(data)

    assert error == ""  # nothing is wrong with a report
    assert thumbnail.size == (256, 256)
    with pytest.raises(render.NoImage, match="structured report"):
        render.render_frame(_read(data))


@pytest.mark.parametrize(
    "transfer_syntax",
    [ExplicitVRLittleEndian, JPEG2000Lossless, RLELossless],
    ids=lambda u: u.keyword,
)
def test_truncated_pixel_data_gets_a_placeholder_with_the_reason(transfer_syntax):
    data = _file(_dx(), transfer_syntax)

    thumbnail, error = _thumbnail(data[: len(data) - 600])

    assert "damaged or incomplete" in error
    assert thumbnail.size == (256, 256)


def test_a_file_that_is_not_dicom_gets_a_placeholder():
    thumbnail, error = _thumbnail(b"this is a letter, not an image " * 20)

    assert error == "Cannot display: not a readable DICOM file"
    assert thumbnail.size == (256, 256)


def test_thumbnails_are_read_from_a_path_too(tmp_path):
    path = synthetic.write(_dx(), tmp_path / "dx.dcm")

    image = Image.open(io.BytesIO(render.render_thumbnail(path, size=64)))

    assert image.size == (64, 48)


def test_placeholder_is_a_legible_grey_tile():
    tile = Image.open(io.BytesIO(render.placeholder("Cannot display: JPEG 2000 decoder missing")))

    assert tile.size == (256, 256)
    pixels = _pixels(tile.convert("L"))
    assert np.median(pixels) < 100  # grey background
    assert pixels.max() > 200  # with light text on it


def test_a_large_radiograph_thumbnail_keeps_aspect_and_content():
    # Decimated before windowing; the picture must still be the whole image, the right way up.
    ds = synthetic.make_dataset(rows=1500, columns=2000)
    png = render.render_thumbnail(io.BytesIO(synthetic.to_bytes(ds)))
    image = Image.open(io.BytesIO(png))
    assert image.size == (256, 192)
    assert image.getpixel((128, 96)) > image.getpixel((4, 4)) + 40  # the bright disc is centred
    assert image.getpixel((250, 186)) > image.getpixel((4, 4))  # the ramp rises to the far corner
