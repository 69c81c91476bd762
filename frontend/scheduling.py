"""Pages for the front desk: book exams into the worklist, see each device's day, change or cancel.

Also the arrivals page's one-click fix that files a flagged study under its order's patient.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from clinic.models import Owner, Patient
from imaging.models import Device, Series, Study
from worklist.completeness import order_completeness
from worklist.matching import study_order_confirm
from worklist.models import Order, OrderStatus
from worklist.orders import (
    OrderError,
    duplicate_warning,
    order_cancel,
    order_schedule,
    order_update,
)

from .schedule_forms import BookingForm, CancelForm, DayForm, OrderChangeForm
from .views import _fragment, permission

PATIENT_MATCHES = 10  # search-as-you-type suggestions shown at once
ORDER_FIELDS = [
    "procedure", "device", "day", "time", "priority", "requesting_vet", "referring_vet",
    "performing_vet",
]  # fmt: skip
NEW_PATIENT_FIELDS = [
    "owner_last_name", "owner_first_name", "owner_phone", "animal_name", "species", "breed",
    "sex", "birth_date", "patient_id", "microchip",
]  # fmt: skip


def _day_url(day, device_id: int | None = None) -> str:
    query = f"?day={day:%Y-%m-%d}" + (f"&device={device_id}" if device_id else "")
    return reverse("schedule") + query


# Day view -----------------------------------------------------------------------------------


def _day_context(request: HttpRequest) -> dict:
    form = DayForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    day = data.get("day") or timezone.localdate()
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    orders = (
        Order.objects.filter(scheduled_at__gte=start, scheduled_at__lt=start + timedelta(days=1))
        .select_related("patient__owner", "procedure", "device", "study")
        .prefetch_related(
            "procedure__views", Prefetch("study__series", queryset=Series.objects.order_by("pk"))
        )
        .order_by("scheduled_at", "pk")
    )
    devices = Device.objects.filter(active=True) | Device.objects.filter(orders__in=orders)
    if data.get("device"):
        devices = devices.filter(pk=data["device"])
        orders = orders.filter(device_id=data["device"])
    by_device: dict[int, list[Order]] = {}
    for order in orders:
        order.completeness = order_completeness(order)
        by_device.setdefault(order.device_id, []).append(order)
    columns = [(device, by_device.get(device.pk, [])) for device in devices.distinct()]
    return {
        "day": day,
        "today": timezone.localdate(),
        "device_id": data.get("device"),
        "columns": columns,
        "all_devices": Device.objects.filter(active=True),
        "can_change": request.user.has_perm("worklist.change_order"),
    }


@require_GET
@permission("worklist.view_order")
def schedule_day(request: HttpRequest) -> HttpResponse:
    """Each device's orders for one day with their status, refreshed in place."""
    context = _day_context(request)
    rows_html = render_to_string("frontend/_schedule_rows.html", context, request=request)
    query = request.GET.urlencode()
    day = context["day"]
    context.update(
        nav="schedule",
        rows_html=rows_html,
        rows_digest=hashlib.sha256(rows_html.encode()).hexdigest()[:16],
        rows_url=reverse("schedule-rows") + (f"?{query}" if query else ""),
        previous_url=_day_url(day - timedelta(days=1), context["device_id"]),
        next_url=_day_url(day + timedelta(days=1), context["device_id"]),
    )
    return render(request, "frontend/schedule_day.html", context)


@require_GET
@permission("worklist.view_order")
def schedule_rows(request: HttpRequest) -> HttpResponse:
    html = render_to_string("frontend/_schedule_rows.html", _day_context(request), request=request)
    return _fragment(html)


# Booking ------------------------------------------------------------------------------------


@require_GET
@permission("clinic.view_patient")
def patient_search(request: HttpRequest) -> JsonResponse:
    """Suggestions for the booking form: by animal, owner, phone, patient ID or microchip."""
    text = request.GET.get("q", "").strip()[:100]
    found = Patient.objects.search(text).select_related("owner")[:PATIENT_MATCHES] if text else []
    return JsonResponse(
        {
            "patients": [
                {
                    "id": p.pk,
                    "name": p.name,
                    "patient_id": p.patient_id,
                    "species": p.species_label,
                    "breed": p.breed,
                    "owner": p.owner_name,
                    "phone": p.owner.phone if p.owner else "",
                    "verified": p.verified,
                }
                for p in found
            ]
        }
    )


def _patient_register(form: BookingForm) -> Patient:
    """A new owner and their animal, typed at the desk while booking."""
    data = form.cleaned_data
    owner = Owner.objects.create(
        last_name=data["owner_last_name"],
        first_name=data["owner_first_name"],
        phone=data["owner_phone"],
    )
    return Patient.objects.create(
        # The clinic's own ID when none is given; consoles copy it from the worklist.
        patient_id=data["patient_id"] or f"VP-{secrets.token_hex(4).upper()}",
        name=data["animal_name"],
        owner=owner,
        species=data["species"] or "other",
        breed=data["breed"],
        sex=data["sex"],
        birth_date=data["birth_date"],
        microchip=data["microchip"],
    )


def _booking_patient(request: HttpRequest, form: BookingForm) -> Patient | None:
    if form.cleaned_data.get("new_patient"):
        if not request.user.has_perms(["clinic.add_owner", "clinic.add_patient"]):
            raise PermissionDenied
        return None
    patient = Patient.objects.filter(pk=form.cleaned_data["patient"]).first()
    if patient is None:
        form.add_error(None, "That patient no longer exists. Search again.")
    return patient


@permission("worklist.add_order")
def schedule_book(request: HttpRequest) -> HttpResponse:
    """Book an exam; a same-day repeat of the patient's procedure asks for a second click."""
    initial = {"day": request.GET.get("day") or timezone.localdate()}
    if request.GET.get("device"):
        initial["device"] = request.GET["device"]
    form = BookingForm(request.POST or None, initial=initial)
    warning, chosen = "", None
    if request.method == "POST" and form.is_valid():
        chosen = _booking_patient(request, form)
        new = form.cleaned_data.get("new_patient")
        if chosen is not None or new:
            fields = form.booking_fields()
            if chosen is not None and not form.cleaned_data["confirm_duplicate"]:
                warning = duplicate_warning(
                    patient=chosen,
                    procedure=fields["procedure"],
                    scheduled_at=fields["scheduled_at"],
                )
            if not warning:
                with transaction.atomic():
                    patient = chosen or _patient_register(form)
                    order = order_schedule(patient=patient, user=request.user, **fields)
                messages.success(
                    request,
                    f"Booked {order.procedure.name} for {patient.name} at "
                    f"{timezone.localtime(order.scheduled_at):%H:%M} (accession "
                    f"{order.accession_number}).",
                )
                return redirect(_day_url(timezone.localtime(order.scheduled_at).date()))
    elif request.method == "POST" and form.data.get("patient", "").isdigit():
        chosen = Patient.objects.filter(pk=form.data["patient"]).first()
    context = {
        "nav": "schedule",
        "form": form,
        "order_fields": [form[name] for name in ORDER_FIELDS],
        "new_patient_fields": [form[name] for name in NEW_PATIENT_FIELDS],
        "warning": warning,
        "chosen": chosen,
    }
    return render(request, "frontend/schedule_book.html", context)


@permission("worklist.change_order")
def schedule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change an open order's procedure, device, time, vets, reason or priority; or cancel it."""
    order = get_object_or_404(Order.objects.select_related("patient__owner"), pk=pk)
    local = timezone.localtime(order.scheduled_at)
    initial = {
        "procedure": order.procedure_id,
        "device": order.device_id,
        "day": local.date(),
        "time": local.time().replace(second=0, microsecond=0),
        "requesting_vet": order.requesting_vet,
        "referring_vet": order.referring_vet,
        "performing_vet": order.performing_vet,
        "reason": order.reason,
        "priority": order.priority,
    }
    form = OrderChangeForm(request.POST or None, initial=initial)
    warning = ""
    if request.method == "POST" and form.is_valid():
        fields = form.booking_fields()
        if not form.cleaned_data["confirm_duplicate"]:
            warning = duplicate_warning(
                patient=order.patient,
                procedure=fields["procedure"],
                scheduled_at=fields["scheduled_at"],
                exclude=order,
            )
        if not warning:
            try:
                order = order_update(
                    order=order,
                    change_reason=form.cleaned_data["change_reason"],
                    user=request.user,
                    **fields,
                )
            except OrderError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"Order {order.accession_number} changed.")
            return redirect(_day_url(timezone.localtime(order.scheduled_at).date()))
    context = {
        "nav": "schedule",
        "form": form,
        "order_fields": [form[name] for name in ORDER_FIELDS],
        "order": order,
        "warning": warning,
        "cancel_form": CancelForm(),
        "can_cancel": order.status == OrderStatus.SCHEDULED,
        "history": order.events.select_related("user")[:50],
    }
    return render(request, "frontend/schedule_edit.html", context)


@require_POST
@permission("worklist.change_order")
def schedule_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    order = get_object_or_404(Order, pk=pk)
    form = CancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the exam is cancelled.")
        return redirect("schedule-edit", pk=order.pk)
    try:
        order = order_cancel(order=order, reason=form.cleaned_data["reason"], user=request.user)
    except OrderError as exc:
        messages.error(request, str(exc))
        return redirect("schedule-edit", pk=order.pk)
    messages.success(request, f"Order {order.accession_number} cancelled.")
    return redirect(_day_url(timezone.localtime(order.scheduled_at).date()))


# Arrivals: the one-click fix ----------------------------------------------------------------


@require_POST
@permission("imaging.change_study")
def study_file_under_order(request: HttpRequest, pk: int) -> HttpResponse:
    """File a flagged arrival under the patient its order was booked for."""
    study = get_object_or_404(Study, pk=pk)
    order = Order.objects.filter(study=study).select_related("patient").first()
    if order is None:
        messages.error(request, "This study is not linked to an order.")
    else:
        study_order_confirm(order=order, user=request.user)
        messages.success(
            request, f"Study filed under {order.patient.name} (ID {order.patient.patient_id})."
        )
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return redirect(back)
    return redirect("arrivals")
