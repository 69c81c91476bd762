"""REST API for the procedure catalog and orders: book, list by day and device, change, cancel."""

from datetime import datetime, timedelta

from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.permissions import ModelPermissions
from clinic.serializers import validated_query
from imaging.models import Series, Study
from worklist.matching import study_order_confirm
from worklist.models import Order, Procedure
from worklist.orders import (
    OrderError,
    duplicate_warning,
    order_cancel,
    order_schedule,
    order_update,
)
from worklist.serializers import (
    OrderCancelInputSerializer,
    OrderChangeInputSerializer,
    OrderFilterSerializer,
    OrderInputSerializer,
    OrderOutputSerializer,
    ProcedureFilterSerializer,
    ProcedureOutputSerializer,
)


def orders_loaded() -> QuerySet[Order]:
    """Orders with what the output shows loaded in a fixed number of queries."""
    return Order.objects.select_related("patient__owner", "procedure", "device").prefetch_related(
        "procedure__views", Prefetch("study__series", queryset=Series.objects.order_by("pk"))
    )


def _refuse(message: str) -> None:
    raise serializers.ValidationError({"detail": message})


class ProcedureListApi(generics.ListAPIView):
    """The procedure catalog with each procedure's expected views."""

    permission_classes = [ModelPermissions]
    queryset = Procedure.objects.all()
    serializer_class = ProcedureOutputSerializer

    def get_queryset(self) -> QuerySet[Procedure]:
        filters = validated_query(ProcedureFilterSerializer, self.request)
        procedures = Procedure.objects.prefetch_related("views")
        if "modality" in filters:
            procedures = procedures.filter(modality__iexact=filters["modality"])
        return procedures.filter(active=filters.get("active", True))

    @extend_schema(parameters=[ProcedureFilterSerializer])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class ProcedureDetailApi(generics.RetrieveAPIView):
    permission_classes = [ModelPermissions]
    queryset = Procedure.objects.prefetch_related("views")
    serializer_class = ProcedureOutputSerializer


class OrderListApi(generics.ListAPIView):
    """Booked exams by day, device, patient or status; front desk books new ones.

    A booking that repeats the patient's same procedure on the same day is refused unless
    `confirm_duplicate` is true, as the booking page asks for a second click."""

    permission_classes = [ModelPermissions]
    queryset = Order.objects.all()
    serializer_class = OrderOutputSerializer

    def get_queryset(self) -> QuerySet[Order]:
        filters = validated_query(OrderFilterSerializer, self.request)
        orders = orders_loaded()
        if "day" in filters:
            start = timezone.make_aware(datetime.combine(filters["day"], datetime.min.time()))
            orders = orders.filter(scheduled_at__gte=start, scheduled_at__lt=start + timedelta(1))
        for name in ("device", "patient"):
            if name in filters:
                orders = orders.filter(**{f"{name}_id": filters[name]})
        for name in ("status", "accession_number"):
            if name in filters:
                orders = orders.filter(**{name: filters[name]})
        return orders.order_by("scheduled_at", "pk")

    @extend_schema(parameters=[OrderFilterSerializer])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=OrderInputSerializer, responses={201: OrderOutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = OrderInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        confirmed = data.pop("confirm_duplicate")
        warning = duplicate_warning(
            patient=data["patient"], procedure=data["procedure"], scheduled_at=data["scheduled_at"]
        )
        if warning and not confirmed:
            _refuse(warning + " Send confirm_duplicate=true to book it again.")
        order = order_schedule(**data, user=request.user)
        output = OrderOutputSerializer(orders_loaded().get(pk=order.pk))
        return Response(output.data, status=status.HTTP_201_CREATED)


class OrderDetailApi(generics.RetrieveAPIView):
    """One order; changing it needs `worklist.change_order`, and only open orders change."""

    permission_classes = [ModelPermissions]
    queryset = Order.objects.all()
    serializer_class = OrderOutputSerializer

    def get_queryset(self) -> QuerySet[Order]:
        return orders_loaded()

    @extend_schema(request=OrderChangeInputSerializer, responses=OrderOutputSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        order = self.get_object()
        serializer = OrderChangeInputSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        confirmed = changes.pop("confirm_duplicate", False)
        change_reason = changes.pop("change_reason", "")
        warning = duplicate_warning(
            patient=changes.get("patient", order.patient),
            procedure=changes.get("procedure", order.procedure),
            scheduled_at=changes.get("scheduled_at", order.scheduled_at),
            exclude=order,
        )
        if warning and not confirmed and {"patient", "procedure", "scheduled_at"} & set(changes):
            _refuse(warning + " Send confirm_duplicate=true to keep both.")
        try:
            order_update(order=order, change_reason=change_reason, user=request.user, **changes)
        except OrderError as exc:
            _refuse(str(exc))
        return Response(self.get_serializer(self.get_object()).data)


class OrderCancelApi(generics.GenericAPIView):
    """Cancel a scheduled exam with a reason; consoles no longer see it in their worklist."""

    permission_classes = [ModelPermissions]
    permission_actions = {"POST": "change"}
    queryset = Order.objects.all()
    serializer_class = OrderOutputSerializer

    def get_queryset(self) -> QuerySet[Order]:
        return orders_loaded()

    @extend_schema(request=OrderCancelInputSerializer, responses=OrderOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        order = self.get_object()
        serializer = OrderCancelInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            order_cancel(order=order, reason=serializer.validated_data["reason"], user=request.user)
        except OrderError as exc:
            _refuse(str(exc))
        return Response(self.get_serializer(self.get_object()).data)


class OrderFilePatientApi(generics.GenericAPIView):
    """File an order's flagged study under the order's patient (the console sent another one)."""

    permission_classes = [ModelPermissions]
    # Moving a study between patients is a change to the study.
    permission_model = Study
    permission_actions = {"POST": "change"}
    queryset = Order.objects.all()
    serializer_class = OrderOutputSerializer

    def get_queryset(self) -> QuerySet[Order]:
        return orders_loaded()

    @extend_schema(request=None, responses=OrderOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        order = self.get_object()
        if order.study_id is None:
            _refuse("No study has arrived for this order yet.")
        study_order_confirm(order=order, user=request.user)
        return Response(self.get_serializer(self.get_object()).data)
