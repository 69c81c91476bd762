"""REST API: add a photo, video or PDF to a patient's study (converted to DICOM)."""

from __future__ import annotations

import uuid

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.models import Patient
from clinic.permissions import ModelPermissions
from imaging.convert import ENDOSCOPY, OTHER, Attached, MediaRefused, media_attach
from imaging.models import Instance, Study


class MediaAttachInput(serializers.Serializer):
    file = serializers.FileField(help_text="A JPEG or PNG photo, an MP4 (H.264) video or a PDF.")
    patient = serializers.IntegerField(
        required=False, allow_null=True, help_text="The patient (for a new study)."
    )
    study = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="The study to add to; without it, a new study for the patient.",
    )
    study_description = serializers.CharField(
        required=False, allow_blank=True, max_length=64, help_text="Description of a new study."
    )
    video_kind = serializers.ChoiceField(
        choices=[(ENDOSCOPY, "Endoscopy"), (OTHER, "Other video")], default=OTHER,
        help_text="Endoscopy videos become Video Endoscopic, others Video Photographic.",
    )  # fmt: skip
    batch = serializers.RegexField(
        r"^[A-Za-z0-9_-]{1,64}$", required=False,
        help_text="Files sent with the same batch share one series per kind (and one new study).",
    )  # fmt: skip

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("patient") and not attrs.get("study"):
            raise serializers.ValidationError("Choose the patient or the study.")
        return attrs


class MediaAttachOutput(serializers.Serializer):
    status = serializers.ChoiceField(choices=["added", "duplicate", "refused"])
    kind = serializers.CharField()
    message = serializers.CharField()
    study = serializers.IntegerField(allow_null=True)
    study_url = serializers.CharField()
    series_description = serializers.CharField()
    sop_instance_uid = serializers.CharField()


def attached_result(attached: Attached, filename: str) -> dict:
    """What the page and the API say about one added file."""
    if attached.status == "duplicate":
        message = f"{filename}: already in this study, not added again"
    else:
        message = f"{filename}: added to {attached.series_description}"
    return {
        "status": attached.status,
        "kind": attached.kind,
        "message": message,
        "study": attached.study.pk,
        "study_url": attached.study.get_absolute_url(),
        "series_description": attached.series_description,
        "sop_instance_uid": attached.instance.sop_instance_uid,
    }


def refused_result(reason: str, filename: str) -> dict:
    return {
        "status": "refused", "kind": "", "message": f"{filename}: {reason}", "study": None,
        "study_url": "", "series_description": "", "sop_instance_uid": "",
    }  # fmt: skip


def media_attach_request(*, data: dict, user, default_batch: str) -> dict:
    """Resolve the patient and study, convert and receive the file; the result as a dict."""
    study = None
    if data.get("study"):
        study = get_object_or_404(Study.objects.visible_to(user).select_related("patient"), pk=data["study"])  # fmt: skip
        patient = study.patient
    else:
        patient = get_object_or_404(Patient, pk=data["patient"])
    upload = data["file"]
    filename = upload.name or "file"
    if study is not None and data.get("patient") and data["patient"] != study.patient_id:
        return refused_result("the study belongs to another patient", filename)
    try:
        attached = media_attach(
            source=upload,
            filename=filename,
            patient=patient,
            study=study,
            batch=data.get("batch") or default_batch,
            video_kind=data.get("video_kind") or OTHER,
            study_description=data.get("study_description", ""),
            user=user,
        )
    except MediaRefused as exc:
        return refused_result(str(exc), filename)
    return attached_result(attached, filename)


class MediaAttachApi(APIView):
    """Add one photo, video or PDF to a study (or to a new study of the patient) as DICOM."""

    permission_classes = [ModelPermissions]
    permission_model = Instance  # POST needs imaging.add_instance
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": MediaAttachInput},
        responses={201: MediaAttachOutput, 200: MediaAttachOutput, 422: MediaAttachOutput},
    )
    def post(self, request: Request) -> Response:
        if not request.user.has_perm("imaging.view_study"):
            return Response(
                {"detail": "You may not see studies."}, status=status.HTTP_403_FORBIDDEN
            )
        form = MediaAttachInput(data=request.data)
        form.is_valid(raise_exception=True)
        result = media_attach_request(
            # Without a batch, each request is its own: its own series (and new study).
            data=form.validated_data,
            user=request.user,
            default_batch=uuid.uuid4().hex,
        )
        code = {"added": 201, "duplicate": 200}.get(result["status"], 422)
        return Response(MediaAttachOutput(result).data, status=code)
