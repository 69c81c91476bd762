"""REST API for printing: printers (administrators keep them; staff who print see them) and
print jobs (technicians, veterinarians)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.permissions import ModelPermissions
from clinic.serializers import model_rules_check
from imaging.models import Study
from printing import jobs
from printing.models import (
    FILM_SIZES,
    LAYOUT_CHOICES,
    FilmOrientation,
    PrintDestination,
    PrintJob,
)


class PrintDestinationSerializer(serializers.ModelSerializer):
    film_sizes = serializers.ListField(
        child=serializers.ChoiceField(choices=list(FILM_SIZES)), required=False
    )

    class Meta:
        model = PrintDestination
        fields = [
            "id", *PrintDestination.ADDRESS_FIELDS, "film_sizes", "default_film_size",
            "orientation", "magnification", "medium_type", *PrintDestination.TLS_FIELDS, "active",
        ]  # fmt: skip

    def validate(self, attrs: dict) -> dict:
        return model_rules_check(self, attrs, jobs.print_destination_validate)


class PrintDestinationListApi(generics.ListCreateAPIView):
    """Anyone who may print sees the (active) printers; only administrators add them."""

    permission_classes = [ModelPermissions]
    permission_model = PrintDestination
    serializer_class = PrintDestinationSerializer

    def get_queryset(self):
        printers = PrintDestination.objects.all()
        if not self.request.user.has_perm("printing.change_printdestination"):
            printers = printers.filter(active=True)
        return printers


class PrintDestinationDetailApi(generics.RetrieveUpdateDestroyAPIView):
    permission_classes = [ModelPermissions]
    queryset = PrintDestination.objects.all()
    serializer_class = PrintDestinationSerializer


class PrintDestinationTestApi(generics.GenericAPIView):
    """C-ECHO and Printer N-GET; the answer says in words whether the printer is ready."""

    permission_classes = [ModelPermissions]
    permission_actions = {"POST": "change"}
    queryset = PrintDestination.objects.all()

    @extend_schema(
        request=None,
        responses=inline_serializer(
            "PrinterCheck", {"ok": serializers.BooleanField(), "message": serializers.CharField()}
        ),
    )
    def post(self, request: Request, pk: int) -> Response:
        check = jobs.print_destination_test(destination=self.get_object())
        return Response({"ok": check.ok, "message": check.message})


class PrintJobImageSerializer(serializers.Serializer):
    sop_instance_uid = serializers.CharField(max_length=64)
    frame = serializers.IntegerField(min_value=1, default=1)
    window_center = serializers.FloatField(required=False, allow_null=True, default=None)
    window_width = serializers.FloatField(
        required=False, allow_null=True, default=None, min_value=0
    )


class PrintJobSerializer(serializers.ModelSerializer):
    destination_name = serializers.CharField(source="destination.name")
    state_label = serializers.CharField(source="get_state_display")
    images = serializers.SerializerMethodField()

    class Meta:
        model = PrintJob
        fields = [
            "id", "study", "destination", "destination_name", "layout", "film_size",
            "orientation", "copies", "annotations", "state", "state_label", "error", "attempts",
            "films", "printer_status", "printer_status_info", "created_at", "started_at",
            "finished_at", "images",
        ]  # fmt: skip

    def get_images(self, job: PrintJob) -> list[dict]:
        return [
            {
                "sop_instance_uid": image.instance.sop_instance_uid,
                "frame": image.frame,
                "window_center": image.window_center,
                "window_width": image.window_width,
            }
            for image in job.images.select_related("instance")
        ]


class PrintJobCreateSerializer(serializers.Serializer):
    study = serializers.PrimaryKeyRelatedField(queryset=Study.objects.all())
    destination = serializers.PrimaryKeyRelatedField(queryset=PrintDestination.objects.all())
    images = PrintJobImageSerializer(many=True, required=False)
    key_images = serializers.BooleanField(default=False, help_text="Print the report's key images")
    layout = serializers.ChoiceField(choices=LAYOUT_CHOICES, default="STANDARD\\1,1")
    film_size = serializers.ChoiceField(choices=list(FILM_SIZES), required=False, default="")
    orientation = serializers.ChoiceField(
        choices=FilmOrientation.choices, required=False, default=""
    )
    copies = serializers.IntegerField(min_value=1, max_value=jobs.MAX_COPIES, default=1)
    annotations = serializers.BooleanField(default=True, help_text="Burn annotations in")


class PrintJobListApi(generics.ListAPIView):
    """Print jobs, newest first (`?study=` narrows to one study); POST queues a new one."""

    permission_classes = [ModelPermissions]
    queryset = PrintJob.objects.select_related("destination")
    serializer_class = PrintJobSerializer

    def get_queryset(self):
        printed = (
            super().get_queryset().filter(study__in=Study.objects.visible_to(self.request.user))
        )
        if study := self.request.query_params.get("study"):
            printed = printed.filter(study_id=study)
        return printed

    @extend_schema(request=PrintJobCreateSerializer, responses={201: PrintJobSerializer})
    def post(self, request: Request) -> Response:
        data = PrintJobCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        if not Study.objects.visible_to(request.user).filter(pk=fields["study"].pk).exists():
            return Response({"detail": "No such study."}, status=status.HTTP_404_NOT_FOUND)
        fields["images"] = [jobs.ImageChoice(**image) for image in fields.get("images", [])]
        try:
            job = jobs.print_job_create(**fields, user=request.user)
        except jobs.PrintError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(PrintJobSerializer(job).data, status=status.HTTP_201_CREATED)


class PrintJobDetailApi(generics.RetrieveAPIView):
    permission_classes = [ModelPermissions]
    permission_model = PrintJob
    serializer_class = PrintJobSerializer

    def get_queryset(self):
        return PrintJob.objects.select_related("destination").filter(
            study__in=Study.objects.visible_to(self.request.user)
        )


class PrintJobRetryApi(generics.GenericAPIView):
    """Queue a failed print again."""

    permission_classes = [ModelPermissions]
    permission_actions = {"POST": "change"}
    queryset = PrintJob.objects.all()

    @extend_schema(request=None, responses=PrintJobSerializer)
    def post(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(PrintJob, pk=pk)
        try:
            job = jobs.print_job_retry(job_id=job.pk)
        except jobs.PrintError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(PrintJobSerializer(job).data)
