"""Auto-routing: rules send quiet studies on, and later arrivals only add what is new."""

from datetime import timedelta

import pytest
from django.utils import timezone
from pydicom.uid import generate_uid

from clinic.queue import wait_for_local_tasks
from imaging import routing
from imaging.ingest import instance_receive_dataset
from imaging.models import RoutingRule, SendJob, Study
from imaging.synthetic import make_dataset
from tests.send_peers import destination_for, portal_study, pynetdicom_scp, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _tasks_in_process(settings):
    settings.CELERY_BROKER_URL = None


def _all_finished() -> bool:
    return all(job.finished for job in SendJob.objects.select_related("destination"))


def test_a_rule_routes_a_quiet_study_once_then_only_what_arrives_later():
    study = portal_study(series=1, per_series=2)
    later = timezone.now() + timedelta(minutes=5)
    with pynetdicom_scp() as (port, received):
        rule = RoutingRule.objects.create(name="DX to PACS", modality="DX", quiet_seconds=60)
        rule.destinations.add(destination_for("PACS", port, "STORE_SCP"))
        assert routing.studies_route() == 0  # not quiet yet
        assert routing.studies_route(now=later) == 1
        wait_for(_all_finished)
        assert routing.studies_route(now=later) == 0  # nothing new
        series = study.series.get()
        ds = make_dataset(
            study_uid=study.study_instance_uid,
            series_uid=series.series_instance_uid,
            sop_uid=generate_uid(),
            instance_number=3,
            rows=32,
            columns=32,
        )
        instance_receive_dataset(dataset=ds, calling_ae="DR_ROOM1")
        assert routing.studies_route(now=later) == 1
        wait_for(_all_finished)
    assert [job.instances_total for job in SendJob.objects.order_by("pk")] == [2, 1]
    assert len(received) == 3
    assert wait_for_local_tasks(30)


def test_a_rule_ignores_studies_that_do_not_match():
    portal_study()
    rule = RoutingRule.objects.create(name="CT only", modality="CT", quiet_seconds=0)
    rule.destinations.add(destination_for("PACS", 104, "PACS"))
    body = RoutingRule.objects.create(name="Thorax", body_part="THORAX", procedure="thorax")
    assert list(routing.rule_studies(rule)) == []
    assert list(routing.rule_studies(body)) == list(Study.objects.all())
