"""Input and output shapes of the report API. Validation only: no writes here."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from reports.measurement_table import measurement_rows
from reports.models import (
    Addendum,
    KeyImage,
    Report,
    ReportEvent,
    ReportTemplate,
    ReportVersion,
)
from reports.reports import image_label


class ReportTemplateOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReportTemplate
        fields = [
            "id", "name", "procedure_codes", "modalities", "body_parts", "findings", "impression",
        ]  # fmt: skip


class KeyImageOutputSerializer(serializers.ModelSerializer):
    sop_instance_uid = serializers.CharField(source="instance.sop_instance_uid")
    label = serializers.SerializerMethodField()
    image_url = serializers.SerializerMethodField()

    class Meta:
        model = KeyImage
        fields = ["id", "sop_instance_uid", "frame", "caption", "label", "added_at", "image_url"]

    def get_label(self, key_image: KeyImage) -> str:
        return image_label(key_image.instance, key_image.frame)

    def get_image_url(self, key_image: KeyImage) -> str:
        study_pk = key_image.report.study_id
        return reverse("api-study-key-image-png", args=[study_pk, key_image.pk])


class VersionOutputSerializer(serializers.ModelSerializer):
    saved_by = serializers.StringRelatedField()

    class Meta:
        model = ReportVersion
        fields = ["number", "findings", "impression", "template_name", "saved_by", "saved_at", "signed"]  # fmt: skip


class AddendumOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Addendum
        fields = ["number", "text", "author_name", "created_at", "dicom_sop_instance_uid"]


class EventOutputSerializer(serializers.ModelSerializer):
    user = serializers.StringRelatedField()

    class Meta:
        model = ReportEvent
        fields = ["at", "kind", "message", "user"]


class MeasurementOutputSerializer(serializers.Serializer):
    image = serializers.CharField()
    tool = serializers.CharField()
    label = serializers.CharField()
    value = serializers.CharField()
    unit = serializers.CharField()
    calibration = serializers.CharField()


class ReportOutputSerializer(serializers.ModelSerializer):
    template = ReportTemplateOutputSerializer(allow_null=True)
    key_images = KeyImageOutputSerializer(many=True)
    addenda = AddendumOutputSerializer(many=True)
    versions = VersionOutputSerializer(many=True)
    events = EventOutputSerializer(many=True)
    measurements = serializers.SerializerMethodField()
    pdf_url = serializers.SerializerMethodField()

    class Meta:
        model = Report
        fields = [
            "id", "study", "status", "template", "findings", "impression",
            "created_at", "updated_at", "signed_by_name", "signed_at", "email_to",
            "dicom_series_uid", "dicom_sop_instance_uid",
            "key_images", "measurements", "addenda", "versions", "events", "pdf_url",
        ]  # fmt: skip

    @staticmethod
    def _measurements(report: Report) -> list[dict]:
        return [
            {"image": r.image, "tool": r.tool, "label": r.label, "value": r.value,
             "unit": r.unit, "calibration": r.calibration}
            for r in measurement_rows(report.study)
        ]  # fmt: skip

    @extend_schema_field(MeasurementOutputSerializer(many=True))
    def get_measurements(self, report: Report) -> list[dict]:
        return MeasurementOutputSerializer(self._measurements(report), many=True).data

    def get_pdf_url(self, report: Report) -> str:
        return reverse("api-study-report-pdf", args=[report.study_id])


class ReportStartInputSerializer(serializers.Serializer):
    template = serializers.PrimaryKeyRelatedField(
        queryset=ReportTemplate.objects.filter(active=True),
        required=False,
        allow_null=True,
        help_text="Template to start from; by default the one matching the study.",
    )


class ReportUpdateInputSerializer(serializers.Serializer):
    findings = serializers.CharField(required=False, allow_blank=True)
    impression = serializers.CharField(required=False, allow_blank=True)
    template = serializers.PrimaryKeyRelatedField(
        queryset=ReportTemplate.objects.filter(active=True),
        required=False,
        help_text="Replace the text with this template's (the old text stays in the history).",
    )


class ReportSignInputSerializer(serializers.Serializer):
    findings = serializers.CharField(required=False, allow_blank=True)
    impression = serializers.CharField(required=False, allow_blank=True)


class AddendumInputSerializer(serializers.Serializer):
    text = serializers.CharField()


class KeyImageInputSerializer(serializers.Serializer):
    sop_instance_uid = serializers.CharField(max_length=64)
    frame = serializers.IntegerField(min_value=1, default=1, help_text="1-based frame number.")
    caption = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class EmailInputSerializer(serializers.Serializer):
    to = serializers.EmailField(help_text="The referring vet's address.")
    message = serializers.CharField(required=False, allow_blank=True, default="")


class EmailOutputSerializer(serializers.Serializer):
    detail = serializers.CharField()
