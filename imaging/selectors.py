"""Reads of studies, series and instances for the API, scoped to what a user may see."""

from datetime import date, datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet

from imaging.models import Instance, Series, Study, ThumbnailState

User = AbstractBaseUser | AnonymousUser

# The statuses a technician filters by (see StudyQuerySet.with_status).
STUDY_STATUSES = ["receiving", "complete", "thumbnails_pending", "unverified"]


def studies_visible_to(user: User) -> QuerySet[Study]:
    """Studies the user may see, with their patient, owner, device and series loaded.

    A page of studies costs the same few queries however many studies it holds: the
    patient summary comes by join, the series by one prefetch, and whether thumbnails are
    still pending by a subquery.
    """
    pending = Instance.objects.filter(
        series__study=OuterRef("pk"), thumbnail_state=ThumbnailState.PENDING
    )
    return (
        Study.objects.visible_to(user)
        .select_related("patient__owner", "device")
        .prefetch_related(
            Prefetch(
                "series",
                queryset=Series.objects.order_by(
                    F("series_number").asc(nulls_last=True), "received_at"
                ),
            )
        )
        .annotate(thumbnails_pending=Exists(pending))
    )


def study_list(
    *,
    user: User,
    received_after: datetime | None = None,
    received_before: datetime | None = None,
    study_date: date | None = None,
    modality: str = "",
    patient: int | None = None,
    status: str = "",
    q: str = "",
) -> QuerySet[Study]:
    """Studies for the list endpoint, newest arrival first; every filter is optional."""
    studies = studies_visible_to(user)
    if received_after:
        studies = studies.filter(received_at__gte=received_after)
    if received_before:
        studies = studies.filter(received_at__lt=received_before)
    if study_date:
        studies = studies.filter(study_date=study_date)
    if modality:
        studies = studies.filter(_has_modality(modality))
    if patient:
        studies = studies.filter(patient_id=patient)
    if status:
        studies = studies.with_status(status)
    if q:
        studies = studies.search(q)
    return studies.order_by("-received_at", "-pk")


def _has_modality(modality: str) -> Q:
    # Modalities in Study (0008,0061) is multi-valued, stored backslash-separated ("CT\SR"):
    # match a whole value, so "CT" finds "CT\SR" but never "PCT".
    modality = modality.upper()
    return (
        Q(modalities=modality)
        | Q(modalities__startswith=modality + "\\")
        | Q(modalities__endswith="\\" + modality)
        | Q(modalities__contains="\\" + modality + "\\")
    )


def study_display_statuses(study: Study) -> list[str]:
    """What a technician sees of a study: its arrival status, then anything that needs doing."""
    statuses = [study.status]
    pending = getattr(study, "thumbnails_pending", None)
    if pending is None:
        pending = Instance.objects.filter(
            series__study=study, thumbnail_state=ThumbnailState.PENDING
        ).exists()
    if pending:
        statuses.append("thumbnails_pending")
    if not study.patient.verified:
        statuses.append("unverified")
    return statuses


def series_visible_to(user: User) -> QuerySet[Series]:
    return Series.objects.filter(study__in=Study.objects.visible_to(user))


def instances_visible_to(user: User) -> QuerySet[Instance]:
    return Instance.objects.filter(series__study__in=Study.objects.visible_to(user))
