"""The catalog seed, order identifiers, and the status changes consoles and staff make."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.worklist.conftest import demo_clinic
from worklist import orders
from worklist.catalog import CATALOG, catalog_seed
from worklist.models import ExpectedView, Order, OrderStatus, Procedure

pytestmark = pytest.mark.django_db


def test_the_catalog_is_seeded_once_and_edits_survive_a_reseed():
    catalog_seed()
    thorax = Procedure.objects.get(code="THX3")
    assert [v.name for v in thorax.views.all()] == ["Right lateral", "Left lateral", "Ventrodorsal"]
    assert "R LAT" in thorax.views.first().view_positions
    assert Procedure.objects.get(code="PELVD").name == "Pelvis VD extended (hip screening)"
    assert Procedure.objects.get(code="DENT").modality == "IO"
    assert {p.modality for p in Procedure.objects.filter(code__in=["ABDUS", "ECHO"])} == {"US"}
    thorax.name = "Thorax three views"
    thorax.save()
    views = ExpectedView.objects.count()

    assert catalog_seed() == 0
    assert Procedure.objects.get(code="THX3").name == "Thorax three views"
    assert ExpectedView.objects.count() == views
    assert Procedure.objects.filter(code__in=[e.code for e in CATALOG]).count() == len(CATALOG)


def test_every_order_gets_its_own_identifiers(clinic_day):
    booked = [clinic_day.thorax, clinic_day.abdomen_us, clinic_day.stifle, clinic_day.cancelled]
    assert len({o.accession_number for o in booked}) == 4
    assert len({o.study_instance_uid for o in booked}) == 4
    for order in booked:
        assert 0 < len(order.accession_number) <= 16
        assert 0 < len(order.scheduled_step_id) <= 16
        assert order.requested_procedure_id


def test_the_accession_format_is_configurable(clinic_day, settings):
    settings.WORKLIST_ACCESSION_FORMAT = "VET{seq:05d}"
    order = orders.order_schedule(
        patient=clinic_day.rex,
        procedure=clinic_day.thorax.procedure,
        device=clinic_day.dr,
        scheduled_at=clinic_day.thorax.scheduled_at,
    )
    assert order.accession_number.startswith("VET") and len(order.accession_number) == 8


def test_a_deleted_order_does_not_block_the_next_booking(clinic_day):
    # Deleting an earlier order lowers the day's count; the next number must still be free.
    first = clinic_day.stifle
    first.delete()
    order = orders.order_schedule(
        patient=clinic_day.rex,
        procedure=clinic_day.thorax.procedure,
        device=clinic_day.dr,
        scheduled_at=clinic_day.thorax.scheduled_at,
    )
    assert order.pk and order.accession_number not in {
        o.accession_number for o in Order.objects.exclude(pk=order.pk)
    }


@pytest.mark.parametrize(
    "start, target",
    [
        (OrderStatus.SCHEDULED, OrderStatus.IN_PROGRESS),
        (OrderStatus.ARRIVED, OrderStatus.IN_PROGRESS),
        (OrderStatus.IN_PROGRESS, OrderStatus.COMPLETED),
        (OrderStatus.IN_PROGRESS, OrderStatus.DISCONTINUED),
        (OrderStatus.SCHEDULED, OrderStatus.SCHEDULED),  # again: nothing changes
    ],
)
def test_allowed_status_changes(clinic_day, start, target):
    order = clinic_day.thorax
    Order.objects.filter(pk=order.pk).update(status=start)
    orders.order_status_set(order=order, status=target, reason="console")
    order.refresh_from_db()
    assert order.status == target


@pytest.mark.parametrize(
    "start, target",
    [
        (OrderStatus.COMPLETED, OrderStatus.IN_PROGRESS),
        (OrderStatus.CANCELLED, OrderStatus.IN_PROGRESS),
        (OrderStatus.DISCONTINUED, OrderStatus.COMPLETED),
        (OrderStatus.IN_PROGRESS, OrderStatus.SCHEDULED),
    ],
)
def test_closed_orders_stay_closed(clinic_day, start, target):
    order = clinic_day.thorax
    Order.objects.filter(pk=order.pk).update(status=start)
    with pytest.raises(orders.OrderError, match="cannot become"):
        orders.order_status_set(order=order, status=target)
    order.refresh_from_db()
    assert order.status == start


def test_an_unknown_status_is_refused(clinic_day):
    with pytest.raises(orders.OrderError, match="Unknown order status"):
        orders.order_status_set(order=clinic_day.thorax, status="lost")


def test_seed_worklist_books_a_day_on_every_demo_modality_once():
    demo_clinic()
    out = StringIO()
    call_command("seed_worklist", stdout=out)
    today = Order.objects.filter(scheduled_at__date=timezone.localdate())
    stations = set(today.values_list("device__ae_title", flat=True))
    assert stations == {"DEMO_DR", "DEMO_DRPORT", "DEMO_US", "DEMO_CT", "DEMO_IO"}
    booked = today.count()
    assert booked >= 10 and "skipped" not in out.getvalue()

    call_command("seed_worklist", stdout=StringIO())
    assert Order.objects.count() == booked
