"""REST API under /api/: each app contributes its own routes."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from clinic import api as clinic_api
from imaging import api as imaging_api

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
]
