"""Thumbnails of arriving series: one queued run per burst, every instance drawn, failures contained."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone
from PIL import Image
from pydicom.encaps import encapsulate
from pydicom.uid import JPEG2000Lossless, RLELossless, generate_uid

from clinic import queue
from imaging import storage, thumbnails
from imaging.ingest import instance_receive_dataset, studies_complete
from imaging.models import Instance, Series, Study, StudyStatus, ThumbnailState
from imaging.synthetic import encode, make_dataset


def _arrive(
    numbers=(1, 2, 3), *, series_uid=None, study_uid=None, released=True, **fields
) -> Series:
    """Instances of one series through ingest, as the listener would store them; `released`:
    the sender then released its association, so the study is complete."""
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    for number in numbers:
        ds = make_dataset(
            study_uid=study_uid, series_uid=series_uid, instance_number=number, **fields
        )
        received = instance_receive_dataset(dataset=ds, calling_ae="DR_ROOM1")
    if released:
        studies_complete(study_ids=[received.instance.series.study_id])
    return Series.objects.get(series_instance_uid=series_uid)


def _png(key: str) -> bytes:
    with storage.thumbnail_open(key) as handle:
        return handle.read()


def _image(key: str) -> Image.Image:
    return Image.open(io.BytesIO(_png(key)))


@pytest.mark.django_db
def test_many_requests_queue_one_render(django_capture_on_commit_callbacks):
    series = _arrive()
    Series.objects.filter(pk=series.pk).update(thumbnail_render_queued=False)

    with django_capture_on_commit_callbacks() as queued:
        thumbnails.series_thumbnails_request(series_id=series.pk)
        thumbnails.series_thumbnails_request(series_id=series.pk)

    assert len(queued) == 1
    series.refresh_from_db()
    assert series.thumbnail_render_queued


@pytest.mark.django_db
def test_render_gives_every_instance_and_the_series_a_thumbnail():
    series = _arrive()

    thumbnails.series_thumbnails_render(series_id=series.pk)

    instances = list(series.instances.order_by("instance_number"))
    assert [i.thumbnail_state for i in instances] == [ThumbnailState.DONE] * 3
    for instance in instances:
        assert instance.thumbnail_key == storage.thumbnail_key(
            study_uid=series.study.study_instance_uid,
            series_uid=series.series_instance_uid,
            sop_uid=instance.sop_instance_uid,
        )
        assert _image(instance.thumbnail_key).size == (64, 64)  # small images are not enlarged
    series.refresh_from_db()
    assert not series.thumbnail_render_queued
    assert series.thumbnail_key == storage.thumbnail_key(
        study_uid=series.study.study_instance_uid, series_uid=series.series_instance_uid
    )
    assert _png(series.thumbnail_key) == _png(instances[1].thumbnail_key)  # the middle one


@pytest.mark.django_db
def test_the_series_shows_its_middle_instance_by_number_not_by_arrival():
    series_uid, study_uid = generate_uid(), generate_uid()
    _arrive((3, 1), series_uid=series_uid, study_uid=study_uid)
    # Number 2 arrives last and looks different (inverted), so we can tell it apart.
    series = _arrive((2,), series_uid=series_uid, study_uid=study_uid, photometric="MONOCHROME1")

    thumbnails.series_thumbnails_render(series_id=series.pk)

    series.refresh_from_db()
    second = series.instances.get(instance_number=2)
    assert _png(series.thumbnail_key) == _png(second.thumbnail_key)
    assert _png(series.thumbnail_key) != _png(series.instances.get(instance_number=1).thumbnail_key)


@pytest.mark.django_db
def test_a_single_instance_series_shows_that_instance():
    series = _arrive((7,), modality="US", photometric="RGB", frames=3)

    thumbnails.series_thumbnails_render(series_id=series.pk)

    series.refresh_from_db()
    instance = series.instances.get()
    assert instance.thumbnail_state == ThumbnailState.DONE
    assert _png(series.thumbnail_key) == _png(instance.thumbnail_key)
    assert _image(series.thumbnail_key).mode == "RGB"


@pytest.mark.django_db
def test_a_broken_file_fails_alone_with_a_placeholder():
    series = _arrive((1, 3))
    broken = encode(
        make_dataset(
            study_uid=series.study.study_instance_uid,
            series_uid=series.series_instance_uid,
            instance_number=2,
        ),
        JPEG2000Lossless,
    )
    broken.PixelData = encapsulate([b"\xff\x4f\xff\x51" + b"\x00" * 400])  # a codestream gone bad
    instance_receive_dataset(dataset=broken)
    studies_complete(study_ids=[series.study_id])

    thumbnails.series_thumbnails_render(series_id=series.pk)

    states = dict(series.instances.values_list("instance_number", "thumbnail_state"))
    assert states == {1: ThumbnailState.DONE, 2: ThumbnailState.FAILED, 3: ThumbnailState.DONE}
    failed = series.instances.get(instance_number=2)
    assert failed.thumbnail_error == "Cannot display: JPEG 2000 data damaged or incomplete"
    assert _image(failed.thumbnail_key).size == (256, 256)  # the placeholder tile


@pytest.mark.django_db
def test_compressed_instances_and_a_report_in_one_study():
    series = _arrive((1,))
    study_uid = series.study.study_instance_uid
    for number, syntax in ((2, JPEG2000Lossless), (3, RLELossless)):
        ds = make_dataset(
            study_uid=study_uid, series_uid=series.series_instance_uid, instance_number=number
        )
        instance_receive_dataset(dataset=encode(ds, syntax))
    report = _arrive((1,), study_uid=study_uid, modality="SR", pixel_data=False)

    thumbnails.series_thumbnails_render(series_id=series.pk)
    thumbnails.series_thumbnails_render(series_id=report.pk)

    assert set(series.instances.values_list("thumbnail_state", flat=True)) == {ThumbnailState.DONE}
    sr = report.instances.get()
    # A report has no image, and nothing is wrong with it: a labelled tile, no error.
    assert (sr.thumbnail_state, sr.thumbnail_error) == (ThumbnailState.DONE, "")
    assert _image(sr.thumbnail_key).size == (256, 256)


@pytest.mark.django_db
def test_a_file_missing_from_storage_fails_with_the_reason():
    series = _arrive((1, 2))
    gone = series.instances.get(instance_number=1)
    storage.file_delete(gone.storage_key)

    thumbnails.series_thumbnails_render(series_id=series.pk)

    gone.refresh_from_db()
    assert gone.thumbnail_state == ThumbnailState.FAILED
    assert gone.thumbnail_error == "Cannot display: file missing from storage"
    assert series.instances.get(instance_number=2).thumbnail_state == ThumbnailState.DONE


@pytest.mark.django_db
def test_running_twice_is_harmless():
    series = _arrive()
    thumbnails.series_thumbnails_render(series_id=series.pk)
    first = {i.pk: (i.thumbnail_key, _png(i.thumbnail_key)) for i in series.instances.all()}

    thumbnails.series_thumbnails_render(series_id=series.pk)

    again = {i.pk: (i.thumbnail_key, _png(i.thumbnail_key)) for i in series.instances.all()}
    assert again == first
    assert set(series.instances.values_list("thumbnail_state", flat=True)) == {ThumbnailState.DONE}


@pytest.mark.django_db
def test_a_series_that_is_gone_is_skipped():
    thumbnails.series_thumbnails_render(series_id=987654)


@pytest.mark.django_db
def test_an_instance_replaced_while_rendering_stays_pending_for_the_next_run():
    series = _arrive((1,))
    rendering = series.instances.get()
    # A new version arrives after the run loaded the row but before it records the result.
    Instance.objects.filter(pk=rendering.pk).update(sha256="0" * 64)

    thumbnails.instance_thumbnail_render(instance=rendering, series=series)

    rendering.refresh_from_db()
    assert rendering.thumbnail_state == ThumbnailState.PENDING


@pytest.mark.django_db
def test_a_long_series_is_split_into_runs(django_capture_on_commit_callbacks):
    series = _arrive((1, 2, 3))

    with django_capture_on_commit_callbacks() as queued:
        thumbnails.series_thumbnails_render(series_id=series.pk, budget_seconds=0)

    # The representative first (so the series has a picture), the rest in the next run.
    states = dict(series.instances.values_list("instance_number", "thumbnail_state"))
    assert states == {1: ThumbnailState.PENDING, 2: ThumbnailState.DONE, 3: ThumbnailState.PENDING}
    series.refresh_from_db()
    assert series.thumbnail_key and series.thumbnail_render_queued
    assert len(queued) == 1


@pytest.mark.django_db
def test_stalled_series_are_queued_again(django_capture_on_commit_callbacks):
    series = _arrive((1,))  # its claimed run never happened (a lost message, say)
    Instance.objects.filter(series=series).update(received_at=timezone.now() - timedelta(hours=1))

    with django_capture_on_commit_callbacks() as queued:
        count = thumbnails.series_thumbnails_requeue_stalled()

    assert count == 1 and len(queued) == 1


@pytest.mark.django_db(transaction=True)
def test_embedded_mode_renders_in_process(settings):
    settings.CELERY_BROKER_URL = None  # embedded: no broker, tasks run on a thread here
    series = _arrive((1, 2))

    assert queue.wait_for_local_tasks(timeout=60)

    series.refresh_from_db()
    assert set(series.instances.values_list("thumbnail_state", flat=True)) == {ThumbnailState.DONE}
    assert series.thumbnail_key and _image(series.thumbnail_key).size == (64, 64)
    assert not series.thumbnail_render_queued


@pytest.mark.django_db
def test_while_a_study_is_receiving_only_the_series_picture_is_drawn(
    django_capture_on_commit_callbacks,
):
    series = _arrive((1, 2, 3, 4, 5), released=False)
    assert series.study.status == StudyStatus.RECEIVING

    thumbnails.series_thumbnails_render(series_id=series.pk)

    states = dict(series.instances.values_list("instance_number", "thumbnail_state"))
    assert states[3] == ThumbnailState.DONE  # the middle one: the series' picture
    assert list(states.values()).count(ThumbnailState.DONE) == 1
    series.refresh_from_db()
    assert series.thumbnail_key

    # The sender releases: the study completes and the rest are queued and drawn.
    with django_capture_on_commit_callbacks() as queued:
        studies_complete(study_ids=[series.study_id])
    assert len(queued) == 1
    assert Study.objects.get(pk=series.study_id).status == StudyStatus.COMPLETE
    thumbnails.series_thumbnails_render(series_id=series.pk)
    assert set(series.instances.values_list("thumbnail_state", flat=True)) == {ThumbnailState.DONE}
