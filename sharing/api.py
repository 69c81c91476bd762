"""REST API for consultants, shares (create, list, revoke, access log) and consult replies."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.permissions import ModelPermissions
from imaging.models import Study
from sharing import consultants, shares
from sharing.mailing import share_link_email
from sharing.models import Consultant, ConsultReply, Share, ShareAccess


class ConsultantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Consultant
        fields = ["id", "name", "practice", "specialty", "email", "phone", "destination", "active"]

    def create(self, validated_data):
        return consultants.consultant_create(**validated_data)

    def update(self, instance, validated_data):
        return consultants.consultant_update(consultant=instance, **validated_data)


class ConsultantListApi(generics.ListCreateAPIView):
    permission_classes = [ModelPermissions]
    queryset = Consultant.objects.all()
    serializer_class = ConsultantSerializer


class ConsultantDetailApi(generics.RetrieveUpdateDestroyAPIView):
    permission_classes = [ModelPermissions]
    queryset = Consultant.objects.all()
    serializer_class = ConsultantSerializer


class ShareSerializer(serializers.ModelSerializer):
    state = serializers.CharField(read_only=True)
    has_passcode = serializers.BooleanField(read_only=True)

    class Meta:
        model = Share
        fields = [
            "id", "study", "consultant", "email", "series_uids", "include_report",
            "include_annotations", "question", "expires_at", "allow_download", "anonymize",
            "has_passcode", "state", "created_at", "revoked_at",
        ]  # fmt: skip
        read_only_fields = fields


class ShareCreateSerializer(serializers.Serializer):
    consultant = serializers.PrimaryKeyRelatedField(
        queryset=Consultant.objects.all(), required=False, allow_null=True
    )
    email = serializers.EmailField(required=False, allow_blank=True)
    series_uids = serializers.ListField(child=serializers.CharField(), required=False)
    include_report = serializers.BooleanField(default=False)
    include_annotations = serializers.BooleanField(default=False)
    question = serializers.CharField(required=False, allow_blank=True, default="")
    expires_days = serializers.IntegerField(required=False, min_value=1)
    passcode = serializers.CharField(required=False, allow_blank=True, default="")
    allow_download = serializers.BooleanField(default=True)
    anonymize = serializers.BooleanField(default=False)
    send_email = serializers.BooleanField(default=True)


class ShareCreatedSerializer(ShareSerializer):
    url = serializers.CharField(help_text="The link; returned only in this answer.")

    class Meta(ShareSerializer.Meta):
        fields = [*ShareSerializer.Meta.fields, "url"]
        read_only_fields = fields


class StudyShareListApi(APIView):
    permission_classes = [ModelPermissions]
    permission_model = Share

    @extend_schema(responses=ShareSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        study = get_object_or_404(Study, pk=pk)
        return Response(ShareSerializer(study.shares.all(), many=True).data)

    @extend_schema(request=ShareCreateSerializer, responses={201: ShareCreatedSerializer})
    def post(self, request: Request, pk: int) -> Response:
        study = get_object_or_404(Study, pk=pk)
        incoming = ShareCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        send_email = data.pop("send_email")
        try:
            created = shares.share_create(study=study, user=request.user, **data)
        except shares.ShareError as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from exc
        url = created.url(request.build_absolute_uri("/"))
        if send_email:
            share_link_email(share=created.share, url=url)
        body = ShareSerializer(created.share).data | {"url": url}
        response = Response(body, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class ShareRevokeApi(APIView):
    permission_classes = [ModelPermissions]
    permission_model = Share
    permission_actions = {"POST": "change"}

    @extend_schema(request=None, responses=ShareSerializer)
    def post(self, request: Request, pk: int) -> Response:
        share = shares.share_revoke(share=get_object_or_404(Share, pk=pk), user=request.user)
        return Response(ShareSerializer(share).data)


class ShareAccessSerializer(serializers.ModelSerializer):
    class Meta:
        model = ShareAccess
        fields = ["at", "ip", "user_agent", "action", "detail"]


class ShareAccessListApi(generics.ListAPIView):
    permission_classes = [ModelPermissions]
    permission_model = Share
    serializer_class = ShareAccessSerializer
    pagination_class = None

    def get_queryset(self):
        return ShareAccess.objects.filter(share_id=self.kwargs["pk"])


class ConsultReplySerializer(serializers.ModelSerializer):
    attachments = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")

    class Meta:
        model = ConsultReply
        fields = ["id", "share", "author", "findings", "impression", "created_at", "attachments"]


class StudyConsultReplyListApi(generics.ListAPIView):
    permission_classes = [ModelPermissions]
    permission_model = ConsultReply
    serializer_class = ConsultReplySerializer
    pagination_class = None

    def get_queryset(self):
        return ConsultReply.objects.filter(study_id=self.kwargs["pk"]).prefetch_related(
            "attachments"
        )
