"""REST API under /api/: each app contributes its own routes."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from clinic import api as clinic_api
from frontend import where_api
from imaging import annotation_api, media_api, send_api, storage_status_api
from imaging import api as imaging_api
from reports import api as reports_api
from sharing import api as sharing_api
from worklist import api as worklist_api

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # clinic
    path("owners/", clinic_api.OwnerListApi.as_view(), name="api-owners"),
    path("owners/<int:pk>/", clinic_api.OwnerDetailApi.as_view(), name="api-owner"),
    path("patients/", clinic_api.PatientListApi.as_view(), name="api-patients"),
    path("patients/<int:pk>/", clinic_api.PatientDetailApi.as_view(), name="api-patient"),
    # Confirming a patient writes to their studies' history, so imaging answers it.
    path(
        "patients/<int:pk>/verify",
        imaging_api.PatientVerifyApi.as_view(),
        name="api-patient-verify",
    ),
    # imaging
    path("studies/", imaging_api.StudyListApi.as_view(), name="api-studies"),
    path("studies/<int:pk>/", imaging_api.StudyDetailApi.as_view(), name="api-study"),
    path(
        "studies/<int:study_id>/series/",
        imaging_api.StudySeriesListApi.as_view(),
        name="api-study-series",
    ),
    path(
        "studies/<int:study_id>/instances/",
        imaging_api.StudyInstanceListApi.as_view(),
        name="api-study-instances",
    ),
    path("series/<int:pk>/", imaging_api.SeriesDetailApi.as_view(), name="api-series"),
    path(
        "series/<int:series_id>/instances/",
        imaging_api.SeriesInstanceListApi.as_view(),
        name="api-series-instances",
    ),
    path(
        "series/<int:pk>/thumbnail",
        imaging_api.SeriesThumbnailApi.as_view(),
        name="api-series-thumbnail",
    ),
    path("instances/<int:pk>/", imaging_api.InstanceDetailApi.as_view(), name="api-instance"),
    path(
        "instances/<int:pk>/thumbnail",
        imaging_api.InstanceThumbnailApi.as_view(),
        name="api-instance-thumbnail",
    ),
    # worklist
    path("procedures/", worklist_api.ProcedureListApi.as_view(), name="api-procedures"),
    path("procedures/<int:pk>/", worklist_api.ProcedureDetailApi.as_view(), name="api-procedure"),
    path("orders/", worklist_api.OrderListApi.as_view(), name="api-orders"),
    path("orders/<int:pk>/", worklist_api.OrderDetailApi.as_view(), name="api-order"),
    path("orders/<int:pk>/cancel", worklist_api.OrderCancelApi.as_view(), name="api-order-cancel"),
    path(
        "orders/<int:pk>/file-under-patient",
        worklist_api.OrderFilePatientApi.as_view(),
        name="api-order-file-under-patient",
    ),
]

# imaging: storage status (administrators)
urlpatterns += [
    path(
        "storage-status/",
        storage_status_api.StorageStatusApi.as_view(),
        name="api-storage-status",
    ),
]

# imaging: photos, videos and PDFs added to a study as DICOM
urlpatterns += [path("media/", media_api.MediaAttachApi.as_view(), name="api-media-attach")]

# imaging: destinations and sends
urlpatterns += [
    path("destinations/", send_api.DestinationListApi.as_view(), name="api-destinations"),
    path("destinations/<int:pk>/", send_api.DestinationDetailApi.as_view(), name="api-destination"),
    path(
        "destinations/<int:pk>/echo",
        send_api.DestinationEchoApi.as_view(),
        name="api-destination-echo",
    ),
    path("sends/", send_api.SendJobListApi.as_view(), name="api-sends"),
    path("sends/<int:pk>/", send_api.SendJobDetailApi.as_view(), name="api-send"),
    path("sends/<int:pk>/cancel", send_api.SendJobCancelApi.as_view(), name="api-send-cancel"),
    path("sends/<int:pk>/resume", send_api.SendJobResumeApi.as_view(), name="api-send-resume"),
    path("routing-rules/", send_api.RoutingRuleListApi.as_view(), name="api-routing-rules"),
    path(
        "routing-rules/<int:pk>/", send_api.RoutingRuleDetailApi.as_view(), name="api-routing-rule"
    ),
]

# imaging: annotations and measurements
urlpatterns += [
    path(
        "studies/<int:study_pk>/annotations/",
        annotation_api.StudyAnnotationListApi.as_view(),
        name="api-study-annotations",
    ),
    path(
        "studies/<int:study_pk>/annotations/export",
        annotation_api.StudyAnnotationExportApi.as_view(),
        name="api-study-annotations-export",
    ),
    path(
        "annotations/<int:pk>/",
        annotation_api.AnnotationDetailApi.as_view(),
        name="api-annotation",
    ),
]

# reports: a study's report, its key images, PDF and email
urlpatterns += [
    path(
        "studies/<int:study_pk>/report/",
        reports_api.StudyReportApi.as_view(),
        name="api-study-report",
    ),
    path(
        "studies/<int:study_pk>/report/sign",
        reports_api.StudyReportSignApi.as_view(),
        name="api-study-report-sign",
    ),
    path(
        "studies/<int:study_pk>/report/addenda",
        reports_api.StudyReportAddendumApi.as_view(),
        name="api-study-report-addenda",
    ),
    path(
        "studies/<int:study_pk>/report/pdf",
        reports_api.StudyReportPdfApi.as_view(),
        name="api-study-report-pdf",
    ),
    path(
        "studies/<int:study_pk>/report/email",
        reports_api.StudyReportEmailApi.as_view(),
        name="api-study-report-email",
    ),
    path(
        "studies/<int:study_pk>/key-images/",
        reports_api.StudyKeyImageListApi.as_view(),
        name="api-study-key-images",
    ),
    path(
        "studies/<int:study_pk>/key-images/<int:pk>/",
        reports_api.StudyKeyImageDetailApi.as_view(),
        name="api-study-key-image",
    ),
    path(
        "studies/<int:study_pk>/key-images/<int:pk>/image.png",
        reports_api.StudyKeyImagePngApi.as_view(),
        name="api-study-key-image-png",
    ),
    path(
        "report-templates/",
        reports_api.ReportTemplateListApi.as_view(),
        name="api-report-templates",
    ),
]

# sharing
urlpatterns += [
    path("consultants/", sharing_api.ConsultantListApi.as_view(), name="api-consultants"),
    path("consultants/<int:pk>/", sharing_api.ConsultantDetailApi.as_view(), name="api-consultant"),
    path("studies/<int:pk>/shares/", sharing_api.StudyShareListApi.as_view(), name="api-shares"),
    path("shares/<int:pk>/revoke", sharing_api.ShareRevokeApi.as_view(), name="api-share-revoke"),
    path(
        "shares/<int:pk>/access-log/",
        sharing_api.ShareAccessListApi.as_view(),
        name="api-share-access-log",
    ),
    path(
        "studies/<int:pk>/consult-replies/",
        sharing_api.StudyConsultReplyListApi.as_view(),
        name="api-consult-replies",
    ),
]

# printing
urlpatterns += [path("", include("printing.api_urls"))]

# frontend: the finder ("where is it?")
urlpatterns += [path("where/", where_api.WhereApi.as_view(), name="api-where")]
