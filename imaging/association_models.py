"""The association log: one row per DICOM association, incoming or outgoing.

Written once, when the association ends (or is refused), from what was counted in memory
while it ran, so recording never slows receiving. Kept ASSOCIATION_LOG_DAYS days.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class Direction(models.TextChoices):
    INCOMING = "in", "Incoming"
    OUTGOING = "out", "Outgoing"


class Outcome(models.TextChoices):
    RELEASED = "released", "Released"
    ABORTED = "aborted", "Aborted"
    REJECTED = "rejected", "Rejected"
    # Outgoing only: no association came about (nothing listening, TLS refused, …).
    FAILED = "failed", "Could not connect"


class AssociationRecordQuerySet(models.QuerySet):
    def incoming(self) -> "AssociationRecordQuerySet":
        return self.filter(direction=Direction.INCOMING)

    def with_problems(self) -> "AssociationRecordQuerySet":
        return self.filter(problem_count__gt=0)

    def search(self, text: str) -> "AssociationRecordQuerySet":
        """By AE title (calling or called) or peer address."""
        text = text.strip()
        if not text:
            return self
        return self.filter(
            Q(calling_ae__iexact=text)
            | Q(called_ae__iexact=text)
            | Q(calling_ae__istartswith=text)
            | Q(peer_host__startswith=text)
        )

    def brought(self, study_uid: str) -> "AssociationRecordQuerySet":
        """Incoming associations that delivered instances of this study."""
        return self.incoming().filter(studies__has_key=study_uid)


class AssociationRecord(models.Model):
    direction = models.CharField(max_length=3, choices=Direction.choices)
    calling_ae = models.CharField("calling AE title", max_length=16, blank=True)
    called_ae = models.CharField("called AE title", max_length=16, blank=True)
    peer_host = models.CharField(max_length=255, blank=True)
    peer_port = models.PositiveIntegerField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    # How it ended, in words: the A-ASSOCIATE-RJ reason, the abort, the connection failure.
    outcome_reason = models.CharField(max_length=300, blank=True)
    # [[SOP class name, transfer syntax name], …] and [[SOP class name, reason], …].
    accepted_contexts = models.JSONField(default=list, blank=True)
    rejected_contexts = models.JSONField(default=list, blank=True)
    # DIMSE requests by kind and side, e.g. {"C-STORE received": 12, "C-ECHO received": 1}.
    operations = models.JSONField(default=dict, blank=True)
    # Instances received (incoming) or sent (outgoing) successfully.
    instances = models.PositiveIntegerField(default=0)
    # Failures in words (instances refused, called AE title mismatch, rejection …), capped.
    problems = models.JSONField(default=list, blank=True)
    problem_count = models.PositiveIntegerField(default=0)
    # {Study Instance UID: {"new": n, "duplicate": n, "replaced": n}} (incoming).
    studies = models.JSONField(default=dict, blank=True)

    objects = AssociationRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [
            models.Index(fields=["-started_at"], name="assoc_started_idx"),
            models.Index(
                fields=["direction", "calling_ae", "-started_at"], name="assoc_calling_idx"
            ),
            models.Index(fields=["peer_host", "-started_at"], name="assoc_peer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.calling_ae}→{self.called_ae} {self.outcome}"

    @property
    def peer_address(self) -> str:
        return f"{self.peer_host}:{self.peer_port}" if self.peer_port else self.peer_host

    @property
    def device_ae(self) -> str:
        """The other node's AE title: the caller of an incoming association, the called of ours."""
        return self.calling_ae if self.direction == Direction.INCOMING else self.called_ae

    @property
    def failed(self) -> bool:
        return self.outcome in (Outcome.REJECTED, Outcome.FAILED, Outcome.ABORTED)

    def summary(self) -> str:
        """One line for lists: what went over the association, in words."""
        if self.outcome in (Outcome.REJECTED, Outcome.FAILED):
            return self.outcome_reason or self.get_outcome_display()
        ops = ", ".join(f"{count} {kind}" for kind, count in sorted(self.operations.items()))
        return ops or "no operations"
