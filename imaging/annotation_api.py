"""REST API for a study's annotations: list, draw, change and delete (authors only), export.

The list holds the marks outside specialists drew through share links too, named as theirs
(`author.name`, `via_share`); the clinic reads them but never changes them here."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.permissions import ModelPermissions
from imaging.annotation_export import NothingToExport, study_annotations_export
from imaging.annotation_serializers import (
    AnnotationCreateInputSerializer,
    AnnotationExportOutputSerializer,
    AnnotationOutputSerializer,
    AnnotationUpdateInputSerializer,
)
from imaging.annotations import (
    AnnotationForbidden,
    AnnotationInvalid,
    annotation_create,
    annotation_delete,
    annotation_update,
    study_annotations,
)
from imaging.models import Annotation, Study

_STUDY_PK = OpenApiParameter("study_pk", int, OpenApiParameter.PATH, description="Study id.")


def _visible_study(request: Request, pk: int) -> Study:
    return get_object_or_404(Study.objects.visible_to(request.user), pk=pk)


def _invalid(exc: AnnotationInvalid) -> Response:
    return Response(exc.errors, status=status.HTTP_400_BAD_REQUEST)


@extend_schema(parameters=[_STUDY_PK])
class StudyAnnotationListApi(generics.GenericAPIView):
    """Every annotation of the study (all of it, not paged); drawing one measures it."""

    permission_classes = [ModelPermissions]
    queryset = Annotation.objects.all()
    serializer_class = AnnotationOutputSerializer
    pagination_class = None

    @extend_schema(responses=AnnotationOutputSerializer(many=True))
    def get(self, request: Request, study_pk: int) -> Response:
        study = _visible_study(request, study_pk)
        return Response(self.get_serializer(study_annotations(study), many=True).data)

    @extend_schema(
        request=AnnotationCreateInputSerializer, responses={201: AnnotationOutputSerializer}
    )
    def post(self, request: Request, study_pk: int) -> Response:
        study = _visible_study(request, study_pk)
        serializer = AnnotationCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            annotation = annotation_create(
                study=study, author=request.user, **serializer.validated_data
            )
        except AnnotationInvalid as exc:
            return _invalid(exc)
        return Response(self.get_serializer(annotation).data, status=status.HTTP_201_CREATED)


class AnnotationDetailApi(generics.GenericAPIView):
    """One annotation; only its author changes or deletes it."""

    permission_classes = [ModelPermissions]
    queryset = Annotation.objects.all()
    serializer_class = AnnotationOutputSerializer

    def get_queryset(self) -> QuerySet[Annotation]:
        visible = Study.objects.visible_to(self.request.user)
        return Annotation.objects.filter(study__in=visible).select_related(
            "instance__series", "author", "study__patient"
        )

    def get(self, request: Request, pk: int) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(request=AnnotationUpdateInputSerializer, responses=AnnotationOutputSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        annotation = self.get_object()
        serializer = AnnotationUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            annotation = annotation_update(
                annotation=annotation, author=request.user, **serializer.validated_data
            )
        except AnnotationForbidden as exc:
            raise PermissionDenied(str(exc)) from exc
        except AnnotationInvalid as exc:
            return _invalid(exc)
        return Response(self.get_serializer(annotation).data)

    def delete(self, request: Request, pk: int) -> Response:
        try:
            annotation_delete(annotation=self.get_object(), author=request.user)
        except AnnotationForbidden as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(parameters=[_STUDY_PK])
class StudyAnnotationExportApi(generics.GenericAPIView):
    """Store the study's annotations into it: presentation state(s) and a measurement report.

    Exporting again replaces the earlier export (same series, new instances)."""

    permission_classes = [ModelPermissions]
    permission_model = Study
    permission_actions = {"POST": "change"}
    serializer_class = AnnotationExportOutputSerializer

    @extend_schema(request=None, responses={201: AnnotationExportOutputSerializer})
    def post(self, request: Request, study_pk: int) -> Response:
        if not request.user.has_perm("imaging.view_annotation"):
            raise PermissionDenied()
        study = _visible_study(request, study_pk)
        try:
            exported = study_annotations_export(study=study, user=request.user)
        except NothingToExport as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(self.get_serializer(exported).data, status=status.HTTP_201_CREATED)
