"""Output shapes of the study, series and instance API, and the filters the study list takes."""

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clinic.models import Patient
from imaging.models import Instance, Series, Study
from imaging.selectors import STUDY_STATUSES, study_display_statuses


def _absolute(serializer: serializers.Serializer, name: str, pk: int) -> str:
    url = reverse(name, args=[pk])
    request = serializer.context.get("request")
    return request.build_absolute_uri(url) if request else url


class PatientSummarySerializer(serializers.ModelSerializer):
    species_label = serializers.CharField(read_only=True)
    owner_name = serializers.CharField(read_only=True)

    class Meta:
        model = Patient
        fields = [
            "id",
            "patient_id",
            "name",
            "species",
            "species_label",
            "breed",
            "owner_name",
            "verified",
        ]


class _ThumbnailLinks(serializers.Serializer):
    """Whether a thumbnail is rendered, and where to fetch it (404 until it is)."""

    thumbnail_view: str
    thumbnail_ready = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    def get_thumbnail_ready(self, obj: Series | Instance) -> bool:
        return bool(obj.thumbnail_key)

    @extend_schema_field(OpenApiTypes.URI)
    def get_thumbnail_url(self, obj: Series | Instance) -> str:
        return _absolute(self, self.thumbnail_view, obj.pk)


class SeriesThumbnailSerializer(_ThumbnailLinks, serializers.ModelSerializer):
    """One series as the study list shows it: a thumbnail and what it is."""

    thumbnail_view = "api-series-thumbnail"

    class Meta:
        model = Series
        fields = [
            "id", "series_number", "modality", "description", "instance_count",
            "thumbnail_ready", "thumbnail_url",
        ]  # fmt: skip


class StudyOutputSerializer(serializers.ModelSerializer):
    patient = PatientSummarySerializer(read_only=True)
    modalities = serializers.SerializerMethodField()
    device_name = serializers.CharField(
        source="device.name", read_only=True, allow_null=True, default=None
    )
    statuses = serializers.SerializerMethodField()
    series_url = serializers.SerializerMethodField()
    instances_url = serializers.SerializerMethodField()
    thumbnails = SeriesThumbnailSerializer(source="series", many=True, read_only=True)

    class Meta:
        model = Study
        fields = [
            "id", "study_instance_uid", "accession_number", "study_id", "study_date", "study_time",
            "description", "modalities", "referring_physician", "institution", "patient",
            "sending_ae_title", "device_name", "received_at", "updated_at", "status", "statuses",
            "series_count", "instance_count", "size_bytes", "series_url", "instances_url",
            "thumbnails",
        ]  # fmt: skip

    def get_modalities(self, study: Study) -> list[str]:
        return [m for m in study.modalities.split("\\") if m]

    @extend_schema_field(
        serializers.ListField(child=serializers.ChoiceField(choices=STUDY_STATUSES))
    )
    def get_statuses(self, study: Study) -> list[str]:
        return study_display_statuses(study)

    @extend_schema_field(OpenApiTypes.URI)
    def get_series_url(self, study: Study) -> str:
        return _absolute(self, "api-study-series", study.pk)

    @extend_schema_field(OpenApiTypes.URI)
    def get_instances_url(self, study: Study) -> str:
        return _absolute(self, "api-study-instances", study.pk)


class StudyUpdateInputSerializer(serializers.Serializer):
    patient = serializers.PrimaryKeyRelatedField(
        queryset=Patient.objects.all(),
        help_text="File the study under this patient (a wrong-patient arrival).",
    )


class StudyFilterSerializer(serializers.Serializer):
    received_after = serializers.DateTimeField(
        required=False, help_text="Received at or after this ISO 8601 date or date-time."
    )
    received_before = serializers.DateTimeField(
        required=False, help_text="Received before this ISO 8601 date or date-time."
    )
    study_date = serializers.DateField(required=False, help_text="Study Date (0008,0020).")
    modality = serializers.CharField(
        required=False, max_length=16, help_text="e.g. DX, US, CT, IO."
    )
    patient = serializers.IntegerField(required=False, min_value=1, help_text="Patient id.")
    status = serializers.ChoiceField(choices=STUDY_STATUSES, required=False)
    q = serializers.CharField(
        required=False,
        help_text="Animal or owner name (partial), or exact patient ID or accession number.",
    )


class SeriesOutputSerializer(_ThumbnailLinks, serializers.ModelSerializer):
    thumbnail_view = "api-series-thumbnail"
    instances_url = serializers.SerializerMethodField()

    class Meta:
        model = Series
        fields = [
            "id", "study", "series_instance_uid", "series_number", "modality", "description",
            "body_part", "view_position", "laterality", "protocol_name", "instance_count",
            "received_at", "thumbnail_ready", "thumbnail_url", "instances_url",
        ]  # fmt: skip

    @extend_schema_field(OpenApiTypes.URI)
    def get_instances_url(self, series: Series) -> str:
        return _absolute(self, "api-series-instances", series.pk)


class InstanceOutputSerializer(_ThumbnailLinks, serializers.ModelSerializer):
    thumbnail_view = "api-instance-thumbnail"

    class Meta:
        model = Instance
        fields = [
            "id", "series", "sop_instance_uid", "sop_class_uid", "instance_number",
            "transfer_syntax_uid", "rows", "columns", "number_of_frames", "size_bytes", "sha256",
            "received_at", "thumbnail_state", "thumbnail_error", "thumbnail_ready", "thumbnail_url",
        ]  # fmt: skip


class ThumbnailMissingSerializer(serializers.Serializer):
    detail = serializers.CharField()
    thumbnail_state = serializers.ChoiceField(choices=["pending", "failed", "missing"])
