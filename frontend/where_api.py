"""REST API of the finder: `GET /api/where/?q=…` answers where each matching study is now."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.permissions import ModelPermissions
from imaging.models import Study

from .finder import FinderResult, Whereabouts, where_find


class SentToSerializer(serializers.Serializer):
    destination = serializers.CharField()
    state = serializers.CharField()
    state_label = serializers.CharField()
    confirmed = serializers.IntegerField()
    total = serializers.IntegerField()


class SharedWithSerializer(serializers.Serializer):
    who = serializers.CharField()
    state = serializers.CharField()
    state_label = serializers.CharField()
    opened = serializers.BooleanField()


class WhereaboutsSerializer(serializers.Serializer):
    study_id = serializers.IntegerField(source="study.pk")
    study_instance_uid = serializers.CharField(source="study.study_instance_uid")
    accession_number = serializers.CharField(source="study.accession_number")
    patient_name = serializers.CharField(source="study.patient.name")
    patient_id = serializers.CharField(source="study.patient.patient_id")
    matched_by = serializers.CharField()
    status = serializers.CharField(source="study.status")
    instance_count = serializers.IntegerField(source="study.instance_count")
    here = serializers.CharField()
    missing_views = serializers.SerializerMethodField()
    order_accession_number = serializers.SerializerMethodField()
    sends = SentToSerializer(many=True)
    shares = SharedWithSerializer(many=True, allow_null=True)
    url = serializers.CharField(source="study.get_absolute_url")

    def get_missing_views(self, obj: Whereabouts) -> list[str] | None:
        return list(obj.completeness.missing) if obj.completeness else None

    def get_order_accession_number(self, obj: Whereabouts) -> str | None:
        return obj.order.accession_number if obj.order else None


class FinderResultSerializer(serializers.Serializer):
    q = serializers.CharField(source="text")
    found = WhereaboutsSerializer(many=True)
    truncated = serializers.BooleanField()
    not_received = serializers.CharField(
        help_text="Why nothing matches, in words (empty when studies were found)."
    )


class WhereApi(APIView):
    """Where is it? Any UID, accession number, patient ID, microchip, animal or owner name."""

    permission_classes = [ModelPermissions]
    permission_model = Study

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "q",
                str,
                required=True,
                description="Study/Series/SOP Instance UID, accession number, patient ID, "
                "microchip, or a patient or owner name",
            )
        ],
        responses=FinderResultSerializer,
    )
    def get(self, request: Request) -> Response:
        result: FinderResult = where_find(text=request.query_params.get("q", ""), user=request.user)
        return Response(FinderResultSerializer(result).data)
