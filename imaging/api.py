"""REST API for studies, their series and instances, and thumbnails; study and patient fixes."""

from django.db.models import QuerySet
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.models import Patient
from clinic.permissions import ModelPermissions
from clinic.serializers import PatientOutputSerializer, validated_query
from imaging import storage
from imaging.models import Instance, Series, Study, ThumbnailState
from imaging.selectors import (
    instances_visible_to,
    series_visible_to,
    studies_visible_to,
    study_list,
)
from imaging.serializers import (
    InstanceOutputSerializer,
    SeriesOutputSerializer,
    StudyFilterSerializer,
    StudyOutputSerializer,
    StudyUpdateInputSerializer,
    ThumbnailMissingSerializer,
)
from imaging.studies import patient_verify, study_reassign


class StudyListApi(generics.ListAPIView):
    """Studies, newest arrival first, filtered by date, modality, patient and status."""

    permission_classes = [ModelPermissions]
    queryset = Study.objects.all()
    serializer_class = StudyOutputSerializer

    def get_queryset(self) -> QuerySet[Study]:
        filters = validated_query(StudyFilterSerializer, self.request)
        return study_list(user=self.request.user, **filters)

    @extend_schema(parameters=[StudyFilterSerializer])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)


class StudyDetailApi(generics.RetrieveAPIView):
    """One study; moving it to its right patient needs `imaging.change_study`."""

    permission_classes = [ModelPermissions]
    queryset = Study.objects.all()
    serializer_class = StudyOutputSerializer

    def get_queryset(self) -> QuerySet[Study]:
        return studies_visible_to(self.request.user)

    @extend_schema(request=StudyUpdateInputSerializer, responses=StudyOutputSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        study = self.get_object()
        serializer = StudyUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        study_reassign(study=study, patient=serializer.validated_data["patient"], user=request.user)
        return Response(self.get_serializer(self.get_object()).data)


class PatientVerifyApi(generics.GenericAPIView):
    """Confirm a patient created from an arriving study; each of their studies records who did."""

    permission_classes = [ModelPermissions]
    permission_actions = {"POST": "change"}
    queryset = Patient.objects.select_related("owner")
    serializer_class = PatientOutputSerializer

    @extend_schema(request=None, responses=PatientOutputSerializer)
    def post(self, request: Request, pk: int) -> Response:
        patient = patient_verify(patient=self.get_object(), user=request.user)
        return Response(self.get_serializer(patient).data)


# Series and instances are parts of a study: who may see the study may see them.
_STUDY_ID = OpenApiParameter("study_id", int, OpenApiParameter.PATH, description="Study id.")
_SERIES_ID = OpenApiParameter("series_id", int, OpenApiParameter.PATH, description="Series id.")


def _visible_study(request: Request, pk: int) -> Study:
    return get_object_or_404(Study.objects.visible_to(request.user), pk=pk)


@extend_schema(parameters=[_STUDY_ID])
class StudySeriesListApi(generics.ListAPIView):
    """The series of one study, in series-number order."""

    permission_classes = [ModelPermissions]
    permission_model = Study
    queryset = Series.objects.all()
    serializer_class = SeriesOutputSerializer

    def get_queryset(self) -> QuerySet[Series]:
        study = _visible_study(self.request, self.kwargs["study_id"])
        return study.series.order_by("series_number", "received_at", "pk")


@extend_schema(parameters=[_STUDY_ID])
class StudyInstanceListApi(generics.ListAPIView):
    """Every instance of one study, series by series."""

    permission_classes = [ModelPermissions]
    permission_model = Study
    queryset = Instance.objects.all()
    serializer_class = InstanceOutputSerializer

    def get_queryset(self) -> QuerySet[Instance]:
        study = _visible_study(self.request, self.kwargs["study_id"])
        return Instance.objects.filter(series__study=study).order_by(
            "series__series_number", "series__received_at", "series_id", "instance_number", "pk"
        )


class SeriesDetailApi(generics.RetrieveAPIView):
    permission_classes = [ModelPermissions]
    permission_model = Study
    queryset = Series.objects.all()
    serializer_class = SeriesOutputSerializer

    def get_queryset(self) -> QuerySet[Series]:
        return series_visible_to(self.request.user)


@extend_schema(parameters=[_SERIES_ID])
class SeriesInstanceListApi(generics.ListAPIView):
    """The instances of one series, in instance-number order."""

    permission_classes = [ModelPermissions]
    permission_model = Study
    queryset = Instance.objects.all()
    serializer_class = InstanceOutputSerializer

    def get_queryset(self) -> QuerySet[Instance]:
        series = get_object_or_404(
            series_visible_to(self.request.user), pk=self.kwargs["series_id"]
        )
        return series.instances.order_by("instance_number", "received_at", "pk")


class InstanceDetailApi(generics.RetrieveAPIView):
    permission_classes = [ModelPermissions]
    permission_model = Study
    queryset = Instance.objects.all()
    serializer_class = InstanceOutputSerializer

    def get_queryset(self) -> QuerySet[Instance]:
        return instances_visible_to(self.request.user)


# Thumbnails ---------------------------------------------------------------------------------


class _JSONErrors(BaseContentNegotiation):
    """Answer errors in JSON even to a client that accepts only image/png (an <img> tag)."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


_THUMBNAIL_RESPONSES = {
    (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="The PNG thumbnail."),
    (404, "application/json"): OpenApiResponse(
        ThumbnailMissingSerializer, description="Not rendered yet, not drawable, or missing."
    ),
}


def _no_thumbnail(detail: str, state: str) -> Response:
    return Response({"detail": detail, "thumbnail_state": state}, status=status.HTTP_404_NOT_FOUND)


def _png(key: str) -> Response | FileResponse:
    try:
        return FileResponse(storage.thumbnail_open(key), content_type="image/png")
    except OSError:
        return _no_thumbnail("The thumbnail file is missing from storage.", "missing")


class _ThumbnailApi(generics.GenericAPIView):
    permission_classes = [ModelPermissions]
    permission_model = Study
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _JSONErrors


class SeriesThumbnailApi(_ThumbnailApi):
    """The series' representative thumbnail, as PNG."""

    queryset = Series.objects.all()

    def get_queryset(self) -> QuerySet[Series]:
        return series_visible_to(self.request.user)

    @extend_schema(responses=_THUMBNAIL_RESPONSES)
    def get(self, request: Request, pk: int) -> Response | FileResponse:
        series = self.get_object()
        if not series.thumbnail_key:
            return _no_thumbnail("The series thumbnail has not been rendered yet.", "pending")
        return _png(series.thumbnail_key)


class InstanceThumbnailApi(_ThumbnailApi):
    """The instance's thumbnail, as PNG: a placeholder naming the reason if it is not drawable."""

    queryset = Instance.objects.all()

    def get_queryset(self) -> QuerySet[Instance]:
        return instances_visible_to(self.request.user)

    @extend_schema(responses=_THUMBNAIL_RESPONSES)
    def get(self, request: Request, pk: int) -> Response | FileResponse:
        instance = self.get_object()
        if instance.thumbnail_key:
            return _png(instance.thumbnail_key)
        # The renderer stores a placeholder for a file it cannot draw; this covers one without.
        if instance.thumbnail_state == ThumbnailState.FAILED:
            reason = instance.thumbnail_error or "unknown reason"
            return _no_thumbnail(f"The image could not be rendered: {reason}.", "failed")
        return _no_thumbnail("The instance thumbnail has not been rendered yet.", "pending")
