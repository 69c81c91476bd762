"""Photos, videos and PDFs made into DICOM: each file written is valid, keeps its content, lands
in the chosen patient's study through ingest, is added once however often it is uploaded,
and a file the portal cannot carry is refused with a reason."""

import io
import subprocess
from datetime import datetime

import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image
from pydicom import dcmread
from pydicom.encaps import generate_fragments
from pydicom.uid import (
    MPEG4HP41,
    MPEG4HP422D,
    EncapsulatedPDFStorage,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    VideoEndoscopicImageStorage,
    VideoPhotographicImageStorage,
    VLPhotographicImageStorage,
)

from clinic.matching import patient_match
from clinic.models import Owner, Patient, Species
from imaging import render, storage
from imaging.convert import ENDOSCOPY, OTHER, MediaRefused, media_attach
from imaging.convert.extract import instance_media_open
from imaging.models import Instance, Series, Study, StudyEvent, ThumbnailState
from imaging.thumbnails import series_thumbnails_render
from tests.conftest import require_executable
from tests.media_samples import document_pdf, photo_jpeg, photo_png, video_mp4
from tests.send_peers import destination_for, portal_study, pynetdicom_scp

pytestmark = pytest.mark.django_db


@pytest.fixture
def rex(db) -> Patient:
    owner = Owner.objects.create(last_name="Smith", first_name="Jane")
    return Patient.objects.create(
        patient_id="P-77", name="Rex", owner=owner, species=Species.CANINE, breed="Beagle"
    )


def _attach(data: bytes, patient, study=None, *, name="file", batch="b1", **options):
    return media_attach(
        source=io.BytesIO(data), filename=name, patient=patient, study=study, batch=batch, **options
    )


def _fragments(ds) -> list[bytes]:
    """Pixel Data's fragments, after the Basic Offset Table item (PS3.5 A.4)."""
    return list(generate_fragments(ds.PixelData))[1:]


def _stored(instance: Instance):
    with storage.instance_open(instance.storage_key) as handle:
        return dcmread(handle)


def test_a_baseline_jpeg_is_kept_byte_for_byte_as_vl_photographic(rex):
    taken = datetime(2026, 3, 4, 10, 11, 12)
    jpeg = photo_jpeg(width=64, height=48, taken=taken)
    attached = _attach(jpeg, rex, name="IMG_0001.JPG", study_description="Skin lesion")
    ds = _stored(attached.instance)
    assert attached.status == "added" and attached.kind == "photo"
    assert ds.SOPClassUID == VLPhotographicImageStorage
    assert ds.file_meta.TransferSyntaxUID == JPEGBaseline8Bit
    assert ds.Modality == "XC" and ds.SeriesDescription == "Photos"
    assert ds.PhotometricInterpretation == "YBR_FULL_422"
    assert _fragments(ds)[0].rstrip(b"\0") == jpeg.rstrip(b"\0")
    assert ds.pixel_array.shape == (48, 64, 3)
    assert ds.AcquisitionDateTime == "20260304101112" and ds.ContentDate == "20260304"
    # The clinic's patient, in the veterinary convention, and a new study described as asked.
    assert str(ds.PatientName) == "Smith^Rex" and ds.PatientID == "P-77"
    assert ds.PatientSpeciesDescription == "Canine" and ds.PatientBreedDescription == "Beagle"
    study = attached.study
    assert study.patient == rex and study.description == "Skin lesion"
    assert patient_match(dataset=ds, fallback_key="x") == rex
    assert StudyEvent.objects.filter(study=study, kind="media_added").exists()
    series_thumbnails_render(series_id=attached.instance.series_id)
    attached.instance.refresh_from_db()
    assert attached.instance.thumbnail_state == ThumbnailState.DONE  # YBR_FULL_422 JPEG draws


def test_exif_orientation_turns_the_photo_upright(rex):
    # Orientation 6: the camera was turned; the 64×48 sensor image is shown 48 wide, 64 high.
    attached = _attach(photo_jpeg(width=64, height=48, orientation=6), rex)
    ds = _stored(attached.instance)
    assert (ds.Rows, ds.Columns) == (64, 48)
    assert ds.file_meta.TransferSyntaxUID == JPEGBaseline8Bit
    pixels = ds.pixel_array
    assert pixels.shape == (64, 48, 3)
    # The bright corner, top left before turning, is top right after a 90° clockwise turn.
    assert pixels[2, 45].mean() > pixels[2, 2].mean() + 60


def test_a_png_stays_lossless_rgb_and_draws_as_a_thumbnail(rex):
    png = photo_png(width=40, height=30, alpha=True)
    attached = _attach(png, rex, name="screen.png")
    ds = _stored(attached.instance)
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert ds.PhotometricInterpretation == "RGB" and ds.LossyImageCompression == "00"
    original = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert np.array_equal(ds.pixel_array[1:], original[1:])  # the transparent pixel became white
    assert tuple(ds.pixel_array[0, 0]) == (255, 255, 255)
    series_thumbnails_render(series_id=attached.instance.series_id)
    attached.instance.refresh_from_db()
    assert attached.instance.thumbnail_state == ThumbnailState.DONE


def test_a_progressive_jpeg_is_written_once_as_baseline(rex):
    attached = _attach(photo_jpeg(progressive=True), rex)
    ds = _stored(attached.instance)
    assert ds.file_meta.TransferSyntaxUID == JPEGBaseline8Bit
    assert list(ds.ImageType)[0] == "DERIVED"
    assert ds.pixel_array.shape == (48, 64, 3)


@pytest.mark.parametrize(
    ("kind", "sop_class", "modality", "description"),
    [
        (ENDOSCOPY, VideoEndoscopicImageStorage, "ES", "Endoscopy video"),
        (OTHER, VideoPhotographicImageStorage, "XC", "Video"),
    ],
)
def test_an_mp4_goes_whole_into_one_fragment(rex, kind, sop_class, modality, description):
    mp4 = video_mp4(width=160, height=120, frames=30, rate=15)
    attached = _attach(mp4, rex, name="scope.mp4", video_kind=kind)
    ds = _stored(attached.instance)
    assert ds.SOPClassUID == sop_class and ds.Modality == modality
    assert ds.SeriesDescription == description
    assert ds.file_meta.TransferSyntaxUID == MPEG4HP41
    assert (ds.Rows, ds.Columns, ds.NumberOfFrames) == (120, 160, 30)
    assert float(ds.FrameTime) == pytest.approx(1000 / 15, abs=0.01) and ds.CineRate == 15
    assert ds.PhotometricInterpretation == "YBR_PARTIAL_420"
    fragments = _fragments(ds)
    assert len(fragments) == 1 and fragments[0][: len(mp4)] == mp4
    assert attached.instance.number_of_frames == 30
    # Played back out of the stored file, the MP4 is the uploaded one to the byte.
    with instance_media_open(attached.instance) as (media, handle):
        assert media.content_type == "video/mp4" and media.length == len(mp4)
        assert b"".join(media.read(handle, 0, media.length)) == mp4
        assert b"".join(media.read(handle, 100, 200)) == mp4[100:200]


def test_an_odd_length_mp4_is_padded_in_dicom_and_comes_back_exact(rex):
    mp4 = video_mp4(frames=12)
    if len(mp4) % 2 == 0:
        mp4 += b"\0\0\0\x09free\0"  # a 9-byte free box: still a valid MP4, now odd in length
    attached = _attach(mp4, rex)
    fragment = _fragments(_stored(attached.instance))[0]
    assert len(fragment) == len(mp4) + 1
    with instance_media_open(attached.instance) as (media, handle):
        assert b"".join(media.read(handle, 0, media.length)) == mp4


def test_a_level_42_stream_gets_the_level_42_transfer_syntax(rex):
    attached = _attach(video_mp4(level="4.2", frames=6), rex)
    assert attached.instance.transfer_syntax_uid == MPEG4HP422D


def test_a_video_thumbnail_is_its_first_frame(rex):
    attached = _attach(video_mp4(frames=10), rex)
    with storage.instance_open(attached.instance.storage_key) as handle:
        thumbnail = render.thumbnail_for(handle, size=64)
    assert thumbnail.error == ""
    image = Image.open(io.BytesIO(thumbnail.png))
    assert image.size == (64, 48)


def test_a_pdf_round_trips_as_encapsulated_pdf(rex):
    pdf = document_pdf() + b" "  # odd length: padded in DICOM, exact when read back
    attached = _attach(pdf, rex, name="Referral_letter.pdf")
    ds = _stored(attached.instance)
    assert ds.SOPClassUID == EncapsulatedPDFStorage and ds.Modality == "DOC"
    assert ds.MIMETypeOfEncapsulatedDocument == "application/pdf"
    assert ds.DocumentTitle == "Referral letter"
    assert ds.EncapsulatedDocumentLength == len(pdf)
    with instance_media_open(attached.instance) as (media, handle):
        assert media.content_type == "application/pdf"
        assert b"".join(media.read(handle, 0, media.length)) == pdf
    series_thumbnails_render(series_id=attached.instance.series_id)
    attached.instance.refresh_from_db()
    assert attached.instance.thumbnail_state == ThumbnailState.DONE  # a labelled document tile


def test_a_batch_shares_a_series_per_kind_in_an_existing_study(rex):
    study = portal_study()
    Study.objects.filter(pk=study.pk).update(patient=rex)
    study.refresh_from_db()
    first = _attach(photo_jpeg(width=32), rex, study, batch="visit")
    second = _attach(photo_jpeg(width=48), rex, study, batch="visit")
    pdf = _attach(document_pdf(), rex, study, batch="visit")
    assert first.instance.series_id == second.instance.series_id != pdf.instance.series_id
    series = Series.objects.get(pk=first.instance.series_id)
    assert series.study == study and series.instance_count == 2
    assert series.series_number == 2  # after the study's own series
    ds = _stored(second.instance)
    assert ds.StudyInstanceUID == study.study_instance_uid and ds.InstanceNumber == 2


def test_the_same_file_twice_is_one_instance(rex):
    jpeg = photo_jpeg()
    first = _attach(jpeg, rex, batch="a")
    again = _attach(jpeg, rex, first.study, batch="b")
    assert again.status == "duplicate" and again.instance.pk == first.instance.pk
    assert Instance.objects.count() == 1


def test_a_study_of_another_patient_is_refused(rex):
    other = Patient.objects.create(patient_id="P-78", name="Tom", species=Species.FELINE)
    study = _attach(photo_jpeg(), other).study
    with pytest.raises(MediaRefused, match="another patient"):
        _attach(photo_png(), rex, study)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            b"\0\0\0\x18ftypheic\0\0\0\0mif1heic",
            "HEIC photos are not supported: export the photo as JPEG",
        ),
        (b"GIF89a" + b"\0" * 40, "GIF images are not supported"),
        (b"\0\0\0\x14ftypqt  \0\0\0\0qt  ", "MOV"),
        (b"hello, world", "this kind of file is not supported"),
        (b"%PDF-1.4\n1 0 obj", "the PDF is incomplete"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 20, "the photo cannot be read"),
    ],
)
def test_unsupported_files_are_refused_with_a_reason(rex, data, reason):
    with pytest.raises(MediaRefused, match=reason):
        _attach(data, rex)
    assert Instance.objects.count() == 0


def test_a_video_that_is_not_h264_is_refused(rex):
    with pytest.raises(MediaRefused, match="not H.264"):
        _attach(video_mp4(codec="mpeg4", frames=4), rex)


def test_an_h264_profile_dicom_cannot_carry_is_refused(rex):
    mp4 = bytearray(video_mp4(frames=4))
    at = mp4.index(b"avcC") + 5  # AVCDecoderConfigurationRecord.AVCProfileIndication
    mp4[at] = 110  # High 10
    with pytest.raises(MediaRefused, match="High 10"):
        _attach(bytes(mp4), rex)


def test_a_video_larger_than_1080p_is_refused(rex):
    with pytest.raises(MediaRefused, match="1080p"):
        _attach(video_mp4(width=2048, height=1088, frames=2), rex)


@pytest.mark.peer
@pytest.mark.parametrize(
    ("make", "options"),
    [
        (lambda: photo_jpeg(), {}),
        (lambda: photo_png(), {}),
        (lambda: video_mp4(frames=5), {"video_kind": ENDOSCOPY}),
        (lambda: video_mp4(frames=5), {"video_kind": OTHER}),
        (lambda: document_pdf(), {}),
    ],
    ids=["jpeg", "png", "endoscopy-video", "video", "pdf"],
)
def test_dciodvfy_finds_no_error_in_the_written_file(rex, tmp_path, make, options):
    dciodvfy = require_executable("dciodvfy")
    attached = _attach(make(), rex, **options)
    path = tmp_path / "converted.dcm"
    with storage.instance_open(attached.instance.storage_key) as handle:
        path.write_bytes(handle.read())
    checked = subprocess.run([dciodvfy, "-new", str(path)], capture_output=True, text=True)
    report = checked.stdout + checked.stderr
    assert "Error" not in report, report


@pytest.mark.peer
@pytest.mark.django_db(transaction=True)
def test_a_video_series_is_sent_intact_in_its_mpeg4_transfer_syntax(rex, settings):
    settings.CELERY_BROKER_URL = None  # the send runs on this process's task thread
    mp4 = video_mp4(frames=20)
    attached = _attach(mp4, rex, video_kind=ENDOSCOPY)
    with pynetdicom_scp(
        ae_title="ENDO_PACS",
        transfer_syntaxes=[MPEG4HP41, ExplicitVRLittleEndian],
        sop_classes=[VideoEndoscopicImageStorage],
    ) as (port, received):
        destination_for("Endoscopy PACS", port, "ENDO_PACS")
        call_command(
            "send_study", attached.study.study_instance_uid, "--to", "Endoscopy PACS", "--wait"
        )
    assert len(received) == 1
    ds = received[0]
    assert ds.file_meta.TransferSyntaxUID == MPEG4HP41
    assert ds.SOPInstanceUID == attached.instance.sop_instance_uid
    assert _fragments(ds)[0][: len(mp4)] == mp4
