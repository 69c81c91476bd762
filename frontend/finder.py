"""The finder: paste a UID, accession number, patient ID, microchip, or a patient or owner name,
and see where each matching study is now — here (complete or missing views), sent where and
confirmed or not, shared with whom, which order it fulfils.

A UID or accession the portal never received says so plainly, with the last associations of
the device the exam was booked on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db.models import Count, Q

from imaging.association_models import AssociationRecord
from imaging.models import Instance, SendItemState, Series, Study, StudyStatus
from sharing.models import ShareState
from worklist.completeness import Completeness, order_completeness
from worklist.models import Order

FINDER_LIMIT = 50  # studies listed for one search; a name matching more asks for more words
# PS3.5 9.1: a UID is digits and dots, at most 64 characters.
UID_PATTERN = re.compile(r"^[0-9]+(\.[0-9]+)+$")


@dataclass(frozen=True)
class SentTo:
    destination: str
    state: str
    state_label: str
    confirmed: int
    total: int


@dataclass(frozen=True)
class SharedWith:
    who: str
    state: str
    state_label: str
    opened: bool


@dataclass
class Whereabouts:
    study: Study
    matched_by: str
    order: Order | None = None
    completeness: Completeness | None = None
    sends: list[SentTo] = field(default_factory=list)
    shares: list[SharedWith] | None = None  # None: the user may not see shares

    @property
    def here(self) -> str:
        """'Here: complete, 12 instances' in words, with missing views when expected."""
        study = self.study
        state = "receiving" if study.status == StudyStatus.RECEIVING else "complete"
        n = study.instance_count
        text = f"Here: {state}, {n} instance{'s' if n != 1 else ''} in {study.series_count} series"
        if self.completeness is not None:
            text += f"; {self.completeness}"
        return text


@dataclass
class FinderResult:
    text: str
    found: list[Whereabouts] = field(default_factory=list)
    truncated: bool = False
    # When nothing here matches: why, in words, and what the device did lately.
    not_received: str = ""
    booked: Order | None = None
    device_associations: list[AssociationRecord] = field(default_factory=list)


def _matches(text: str) -> list[tuple[str, Q]]:
    """(what matched, studies filter) for every key kind the text could be."""
    kinds: list[tuple[str, Q]] = []
    if UID_PATTERN.match(text):
        kinds += [
            ("Study Instance UID", Q(study_instance_uid=text)),
            (
                "Series Instance UID",
                Q(pk__in=Series.objects.filter(series_instance_uid=text).values("study_id")),
            ),
            (
                "SOP Instance UID",
                Q(pk__in=Instance.objects.filter(sop_instance_uid=text).values("series__study_id")),
            ),
        ]
    kinds += [
        ("accession number", Q(accession_number__iexact=text)),
        ("accession number", Q(order__accession_number__iexact=text)),
        ("patient ID", Q(patient__patient_id__iexact=text)),
        ("microchip", Q(patient__microchip__iexact=text)),
    ]
    if not UID_PATTERN.match(text) and len(text) >= 2:
        kinds += [
            ("patient name", Q(patient__name__icontains=text)),
            (
                "owner",
                Q(patient__owner__last_name__icontains=text)
                | Q(patient__owner__first_name__icontains=text)
                | Q(patient__owner__organization__icontains=text)
                | Q(patient__responsible_person__icontains=text),
            ),
        ]
    return kinds


def _sends(study: Study) -> list[SentTo]:
    jobs = study.send_jobs.select_related("destination").annotate(
        confirmed=Count("items", filter=Q(items__state=SendItemState.CONFIRMED)),
        total=Count("items"),
    )
    return [
        SentTo(
            destination=job.destination.name,
            state=job.state,
            state_label=job.get_state_display(),
            confirmed=job.confirmed,
            total=job.total,
        )
        for job in jobs
    ]


def _shares(study: Study) -> list[SharedWith]:
    shares = study.shares.select_related("consultant").annotate(
        opened=Count("accesses", filter=Q(accesses__action="opened"))
    )
    return [
        SharedWith(
            who=share.consultant.name if share.consultant else share.email,
            state=share.state(),
            state_label=ShareState(share.state()).label,
            opened=bool(share.opened),
        )
        for share in shares
    ]


def _not_received(result: FinderResult, text: str) -> None:
    """Say plainly that nothing here matches, and what the booked device did lately."""
    order = (
        Order.objects.filter(Q(accession_number__iexact=text) | Q(study_instance_uid=text))
        .select_related("patient", "device", "procedure")
        .first()
    )
    if order is not None:
        result.booked = order
        result.not_received = (
            f"Not received: order {order.accession_number} ({order.procedure.name} for "
            f"{order.patient.name}) is booked on {order.device.name}, but no association has "
            "brought its images yet."
        )
        result.device_associations = list(
            AssociationRecord.objects.incoming().filter(calling_ae=order.device.ae_title)[:5]
        )
        return
    if UID_PATTERN.match(text):
        result.not_received = "Not received: no association has brought this UID."
    else:
        result.not_received = f"Nothing here matches “{text}”."


def where_find(*, text: str, user) -> FinderResult:
    """Every study `text` could mean, with where it is now (see the module docstring)."""
    text = text.strip()[:100]
    result = FinderResult(text=text)
    if not text or not user.has_perm("imaging.view_study"):
        return result
    matched_by: dict[int, str] = {}
    for label, condition in _matches(text):
        for pk in Study.objects.filter(condition).values_list("pk", flat=True)[: FINDER_LIMIT + 1]:
            matched_by.setdefault(pk, label)
    if not matched_by:
        _not_received(result, text)
        return result
    result.truncated = len(matched_by) > FINDER_LIMIT
    studies = (
        Study.objects.filter(pk__in=list(matched_by)[:FINDER_LIMIT])
        .select_related("patient__owner", "order__procedure", "device")
        .prefetch_related("order__procedure__views", "series")
    )
    may_see_sends = user.has_perm("imaging.view_sendjob")
    may_see_shares = user.has_perm("sharing.view_share")
    for study in studies:
        order = getattr(study, "order", None)
        result.found.append(
            Whereabouts(
                study=study,
                matched_by=matched_by[study.pk],
                order=order,
                completeness=order_completeness(order) if order else None,
                sends=_sends(study) if may_see_sends else [],
                shares=_shares(study) if may_see_shares else None,
            )
        )
    return result
