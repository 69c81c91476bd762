"""REST API of a study's report: start, edit, sign, addenda, key images, PDF and email.

Routes hang under the study (`/api/studies/<study_pk>/report/…`): a study has one report.
"""

from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.permissions import ModelPermissions
from imaging.models import Study
from reports import reports as service
from reports.key_images import key_image_bytes
from reports.mailing import pdf_filename, report_email
from reports.models import Addendum, KeyImage, Report, ReportTemplate
from reports.pdf import report_pdf
from reports.serializers import (
    AddendumInputSerializer,
    AddendumOutputSerializer,
    EmailInputSerializer,
    EmailOutputSerializer,
    KeyImageInputSerializer,
    KeyImageOutputSerializer,
    ReportOutputSerializer,
    ReportSignInputSerializer,
    ReportStartInputSerializer,
    ReportTemplateOutputSerializer,
    ReportUpdateInputSerializer,
)

_STUDY_PK = OpenApiParameter("study_pk", int, OpenApiParameter.PATH, description="Study id.")


class ReportConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This report is signed and locked."
    default_code = "locked"


def _study(request: Request, study_pk: int) -> Study:
    return get_object_or_404(Study.objects.visible_to(request.user), pk=study_pk)


def _report(request: Request, study_pk: int) -> Report:
    study = _study(request, study_pk)
    report = service.report_of(study)
    if report is None:
        raise Http404("This study has no report yet.")
    return report


def _refuse(exc: service.ReportError):
    if isinstance(exc, service.ReportLocked):
        raise ReportConflict(str(exc)) from exc
    raise ValidationError({"detail": str(exc)}) from exc


def _output(report: Report) -> dict:
    report = Report.objects.select_related("template").get(pk=report.pk)
    return ReportOutputSerializer(report).data


class _ReportApi(generics.GenericAPIView):
    permission_classes = [ModelPermissions]
    permission_model = Report
    queryset = Report.objects.all()
    serializer_class = ReportOutputSerializer


@extend_schema(parameters=[_STUDY_PK])
class StudyReportApi(_ReportApi):
    """The study's report. POST starts the draft (from the matching template unless one is
    named); PATCH saves its text, each change kept as a version; a signed report is locked (409)."""

    @extend_schema(
        responses={200: ReportOutputSerializer, 404: OpenApiResponse(description="No report yet.")}
    )
    def get(self, request: Request, study_pk: int) -> Response:
        return Response(_output(_report(request, study_pk)))

    @extend_schema(
        request=ReportStartInputSerializer,
        responses={201: ReportOutputSerializer, 200: ReportOutputSerializer},
    )
    def post(self, request: Request, study_pk: int) -> Response:
        study = _study(request, study_pk)
        serializer = ReportStartInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        existed = service.report_of(study) is not None
        report = service.report_start(
            study=study, user=request.user, template=serializer.validated_data.get("template")
        )
        code = status.HTTP_200_OK if existed else status.HTTP_201_CREATED
        return Response(_output(report), status=code)

    @extend_schema(
        request=ReportUpdateInputSerializer,
        responses={
            200: ReportOutputSerializer,
            409: OpenApiResponse(description="Signed and locked."),
        },
    )
    def patch(self, request: Request, study_pk: int) -> Response:
        report = _report(request, study_pk)
        serializer = ReportUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            if "template" in data:
                report = service.report_apply_template(
                    report=report, template=data["template"], user=request.user
                )
            if "findings" in data or "impression" in data:
                report = service.report_save(
                    report=report,
                    findings=data.get("findings", report.findings),
                    impression=data.get("impression", report.impression),
                    user=request.user,
                )
        except service.ReportError as exc:
            _refuse(exc)
        return Response(_output(report))


@extend_schema(parameters=[_STUDY_PK])
class StudyReportSignApi(_ReportApi):
    """Sign (finalize) the report: veterinarians only. Findings and impression may be sent
    with it as the final text. The signed report is stored into the study as DICOM."""

    permission_actions = {"POST": "sign"}

    @extend_schema(
        request=ReportSignInputSerializer,
        responses={
            200: ReportOutputSerializer,
            409: OpenApiResponse(description="Already signed."),
        },
    )
    def post(self, request: Request, study_pk: int) -> Response:
        report = _report(request, study_pk)
        serializer = ReportSignInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            report = service.report_sign(
                report=report, user=request.user, **serializer.validated_data
            )
        except service.ReportLocked as exc:
            raise ReportConflict("This report is already signed.") from exc
        except service.ReportError as exc:
            _refuse(exc)
        return Response(_output(report))


@extend_schema(parameters=[_STUDY_PK])
class StudyReportAddendumApi(_ReportApi):
    """Add an addendum to a signed report (veterinarians); stored into the study as a new
    instance of the report's DICOM series."""

    permission_model = Addendum
    queryset = Addendum.objects.all()
    serializer_class = AddendumOutputSerializer

    @extend_schema(request=AddendumInputSerializer, responses={201: AddendumOutputSerializer})
    def post(self, request: Request, study_pk: int) -> Response:
        report = _report(request, study_pk)
        serializer = AddendumInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            addendum = service.addendum_add(
                report=report, text=serializer.validated_data["text"], user=request.user
            )
        except service.ReportError as exc:
            _refuse(exc)
        addendum.refresh_from_db()
        return Response(AddendumOutputSerializer(addendum).data, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[_STUDY_PK])
class StudyReportPdfApi(_ReportApi):
    """The report as PDF ("DRAFT" across every page until it is signed)."""

    @extend_schema(responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY)})
    def get(self, request: Request, study_pk: int) -> HttpResponse:
        report = _report(request, study_pk)
        response = HttpResponse(report_pdf(report), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{pdf_filename(report)}"'
        response["Cache-Control"] = "no-store"
        return response


@extend_schema(parameters=[_STUDY_PK])
class StudyReportEmailApi(_ReportApi):
    """Email the signed report's PDF (to the referring vet); the send is in its history.
    A failure (400) says what to fix."""

    permission_actions = {"POST": "email"}

    @extend_schema(request=EmailInputSerializer, responses={200: EmailOutputSerializer})
    def post(self, request: Request, study_pk: int) -> Response:
        report = _report(request, study_pk)
        serializer = EmailInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        to = serializer.validated_data["to"]
        try:
            report_email(
                report=report, to=to, user=request.user,
                message=serializer.validated_data["message"],
            )  # fmt: skip
        except service.ReportError as exc:
            _refuse(exc)
        return Response({"detail": f"Report emailed to {to}."})


@extend_schema(parameters=[_STUDY_PK])
class StudyKeyImageListApi(generics.ListAPIView):
    """The report's key images. POST adds a frame of one of the study's images to its draft
    report (started if there is none), as the viewer's "Key image" button does."""

    permission_classes = [ModelPermissions]
    permission_model = Report
    permission_actions = {"POST": "change"}
    queryset = KeyImage.objects.all()
    serializer_class = KeyImageOutputSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[KeyImage]:
        study = _study(self.request, self.kwargs["study_pk"])
        return KeyImage.objects.filter(report__study=study).select_related(
            "instance__series", "report"
        )

    @extend_schema(
        request=KeyImageInputSerializer,
        responses={201: KeyImageOutputSerializer, 200: KeyImageOutputSerializer},
    )
    def post(self, request: Request, study_pk: int) -> Response:
        study = _study(request, study_pk)
        serializer = KeyImageInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        before = KeyImage.objects.filter(report__study=study).count()
        try:
            key_image = service.key_image_add(
                study=study, user=request.user, **serializer.validated_data
            )
        except service.ReportError as exc:
            _refuse(exc)
        created = KeyImage.objects.filter(report__study=study).count() > before
        return Response(
            KeyImageOutputSerializer(key_image).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


_KEY_IMAGE_PK = OpenApiParameter("pk", int, OpenApiParameter.PATH, description="Key image id.")


class _KeyImageApi(generics.GenericAPIView):
    permission_classes = [ModelPermissions]
    permission_model = Report
    queryset = KeyImage.objects.all()
    serializer_class = KeyImageOutputSerializer

    def get_object(self) -> KeyImage:
        study = _study(self.request, self.kwargs["study_pk"])
        return get_object_or_404(
            KeyImage.objects.select_related("instance__series", "report"),
            report__study=study,
            pk=self.kwargs["pk"],
        )


@extend_schema(parameters=[_STUDY_PK, _KEY_IMAGE_PK])
class StudyKeyImageDetailApi(_KeyImageApi):
    """One key image; DELETE removes it from the draft report."""

    permission_actions = {"DELETE": "change"}

    def get(self, request: Request, study_pk: int, pk: int) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(responses={204: None, 409: OpenApiResponse(description="Signed and locked.")})
    def delete(self, request: Request, study_pk: int, pk: int) -> Response:
        try:
            service.key_image_remove(key_image=self.get_object(), user=request.user)
        except service.ReportError as exc:
            _refuse(exc)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(parameters=[_STUDY_PK, _KEY_IMAGE_PK])
class StudyKeyImagePngApi(_KeyImageApi):
    """The key image as PNG, with its annotations burned in (as in the PDF)."""

    @extend_schema(
        parameters=[OpenApiParameter("size", int, description="Longest side in pixels (64-2048).")],
        responses={(200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY)},
    )
    def get(self, request: Request, study_pk: int, pk: int) -> HttpResponse:
        try:
            size = min(max(int(request.query_params.get("size", 512)), 64), 2048)
        except ValueError:
            raise ValidationError({"size": "A whole number of pixels."}) from None
        png = key_image_bytes(self.get_object(), max_size=size)
        return HttpResponse(png, content_type="image/png")


class ReportTemplateListApi(generics.ListAPIView):
    """The report templates vets choose from (administrators edit them in the admin)."""

    permission_classes = [ModelPermissions]
    queryset = ReportTemplate.objects.filter(active=True)
    serializer_class = ReportTemplateOutputSerializer
    pagination_class = None
