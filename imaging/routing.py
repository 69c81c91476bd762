"""Auto-routing: rules that send complete, quiet studies on to destinations by themselves.

Runs periodically (beat). A study is routed once its last instance is older than the rule's
quiet period; when more instances arrive later, the next run sends only those (the send
service leaves out what the destination has or is getting).
"""

import logging
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from imaging.models import RoutingFiring, RoutingRule, Study
from imaging.send import SendError, send_job_create

logger = logging.getLogger(__name__)


def rule_studies(rule: RoutingRule) -> QuerySet[Study]:
    """Studies the rule's criteria match (quiet period not applied)."""
    studies = Study.objects.all()
    if rule.device_id:
        studies = studies.filter(device_id=rule.device_id)
    if rule.modality:
        studies = studies.filter(Q(modalities=rule.modality) | Q(series__modality=rule.modality))
    if rule.procedure:
        studies = studies.filter(description__icontains=rule.procedure)
    if rule.body_part:
        studies = studies.filter(series__body_part__iexact=rule.body_part)
    return studies.distinct()


def studies_route(*, now=None) -> int:
    """Send what every active rule's quiet studies have that the rule has not sent yet."""
    now = now or timezone.now()
    queued = 0
    for rule in RoutingRule.objects.filter(active=True).prefetch_related("destinations"):
        quiet = rule_studies(rule).filter(
            updated_at__lte=now - timedelta(seconds=rule.quiet_seconds)
        )
        # Only studies with instances the rule has not yet routed.
        fired = {f.study_id: f.instance_count for f in rule.firings.all()}
        for study in quiet.exclude(instance_count=0):
            if fired.get(study.pk) == study.instance_count:
                continue
            queued += _route(rule, study)
    return queued


def _route(rule: RoutingRule, study: Study) -> int:
    queued = 0
    with transaction.atomic():
        for destination in rule.destinations.filter(active=True):
            try:
                send_job_create(study=study, destination=destination)
                queued += 1
            except SendError as exc:
                logger.info("rule %s, study %s: %s", rule.name, study.pk, exc)
        RoutingFiring.objects.update_or_create(
            rule=rule, study=study, defaults={"instance_count": study.instance_count}
        )
    return queued


def rule_validate(rule: RoutingRule, *, destinations: list | None) -> None:
    """Raise ValidationError with clinic-readable messages for a rule that cannot work."""
    rule.full_clean(exclude=["destinations"])
    if destinations is not None and not destinations:
        raise ValidationError({"destinations": "Choose at least one destination to send to."})
