"""REST API for owners and patients: list and search, add, read and correct."""

from typing import Any

from django.db.models import Model, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.models import Owner, Patient
from clinic.permissions import ModelPermissions
from clinic.serializers import (
    OwnerFilterSerializer,
    OwnerInputSerializer,
    OwnerOutputSerializer,
    PatientFilterSerializer,
    PatientInputSerializer,
    PatientOutputSerializer,
    validated_query,
)


def _record_update(record: Model, data: dict[str, Any]) -> None:
    """Save the validated fields, and only those, onto the record."""
    for field, value in data.items():
        setattr(record, field, value)
    record.save(update_fields=list(data))


class OwnerListApi(generics.ListAPIView):
    """Owners (the clinic's clients) by name; front desk adds new ones."""

    permission_classes = [ModelPermissions]
    queryset = Owner.objects.all()
    serializer_class = OwnerOutputSerializer

    def get_queryset(self) -> QuerySet[Owner]:
        filters = validated_query(OwnerFilterSerializer, self.request)
        return Owner.objects.search(filters.get("q", ""))

    @extend_schema(parameters=[OwnerFilterSerializer])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=OwnerInputSerializer, responses={201: OwnerOutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = OwnerInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        owner = Owner.objects.create(**serializer.validated_data)
        return Response(OwnerOutputSerializer(owner).data, status=status.HTTP_201_CREATED)


class OwnerDetailApi(generics.RetrieveAPIView):
    """One owner; correcting their details needs `clinic.change_owner`."""

    permission_classes = [ModelPermissions]
    queryset = Owner.objects.all()
    serializer_class = OwnerOutputSerializer

    @extend_schema(request=OwnerInputSerializer, responses=OwnerOutputSerializer)
    def put(self, request: Request, pk: int) -> Response:
        return self._update(request, partial=False)

    @extend_schema(request=OwnerInputSerializer, responses=OwnerOutputSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        return self._update(request, partial=True)

    def _update(self, request: Request, *, partial: bool) -> Response:
        owner = self.get_object()
        serializer = OwnerInputSerializer(owner, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        _record_update(owner, serializer.validated_data)
        return Response(OwnerOutputSerializer(owner).data)


class PatientListApi(generics.ListAPIView):
    """Patients (the animals), searchable and filtered; front desk registers new ones."""

    permission_classes = [ModelPermissions]
    queryset = Patient.objects.all()
    serializer_class = PatientOutputSerializer

    def get_queryset(self) -> QuerySet[Patient]:
        filters = validated_query(PatientFilterSerializer, self.request)
        patients = Patient.objects.select_related("owner").search(filters.get("q", ""))
        if "species" in filters:
            patients = patients.filter(species=filters["species"])
        if "verified" in filters:
            patients = patients.filter(verified=filters["verified"])
        if "owner" in filters:
            patients = patients.filter(owner_id=filters["owner"])
        return patients

    @extend_schema(parameters=[PatientFilterSerializer])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(request=PatientInputSerializer, responses={201: PatientOutputSerializer})
    def post(self, request: Request) -> Response:
        serializer = PatientInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        patient = Patient.objects.create(**serializer.validated_data)
        return Response(PatientOutputSerializer(patient).data, status=status.HTTP_201_CREATED)


class PatientDetailApi(generics.RetrieveAPIView):
    """One patient; correcting or verifying them needs `clinic.change_patient`."""

    permission_classes = [ModelPermissions]
    queryset = Patient.objects.select_related("owner")
    serializer_class = PatientOutputSerializer

    @extend_schema(request=PatientInputSerializer, responses=PatientOutputSerializer)
    def put(self, request: Request, pk: int) -> Response:
        return self._update(request, partial=False)

    @extend_schema(request=PatientInputSerializer, responses=PatientOutputSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        return self._update(request, partial=True)

    def _update(self, request: Request, *, partial: bool) -> Response:
        patient = self.get_object()
        serializer = PatientInputSerializer(patient, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        _record_update(patient, serializer.validated_data)
        return Response(PatientOutputSerializer(patient).data)
