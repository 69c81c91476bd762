"""Top-level URLs: pages, REST API, OpenAPI schema, admin."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("clinic.api_urls")),
    path("dicomweb/", include("imaging.dicomweb.urls")),
    path("share/", include("sharing.urls")),
    path("", include("frontend.urls")),
]
