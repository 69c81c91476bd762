"""URLs of the staff pages."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("login/", views.PortalLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.arrivals, name="arrivals"),
    path("arrivals/rows", views.arrivals_rows, name="arrivals-rows"),
    path("studies/<int:pk>/", views.study_detail, name="study-detail"),
    path("studies/<int:pk>/live", views.study_live, name="study-live"),
    path("studies/<int:pk>/move", views.study_move, name="study-move"),
    path("patients/", views.patient_list, name="patient-list"),
    path("patients/<int:pk>/", views.patient_detail, name="patient-detail"),
    path("patients/<int:pk>/verify", views.patient_verify, name="patient-verify"),
    path("owners/<int:pk>/", views.owner_detail, name="owner-detail"),
    path("thumbnails/series/<int:pk>.png", views.series_thumbnail, name="series-thumbnail"),
    path("thumbnails/instances/<int:pk>.png", views.instance_thumbnail, name="instance-thumbnail"),
]
