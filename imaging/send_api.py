"""REST API for destinations and auto-routing rules (administrators) and send jobs
(technicians, veterinarians)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.permissions import ModelPermissions
from clinic.serializers import model_rules_check
from imaging import destinations, receipts, routing, send
from imaging.models import Destination, RoutingRule, SendJob, Study


class DestinationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Destination
        fields = [
            "id", *Destination.ADDRESS_FIELDS, "kind", *Destination.TLS_FIELDS,
            "preferred_transfer_syntax", "max_associations", "storage_commitment",
            "query_retrieve", "active",
        ]  # fmt: skip

    def validate(self, attrs: dict) -> dict:
        return model_rules_check(self, attrs, destinations.destination_validate)


class _DestinationPermission(BasePermission):
    """Anyone who may send sees the destinations; only administrators change them."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return user.has_perm("imaging.view_destination") or user.has_perm("imaging.add_sendjob")
        action = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}
        return user.has_perm(f"imaging.{action.get(request.method, 'change')}_destination")


class DestinationListApi(generics.ListCreateAPIView):
    permission_classes = [_DestinationPermission]
    queryset = Destination.objects.all()
    serializer_class = DestinationSerializer


class DestinationDetailApi(generics.RetrieveUpdateDestroyAPIView):
    permission_classes = [_DestinationPermission]
    queryset = Destination.objects.all()
    serializer_class = DestinationSerializer


class DestinationEchoApi(generics.GenericAPIView):
    """Test the connection (C-ECHO); the answer says in words what works or what to fix."""

    permission_classes = [ModelPermissions]
    permission_actions = {"POST": "change"}
    queryset = Destination.objects.all()

    @extend_schema(
        request=None,
        responses=inline_serializer(
            "ConnectionCheck",
            {"ok": serializers.BooleanField(), "message": serializers.CharField()},
        ),
    )
    def post(self, request: Request, pk: int) -> Response:
        check = destinations.destination_test_connection(destination=self.get_object())
        return Response({"ok": check.ok, "message": check.message})


class SendJobSerializer(serializers.ModelSerializer):
    destination = serializers.CharField(source="destination.name")
    study_instance_uid = serializers.CharField(source="study.study_instance_uid")
    progress = serializers.SerializerMethodField()
    attempts = serializers.SerializerMethodField()

    class Meta:
        model = SendJob
        fields = [
            "id", "study", "study_instance_uid", "destination", "state", "error", "created_at",
            "started_at", "finished_at", "instances_total", "bytes_sent", "progress", "attempts",
            "requested_by_ae",
        ]  # fmt: skip

    def get_progress(self, job: SendJob) -> dict:
        return receipts.send_job_progress(job)

    def get_attempts(self, job: SendJob) -> list[dict]:
        return list(
            job.attempts_made.values(
                "number", "started_at", "finished_at", "instances_sent", "bytes_sent", "error",
                "permanent",
            )
        )  # fmt: skip


class SendJobCreateSerializer(serializers.Serializer):
    study = serializers.PrimaryKeyRelatedField(queryset=Study.objects.all())
    destination = serializers.PrimaryKeyRelatedField(queryset=Destination.objects.all())
    series_uids = serializers.ListField(child=serializers.CharField(), required=False)
    everything = serializers.BooleanField(default=False)


class SendJobListApi(generics.ListAPIView):
    """Send jobs, newest first; POST queues a new one."""

    permission_classes = [ModelPermissions]
    queryset = SendJob.objects.select_related("study", "destination")
    serializer_class = SendJobSerializer

    def get_queryset(self):
        jobs = super().get_queryset()
        if study := self.request.query_params.get("study"):
            jobs = jobs.filter(study_id=study)
        return jobs

    @extend_schema(request=SendJobCreateSerializer, responses={201: SendJobSerializer})
    def post(self, request: Request) -> Response:
        data = SendJobCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            job = send.send_job_create(**data.validated_data, user=request.user)
        except send.SendError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(SendJobSerializer(job).data, status=status.HTTP_201_CREATED)


class SendJobDetailApi(generics.RetrieveAPIView):
    permission_classes = [ModelPermissions]
    queryset = SendJob.objects.select_related("study", "destination")
    serializer_class = SendJobSerializer


class SendJobCancelApi(generics.GenericAPIView):
    permission_classes = [ModelPermissions]
    permission_actions = {"POST": "change"}
    queryset = SendJob.objects.all()

    @extend_schema(request=None, responses=SendJobSerializer)
    def post(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(SendJob, pk=pk)
        if not send.send_job_cancel(job_id=job.pk, user=request.user):
            return Response({"detail": "This send has already ended."}, status=400)
        job.refresh_from_db()
        return Response(SendJobSerializer(job).data)


class SendJobResumeApi(generics.GenericAPIView):
    """Send again only what the destination has not confirmed ("resend missing")."""

    permission_classes = [ModelPermissions]
    permission_actions = {"POST": "change"}
    queryset = SendJob.objects.all()

    @extend_schema(request=None, responses=SendJobSerializer)
    def post(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(SendJob, pk=pk)
        try:
            job = send.send_job_resume(job_id=job.pk, user=request.user)
        except send.SendError as exc:
            return Response({"detail": str(exc)}, status=400)
        return Response(SendJobSerializer(job).data)


class RoutingRuleSerializer(serializers.ModelSerializer):
    destinations = serializers.PrimaryKeyRelatedField(many=True, queryset=Destination.objects.all())

    class Meta:
        model = RoutingRule
        fields = [
            "id", "name", "destinations", "device", "modality", "procedure", "body_part",
            "quiet_seconds", "active",
        ]  # fmt: skip

    def validate(self, attrs: dict) -> dict:
        chosen = attrs.get("destinations")
        if chosen is None and self.instance is None:
            chosen = []
        return model_rules_check(
            self,
            attrs,
            lambda rule: routing.rule_validate(rule, destinations=chosen),
            skip={"destinations"},
        )


class RoutingRuleListApi(generics.ListCreateAPIView):
    """Auto-routing rules (administrators): which arriving studies go where by themselves."""

    permission_classes = [ModelPermissions]
    queryset = RoutingRule.objects.prefetch_related("destinations")
    serializer_class = RoutingRuleSerializer


class RoutingRuleDetailApi(generics.RetrieveUpdateDestroyAPIView):
    permission_classes = [ModelPermissions]
    queryset = RoutingRule.objects.prefetch_related("destinations")
    serializer_class = RoutingRuleSerializer
