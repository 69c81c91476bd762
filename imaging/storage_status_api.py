"""REST API: the storage status (administrators), the same numbers as the Storage page."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from imaging.storage_status import STORAGE_STATUS_PERMISSION, StorageLevel, storage_report


class _StorageStatusPermission(BasePermission):
    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(STORAGE_STATUS_PERMISSION))


class UsageLineSerializer(serializers.Serializer):
    label = serializers.CharField()
    bytes = serializers.IntegerField()
    files = serializers.IntegerField(help_text="Files (instances, for the index's lines).")


class StorageSpaceSerializer(serializers.Serializer):
    level = serializers.ChoiceField(
        choices=[level.value for level in StorageLevel],
        help_text="ok; low (below the warning threshold); full (below DICOM_MIN_FREE_BYTES: "
        "C-STORE is refused with 0xA700); unknown (storage is not a local folder).",
    )
    message = serializers.CharField(help_text="What to do, in words; empty when all is well.")
    total = serializers.IntegerField(allow_null=True)
    used = serializers.IntegerField(allow_null=True)
    free = serializers.IntegerField(allow_null=True)
    free_percent = serializers.FloatField(allow_null=True)
    warn_below = serializers.IntegerField()
    refuse_below = serializers.IntegerField()


class StorageStatusSerializer(serializers.Serializer):
    space = StorageSpaceSerializer()
    portal_bytes = serializers.IntegerField(
        help_text="Instances, derived files and the database together."
    )
    instances = UsageLineSerializer()
    derived = UsageLineSerializer(many=True)
    by_modality = UsageLineSerializer(many=True)
    by_month = UsageLineSerializer(many=True, help_text="The last 12 months, newest first.")
    database_bytes = serializers.IntegerField(allow_null=True)
    measured_at = serializers.DateTimeField(help_text="When the used space was last counted.")
    notes = serializers.ListField(child=serializers.CharField())


class StorageStatusApi(APIView):
    """Space used by the portal and free on the storage filesystem; free space is always
    current, the breakdown is counted at most every five minutes unless `fresh=1`."""

    permission_classes = [_StorageStatusPermission]

    @extend_schema(
        responses=StorageStatusSerializer,
        parameters=[OpenApiParameter("fresh", bool, description="Count the used space again now.")],
    )
    def get(self, request: Request) -> Response:
        fresh = request.query_params.get("fresh", "") in ("1", "true", "yes")
        return Response(StorageStatusSerializer(storage_report(fresh=fresh)).data)
