"""Printing through the Basic Grayscale Print Management Meta SOP Class, checked on what a
print SCP received (film session, film box, image boxes, the print action)."""

import numpy as np
import pytest
from PIL import Image
from pynetdicom import AE
from pynetdicom.sop_class import BasicFilmBox, BasicFilmSession, Verification

from bench.processes import free_port
from imaging.models import Instance
from printing import jobs
from printing.jobs import ImageChoice, PrintError
from printing.models import PrintJob, PrintState
from tests.printing.conftest import ingest_study, printer_for
from tests.printing.print_scp import PrinterBehaviour, print_scp

pytestmark = pytest.mark.django_db


def _images(study) -> list[ImageChoice]:
    instances = Instance.objects.filter(series__study=study).order_by("series__series_number")
    return [ImageChoice(i.sop_instance_uid, 1) for i in instances]


def _run(job: PrintJob) -> PrintJob:
    jobs.print_job_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def test_four_views_print_on_one_2x2_film(four_views, tech):
    with print_scp() as (port, record, _):
        printer = printer_for(port, medium_type="BLUE FILM", magnification="CUBIC")
        job = jobs.print_job_create(
            study=four_views, destination=printer, images=_images(four_views),
            layout="STANDARD\\2,2", film_size="10INX12IN", orientation="LANDSCAPE", copies=2,
            annotations=False, user=tech,
        )  # fmt: skip
        job = _run(job)
    assert job.state == PrintState.DONE, job.error
    assert (job.films, job.printer_status, job.attempts) == (1, "NORMAL", 1)
    (session,) = record.sessions.values()
    assert (session.NumberOfCopies, session.MediumType) == (2, "BLUE FILM")
    (film_box,) = record.film_boxes.values()
    assert film_box.ImageDisplayFormat == "STANDARD\\2,2"
    assert (film_box.FilmSizeID, film_box.FilmOrientation) == ("10INX12IN", "LANDSCAPE")
    assert film_box.MagnificationType == "CUBIC"
    assert film_box.ReferencedFilmSessionSequence[0].ReferencedSOPInstanceUID in record.sessions
    boxes = record.printed_boxes()
    assert len(boxes) == 4
    for box in boxes:
        # The 128×128 frames fit their box (10×12 in landscape, 2×2: 900×750 px): sent as is.
        assert box.pixels.shape == (128, 128)
        assert (box.photometric, box.bits_stored, box.pixel_aspect) == ("MONOCHROME2", 8, [1, 1])
        assert box.pixels.max() > box.pixels.min()  # a real picture, not a blank box
    assert [a[:2] for a in record.actions] == [(BasicFilmBox, 1)]
    assert (BasicFilmSession, next(iter(record.sessions))) in record.deleted


def test_more_images_than_boxes_print_on_more_films(four_views, tech):
    with print_scp() as (port, record, _):
        job = jobs.print_job_create(
            study=four_views, destination=printer_for(port), images=_images(four_views)[:3],
            layout="STANDARD\\1,2", user=tech,
        )  # fmt: skip
        job = _run(job)
    assert job.state == PrintState.DONE, job.error
    assert job.films == 2
    assert len(record.film_boxes) == 2
    assert len(record.printed_boxes()) == 3
    assert len(record.sessions) == 1  # both films in the one session


def test_annotations_are_burned_into_the_printed_image(study, image, length_annotation, tech):
    printed = {}
    for burned in (True, False):
        with print_scp() as (port, record, _):
            destination = printer_for(port, name=f"Camera {burned}")
            job = jobs.print_job_create(
                study=study, destination=destination,
                images=[ImageChoice(image.sop_instance_uid, 1)], annotations=burned, user=tech,
            )  # fmt: skip
            assert _run(job).state == PrintState.DONE, job.error
            (box,) = record.printed_boxes()
            printed[burned] = box.pixels
    with_marks, plain = printed[True], printed[False]
    # Drawn at the key images' drawing size; the plain frame goes at its own 128 pixels.
    zoom = with_marks.shape[0] / plain.shape[0]
    plain_big = np.asarray(
        Image.fromarray(plain).resize(with_marks.shape[::-1], Image.Resampling.BICUBIC)
    )

    def at(pixels, column, row):
        return int(pixels[int((row + 0.5) * zoom), int((column + 0.5) * zoom)])

    # The length line from (10, 20) to (110, 20), amber turned grey; a far corner unchanged.
    assert abs(at(with_marks, 60, 20) - at(plain_big, 60, 20)) > 40
    assert abs(at(with_marks, 120, 120) - at(plain_big, 120, 120)) <= 2


def test_the_window_shown_in_the_viewer_is_the_window_printed(study, image, tech):
    printed = []
    for window in ((None, None), (0.0, 2.0)):
        with print_scp() as (port, record, _):
            choice = ImageChoice(image.sop_instance_uid, 1, *window)
            job = jobs.print_job_create(
                study=study, destination=printer_for(port, name=f"Camera {window}"),
                images=[choice], annotations=False, user=tech,
            )  # fmt: skip
            assert _run(job).state == PrintState.DONE, job.error
            printed.append(record.printed_boxes()[0].pixels)
    default, narrow = printed
    # A window 2 wide around 0 makes everything above it white.
    assert (narrow == 255).mean() > 0.9
    assert (default == 255).mean() < 0.5


def test_a_refused_film_size_fails_the_job_in_plain_words(study, tech):
    behaviour = PrinterBehaviour(film_sizes=("8INX10IN",))
    with print_scp(behaviour=behaviour) as (port, record, _):
        job = jobs.print_job_create(
            study=study, destination=printer_for(port), images=_images(study)[:1],
            film_size="14INX17IN", user=tech,
        )  # fmt: skip
        job = _run(job)
    assert job.state == PrintState.FAILED
    assert "refused film size 14INX17IN" in job.error
    assert "it offers 8INX10IN, 10INX12IN, 14INX17IN" in job.error
    assert "Film camera" in job.error
    assert not record.actions


def test_an_unreachable_printer_fails_the_job_in_plain_words(study, tech):
    port = free_port()  # nothing listens there
    printer = printer_for(port, name="PRINTER1")
    job = jobs.print_job_create(
        study=study, destination=printer, images=_images(study)[:1], user=tech
    )
    job = _run(job)
    assert job.state == PrintState.FAILED
    assert f"printer PRINTER1 (PRINTSCP) at 127.0.0.1:{port} did not answer" in job.error
    assert "Nothing is listening" in job.error


def test_a_printer_reporting_failure_prints_nothing(study, tech):
    behaviour = PrinterBehaviour(status="FAILURE", status_info="NO FILM")
    with print_scp(behaviour=behaviour) as (port, record, _):
        job = jobs.print_job_create(
            study=study, destination=printer_for(port), images=_images(study)[:1], user=tech
        )
        job = _run(job)
    assert job.state == PrintState.FAILED
    assert "reports a failure (NO FILM)" in job.error
    assert not record.sessions


def test_a_failed_job_can_be_tried_again(study, tech):
    behaviour = PrinterBehaviour(status="FAILURE", status_info="NO FILM")
    with print_scp(behaviour=behaviour) as (port, record, behaviour):
        job = jobs.print_job_create(
            study=study, destination=printer_for(port), images=_images(study)[:1], user=tech
        )
        assert _run(job).state == PrintState.FAILED
        behaviour.status, behaviour.status_info = "NORMAL", "NORMAL"
        jobs.print_job_retry(job_id=job.pk)
        job = _run(job)
    assert job.state == PrintState.DONE, job.error
    assert (job.attempts, job.error) == (2, "")
    with pytest.raises(PrintError, match="Only a failed print"):
        jobs.print_job_retry(job_id=job.pk)


def test_the_printer_test_says_whether_it_is_ready(db):
    with print_scp(behaviour=PrinterBehaviour(status="WARNING", status_info="FILM LOW")) as (
        port,
        record,
        _,
    ):
        check = jobs.print_destination_test(destination=printer_for(port))
    assert check.ok
    assert "printer status: WARNING (FILM LOW)" in check.message
    assert record.printer_gets == 1
    down = jobs.print_destination_test(destination=printer_for(free_port(), name="Gone"))
    assert not down.ok and "Nothing is listening" in down.message


def test_a_print_is_refused_before_queueing_what_the_printer_cannot_do(study, tech):
    printer = printer_for(104, film_sizes=["8INX10IN"], default_film_size="8INX10IN")
    with pytest.raises(PrintError, match="does not offer film size 14INX17IN: it offers 8INX10IN"):
        jobs.print_job_create(
            study=study, destination=printer, images=_images(study), film_size="14INX17IN"
        )
    with pytest.raises(PrintError, match="Choose at least one image"):
        jobs.print_job_create(study=study, destination=printer, images=[])
    with pytest.raises(PrintError, match="no key images"):
        jobs.print_job_create(study=study, destination=printer, key_images=True)
    assert not PrintJob.objects.exists()


def test_a_colour_ultrasound_prints_in_grey(rex, tech):
    study = ingest_study(
        modality="US", body_part="ABDOMEN", views=[(1, "", "Liver")], photometric="RGB", bits=8
    )
    with print_scp() as (port, record, _):
        job = jobs.print_job_create(
            study=study, destination=printer_for(port), images=_images(study), user=tech
        )
        assert _run(job).state == PrintState.DONE, job.error
    (box,) = record.printed_boxes()
    assert box.pixels.shape == (128, 128)  # one grey sample per pixel
    assert box.photometric == "MONOCHROME2"
    assert box.pixels.max() > box.pixels.min()


def test_a_node_that_is_not_a_printer_is_named_as_such(study, tech):
    ae = AE(ae_title="PACS")
    ae.add_supported_context(Verification)
    server = ae.start_server(("127.0.0.1", 0), block=False)
    try:
        printer = printer_for(server.server_address[1], ae_title="PACS")
        check = jobs.print_destination_test(destination=printer)
        job = _run(
            jobs.print_job_create(
                study=study, destination=printer, images=_images(study)[:1], user=tech
            )
        )
    finally:
        server.shutdown()
    assert not check.ok and "does not accept grayscale printing" in check.message
    assert job.state == PrintState.FAILED
    assert "does not accept grayscale printing" in job.error
