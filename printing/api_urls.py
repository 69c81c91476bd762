"""The printing routes of the REST API (included under /api/)."""

from django.urls import path

from printing import api

urlpatterns = [
    path(
        "print-destinations/",
        api.PrintDestinationListApi.as_view(),
        name="api-print-destinations",
    ),
    path(
        "print-destinations/<int:pk>/",
        api.PrintDestinationDetailApi.as_view(),
        name="api-print-destination",
    ),
    path(
        "print-destinations/<int:pk>/test",
        api.PrintDestinationTestApi.as_view(),
        name="api-print-destination-test",
    ),
    path("print-jobs/", api.PrintJobListApi.as_view(), name="api-print-jobs"),
    path("print-jobs/<int:pk>/", api.PrintJobDetailApi.as_view(), name="api-print-job"),
    path("print-jobs/<int:pk>/retry", api.PrintJobRetryApi.as_view(), name="api-print-job-retry"),
]
