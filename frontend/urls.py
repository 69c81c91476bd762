"""URLs of the staff pages."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import scheduling, sends, views

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
    # Scheduling (frontend/scheduling.py)
    path("schedule/", scheduling.schedule_day, name="schedule"),
    path("schedule/rows", scheduling.schedule_rows, name="schedule-rows"),
    path("schedule/book", scheduling.schedule_book, name="schedule-book"),
    path("schedule/patients.json", scheduling.patient_search, name="schedule-patient-search"),
    path("schedule/orders/<int:pk>/", scheduling.schedule_edit, name="schedule-edit"),
    path("schedule/orders/<int:pk>/cancel", scheduling.schedule_cancel, name="schedule-cancel"),
    path(
        "studies/<int:pk>/file-under-order",
        scheduling.study_file_under_order,
        name="study-file-under-order",
    ),
]

# Sends and destinations (frontend/sends.py)
urlpatterns += [
    path("sends/", sends.sends, name="sends"),
    path("sends/rows", sends.sends_rows, name="sends-rows"),
    path("sends/<int:pk>/cancel", sends.send_cancel, name="send-cancel"),
    path("sends/<int:pk>/resume", sends.send_resume, name="send-resume"),
    path("studies/<int:pk>/send", sends.study_send, name="study-send"),
    path("studies/<int:pk>/sends", sends.study_sends_live, name="study-sends-live"),
    path("destinations/", sends.destination_list, name="destination-list"),
    path("destinations/<int:pk>/", sends.destination_edit, name="destination-edit"),
    path("destinations/<int:pk>/test", sends.destination_test, name="destination-test"),
]
