"""Input and output shapes of the owner and patient API. Validation only: no writes here."""

import copy
from collections.abc import Callable, Collection
from typing import Any

from django.core.exceptions import ValidationError as ModelValidationError
from django.db.models import Model
from rest_framework import serializers
from rest_framework.request import Request

from clinic.models import Owner, Patient, Species


def validated_query(
    serializer_class: type[serializers.Serializer], request: Request
) -> dict[str, Any]:
    """The request's query parameters checked by a filter serializer (400 on a bad value)."""
    # A plain dict, not the QueryDict: DRF reads an absent boolean in form data as False.
    serializer = serializer_class(data=request.query_params.dict())
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def model_rules_check(
    serializer: serializers.ModelSerializer,
    attrs: dict,
    rules: Callable[[Model], None],
    *,
    skip: Collection[str] = (),
) -> dict:
    """`attrs` checked by the service's `rules` (the same the pages' forms apply) on the row
    they would make: a copy of the instance, or a new one, with them set (`skip` left out)."""
    candidate = copy.copy(serializer.instance) if serializer.instance else serializer.Meta.model()
    for name, value in attrs.items():
        if name not in skip:
            setattr(candidate, name, value)
    try:
        rules(candidate)
    except ModelValidationError as exc:
        raise serializers.ValidationError(exc.message_dict) from exc
    return attrs


class OwnerInputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Owner
        fields = ["last_name", "first_name", "organization", "phone", "email", "address"]


class OwnerOutputSerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True)

    class Meta:
        model = Owner
        fields = [
            "id", "display_name", "last_name", "first_name", "organization",
            "phone", "email", "address", "created_at",
        ]  # fmt: skip


class OwnerFilterSerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False, help_text="Part of the owner's name, organization or phone."
    )


class PatientInputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = [
            "patient_id", "issuer", "name", "owner", "species", "species_text", "breed", "sex",
            "neutered", "birth_date", "weight_kg", "colour", "microchip", "responsible_person",
        ]  # fmt: skip
        # `verified` is not an input: patients staff register are verified; one created from an
        # arriving study is confirmed through its own endpoint, which records it in the
        # history of the patient's studies.


class OwnerSummarySerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True)

    class Meta:
        model = Owner
        fields = ["id", "display_name", "phone"]


class PatientOutputSerializer(serializers.ModelSerializer):
    owner = OwnerSummarySerializer(read_only=True, allow_null=True)
    owner_name = serializers.CharField(read_only=True)
    species_label = serializers.CharField(read_only=True)

    class Meta:
        model = Patient
        fields = [
            "id", "patient_id", "issuer", "name", "owner", "owner_name", "species",
            "species_text", "species_label", "breed", "sex", "neutered", "birth_date",
            "weight_kg", "colour", "microchip", "verified", "dicom_name", "responsible_person",
            "created_at",
        ]  # fmt: skip


class PatientFilterSerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False,
        help_text="Animal name, owner name or phone (partial), or exact patient ID or microchip.",
    )
    species = serializers.ChoiceField(choices=Species.choices, required=False)
    verified = serializers.BooleanField(
        required=False, help_text="false lists patients created from arriving studies, to confirm."
    )
    owner = serializers.IntegerField(required=False, min_value=1, help_text="Owner id.")
