"""Input and output shapes of the procedure and order API. Validation only: no writes here."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clinic.models import Patient
from imaging.models import Device
from imaging.serializers import PatientSummarySerializer
from worklist.completeness import order_completeness
from worklist.models import ExpectedView, Order, OrderStatus, Priority, Procedure


class ExpectedViewSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExpectedView
        fields = ["id", "name", "order", "view_positions", "description_patterns"]


class ProcedureOutputSerializer(serializers.ModelSerializer):
    views = ExpectedViewSerializer(many=True, read_only=True)

    class Meta:
        model = Procedure
        fields = [
            "id", "code", "name", "modality", "body_part", "coding_scheme", "active", "views",
        ]  # fmt: skip


class ProcedureFilterSerializer(serializers.Serializer):
    modality = serializers.CharField(required=False, max_length=16, help_text="e.g. DX, US.")
    active = serializers.BooleanField(required=False, help_text="false lists retired procedures.")


class _ProcedureSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Procedure
        fields = ["id", "code", "name", "modality"]


class _DeviceSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Device
        fields = ["id", "name", "ae_title", "modality"]


class OrderOutputSerializer(serializers.ModelSerializer):
    patient = PatientSummarySerializer(read_only=True)
    procedure = _ProcedureSummarySerializer(read_only=True)
    device = _DeviceSummarySerializer(read_only=True)
    completeness = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id", "accession_number", "requested_procedure_id", "scheduled_step_id",
            "study_instance_uid", "patient", "procedure", "device", "scheduled_at",
            "requesting_vet", "referring_vet", "performing_vet", "reason", "priority", "status",
            "status_reason",
            "study", "matched_by", "mismatch", "completeness", "created_at", "updated_at",
        ]  # fmt: skip

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_completeness(self, order: Order) -> str | None:
        """e.g. "2 of 3 views: Ventrodorsal missing"; null before the study arrives."""
        found = order_completeness(order)
        return str(found) if found else None


class OrderInputSerializer(serializers.Serializer):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.all())
    procedure = serializers.PrimaryKeyRelatedField(queryset=Procedure.objects.filter(active=True))
    device = serializers.PrimaryKeyRelatedField(
        queryset=Device.objects.filter(active=True), help_text="The modality that will perform it."
    )
    scheduled_at = serializers.DateTimeField()
    requesting_vet = serializers.CharField(required=False, allow_blank=True, max_length=100)
    referring_vet = serializers.CharField(required=False, allow_blank=True, max_length=100)
    performing_vet = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="Vet or technician performing the exam (the worklist's Scheduled Performing "
        "Physician's Name).",
    )
    reason = serializers.CharField(required=False, allow_blank=True, help_text="Clinical history.")
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    confirm_duplicate = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Book even though the patient has the same procedure booked that day.",
    )


class OrderChangeInputSerializer(OrderInputSerializer):
    change_reason = serializers.CharField(
        max_length=200, help_text="Why the booking changes (kept in the order's history)."
    )


class OrderCancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, help_text="Why the exam is cancelled.")


class OrderFilterSerializer(serializers.Serializer):
    day = serializers.DateField(required=False, help_text="Scheduled on this (local) day.")
    device = serializers.IntegerField(required=False, min_value=1, help_text="Device id.")
    patient = serializers.IntegerField(required=False, min_value=1, help_text="Patient id.")
    status = serializers.ChoiceField(choices=OrderStatus.choices, required=False)
    accession_number = serializers.CharField(required=False, max_length=16)
