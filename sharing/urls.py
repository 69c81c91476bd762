"""URLs under /share/: the specialist's side of share links."""

from django.urls import path, re_path

from sharing import annotations, media, viewer, views

app_name = "sharing"

urlpatterns = [
    path("v/<int:pk>/", views.share_study, name="study"),
    path("v/<int:pk>/passcode", views.share_passcode, name="passcode"),
    path("v/<int:pk>/download.zip", views.share_download, name="download"),
    path("v/<int:pk>/report.pdf", views.share_report, name="report"),
    path("v/<int:pk>/reply", views.share_reply, name="reply"),
    path("v/<int:pk>/viewer", viewer.share_viewer, name="viewer"),
    path("v/<int:pk>/media/<str:uid>", media.share_media, name="media"),
    path("v/<int:pk>/annotations/", annotations.share_annotation_list, name="annotations"),
    path(
        "v/<int:pk>/annotations/<int:ann_pk>/",
        annotations.share_annotation_detail,
        name="annotation",
    ),
    re_path(
        r"^v/(?P<pk>[0-9]+)/dicomweb/(?P<rest>.*)$", views.share_dicomweb_view, name="dicomweb"
    ),  # fmt: skip
    path("<str:token>/", views.share_open, name="open"),
]
