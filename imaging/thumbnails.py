"""Thumbnails for arriving series: one queued render per burst of arrivals, done in the background.

Ingest calls `series_thumbnails_request` after every stored instance. A conditional update on
`Series.thumbnail_render_queued` lets only the first of many arrivals queue a run, so a
1,000-slice CT queues a handful of renders, not a thousand.
"""

import logging
import time
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.db.models import F
from django.utils import timezone

from clinic import queue
from imaging import render, storage
from imaging.dicomweb.metadata import series_metadata_warm
from imaging.models import Instance, Series, StudyStatus, ThumbnailState

logger = logging.getLogger(__name__)

THUMBNAIL_SIZE = 256
# Arrivals within this many seconds of the first share one run.
DEBOUNCE_SECONDS = 0.5
# One run renders for at most this long, then queues the rest, so a long series never holds
# a worker while other studies wait for their first thumbnail.
RUN_BUDGET_SECONDS = 60.0


def series_thumbnails_request(*, series_id: int) -> None:
    """Queue a render of the series' pending thumbnails, unless one is queued already."""
    claimed = Series.objects.filter(pk=series_id, thumbnail_render_queued=False).update(
        thumbnail_render_queued=True
    )
    if claimed == 1:
        from imaging import tasks  # tasks wrap this module: import at call time

        queue.enqueue(tasks.render_series_thumbnails, series_id, countdown=DEBOUNCE_SECONDS)


def series_thumbnails_render(*, series_id: int, budget_seconds: float = RUN_BUDGET_SECONDS) -> None:
    """Render every pending instance thumbnail of the series, then its representative thumbnail."""
    # Release the claim first: instances that arrive while this run works queue the next one.
    Series.objects.filter(pk=series_id).update(thumbnail_render_queued=False)
    series = Series.objects.select_related("study").filter(pk=series_id).first()
    if series is None:
        return  # deleted since it was queued
    representative_id = _representative_id(series)
    pending = list(series.instances.filter(thumbnail_state=ThumbnailState.PENDING).order_by("pk"))
    # The representative first, so the series shows a picture as early as possible.
    pending.sort(key=lambda instance: instance.pk != representative_id)
    if series.study.status == StudyStatus.RECEIVING:
        # While images still arrive, draw only the series' picture: rendering every slice now
        # would take CPU from receiving. The rest follow when the study completes.
        pending = pending[:1]
    deadline = time.monotonic() + budget_seconds
    for number, instance in enumerate(pending):
        if number and time.monotonic() > deadline:
            logger.info(
                "series %s: %d thumbnails left for the next run", series_id, len(pending) - number
            )
            series_thumbnails_request(series_id=series_id)
            break
        instance_thumbnail_render(instance=instance, series=series)
        if number == 0:
            series_thumbnail_update(series=series)
    else:
        if series.study.status != StudyStatus.RECEIVING:
            # The series is whole and drawn: build the viewer's metadata now, so opening a
            # large series does not wait for every header to be read.
            try:
                series_metadata_warm(series_id=series_id)
            except Exception:
                logger.exception("series %s: viewer metadata not built ahead", series_id)
    series_thumbnail_update(series=series)


def instance_thumbnail_render(*, instance: Instance, series: Series) -> str:
    """Render and store one instance's thumbnail (or a placeholder saying why); returns its state."""
    try:
        with storage.instance_open(instance.storage_key) as handle:
            result = render.thumbnail_for(handle, size=THUMBNAIL_SIZE)
    except SoftTimeLimitExceeded:
        raise
    except FileNotFoundError:
        result = _failure("Cannot display: file missing from storage")
    except Exception:
        # One unreadable file must never stop the rest of the series.
        logger.exception("thumbnail of instance %s failed", instance.sop_instance_uid)
        result = _failure("Cannot display: unexpected error while drawing")
    key = storage.thumbnail_key(
        study_uid=series.study.study_instance_uid,
        series_uid=series.series_instance_uid,
        sop_uid=instance.sop_instance_uid,
    )
    storage.derived_save(key, result.png)
    state = ThumbnailState.FAILED if result.error else ThumbnailState.DONE
    if result.error:
        logger.info("instance %s: %s", instance.sop_instance_uid, result.error)
    # Guarded by the content hash: if a new version replaced the file meanwhile, it stays pending
    # and the run its arrival queued renders it.
    Instance.objects.filter(pk=instance.pk, sha256=instance.sha256).update(
        thumbnail_key=key, thumbnail_state=state, thumbnail_error=result.error[:255]
    )
    return state


def series_thumbnail_update(*, series: Series) -> None:
    """Copy the representative instance's thumbnail to the series' own thumbnail."""
    representative = Instance.objects.filter(pk=_representative_id(series)).first()
    if representative is None or representative.thumbnail_state == ThumbnailState.PENDING:
        return
    if not representative.thumbnail_key:
        return
    try:
        with storage.thumbnail_open(representative.thumbnail_key) as handle:
            png = handle.read()
    except FileNotFoundError:
        return  # replaced while we looked; its own run will set the series thumbnail
    key = storage.thumbnail_key(
        study_uid=series.study.study_instance_uid, series_uid=series.series_instance_uid
    )
    storage.derived_save(key, png)
    Series.objects.filter(pk=series.pk).exclude(thumbnail_key=key).update(thumbnail_key=key)
    series.thumbnail_key = key


def study_thumbnails_request(*, study_ids: list[int]) -> None:
    """Queue renders for every series of these studies that still has pending thumbnails."""
    series_ids = set(
        Instance.objects.filter(
            series__study_id__in=study_ids, thumbnail_state=ThumbnailState.PENDING
        ).values_list("series_id", flat=True)
    )
    for series_id in series_ids:
        series_thumbnails_request(series_id=series_id)


def series_thumbnails_requeue_stalled(*, older_than: timedelta = timedelta(minutes=10)) -> int:
    """Queue again series whose thumbnails stayed pending (a lost message, a killed process)."""
    cutoff = timezone.now() - older_than
    series_ids = set(
        Instance.objects.filter(
            thumbnail_state=ThumbnailState.PENDING, received_at__lt=cutoff
        ).values_list("series_id", flat=True)
    )
    for series_id in series_ids:
        Series.objects.filter(pk=series_id).update(thumbnail_render_queued=False)
        series_thumbnails_request(series_id=series_id)
    return len(series_ids)


def _representative_id(series: Series) -> int | None:
    """The middle instance by instance number (the only one of a single-instance series)."""
    ids = list(
        series.instances.order_by(
            F("instance_number").asc(nulls_last=True), "received_at", "pk"
        ).values_list("pk", flat=True)
    )
    return ids[len(ids) // 2] if ids else None


def _failure(reason: str) -> render.Thumbnail:
    return render.Thumbnail(png=render.placeholder(reason, size=THUMBNAIL_SIZE), error=reason)
