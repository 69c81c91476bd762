"""URLs of the staff pages."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import (
    activity,
    attach_media,
    imports,
    printing_pages,
    reports,
    scheduling,
    sends,
    sharing_pages,
    storage_status,
    viewer,
    views,
)

urlpatterns = [
    path("login/", views.PortalLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.arrivals, name="arrivals"),
    path("arrivals/rows", views.arrivals_rows, name="arrivals-rows"),
    path("studies/<int:pk>/", views.study_detail, name="study-detail"),
    path("studies/<int:pk>/live", views.study_live, name="study-live"),
    path("studies/<int:pk>/move", views.study_move, name="study-move"),
    path("studies/<int:pk>/viewer", viewer.study_viewer, name="study-viewer"),
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
    path("routing-rules/", sends.routing_rule_list, name="routing-rule-list"),
    path("routing-rules/<int:pk>/", sends.routing_rule_edit, name="routing-rule-edit"),
    path("routing-rules/<int:pk>/delete", sends.routing_rule_delete, name="routing-rule-delete"),
]

# Reports (frontend/reports.py)
urlpatterns += [
    path("studies/<int:pk>/report/", reports.report_editor, name="report-editor"),
    path("studies/<int:pk>/report/start", reports.report_start, name="report-start"),
    path("studies/<int:pk>/report/save", reports.report_save, name="report-save"),
    path("studies/<int:pk>/report/sign", reports.report_sign, name="report-sign"),
    path("studies/<int:pk>/report/addendum", reports.report_addendum, name="report-addendum"),
    path("studies/<int:pk>/report/email", reports.report_send_email, name="report-email"),
    path("studies/<int:pk>/report/pdf", reports.report_pdf_download, name="report-pdf"),
    path("studies/<int:pk>/report/store", reports.report_store, name="report-store"),
    path(
        "studies/<int:pk>/report/key-images/add",
        reports.key_image_add,
        name="report-key-image-add",
    ),
    path(
        "studies/<int:pk>/report/key-images/<int:key_image_pk>.png",
        reports.key_image_png,
        name="report-key-image",
    ),
    path(
        "studies/<int:pk>/report/key-images/<int:key_image_pk>/remove",
        reports.key_image_remove,
        name="report-key-image-remove",
    ),
]

# Sharing with specialists (frontend/sharing_pages.py; the specialist's pages are sharing/urls.py)
urlpatterns += [
    path("studies/<int:pk>/share", sharing_pages.study_share_create, name="study-share-create"),
    path("shares/<int:pk>/revoke", sharing_pages.share_revoke, name="share-revoke"),
    path("shares/<int:pk>/push", sharing_pages.share_push, name="share-push"),
    path(
        "consult-attachments/<int:pk>",
        sharing_pages.consult_attachment,
        name="consult-attachment",
    ),
    path("consultants/", sharing_pages.consultant_list, name="consultant-list"),
    path("consultants/<int:pk>/", sharing_pages.consultant_edit, name="consultant-edit"),
]

# Printing (frontend/printing_pages.py)
urlpatterns += [
    path("prints/", printing_pages.prints, name="prints"),
    path("prints/rows", printing_pages.prints_rows, name="prints-rows"),
    path("prints/<int:pk>/retry", printing_pages.print_retry, name="print-retry"),
    path("printers/", printing_pages.printer_list, name="printer-list"),
    path("printers/<int:pk>/", printing_pages.printer_edit, name="printer-edit"),
    path("printers/<int:pk>/test", printing_pages.printer_test, name="printer-test"),
]

# Storage status for administrators (frontend/storage_status.py)
urlpatterns += [
    path("storage/", storage_status.storage_status, name="storage-status"),
]

# Photos, videos and PDFs added to a study as DICOM, and their playback (frontend/attach_media.py)
urlpatterns += [
    path("studies/<int:pk>/attach", attach_media.study_attach_media, name="study-attach-media"),
    path(
        "patients/<int:pk>/attach", attach_media.patient_attach_media, name="patient-attach-media"
    ),
    path(
        "studies/<int:pk>/instances/<str:uid>/video.mp4",
        attach_media.instance_media,
        name="instance-video",
    ),
    path(
        "studies/<int:pk>/instances/<str:uid>/document.pdf",
        attach_media.instance_media,
        name="instance-document",
    ),
]

# Where did my images go? (frontend/activity.py)
urlpatterns += [
    path("where/", activity.where, name="where"),
    path("dicom-activity/", activity.dicom_activity, name="dicom-activity"),
    path("dicom-activity/<int:pk>/", activity.association_detail, name="association-detail"),
]

# Imports: files, folders, ZIP archives and CDs from the browser (frontend/imports.py)
urlpatterns += [
    path("imports/", imports.import_page, name="import"),
    path("imports/start", imports.import_start, name="import-start"),
    path("imports/<int:pk>/", imports.import_detail, name="import-detail"),
    path("imports/<int:pk>/files", imports.import_file, name="import-file"),
    path("imports/<int:pk>/cd", imports.import_cd, name="import-cd"),
    path("imports/<int:pk>/finish", imports.import_finish, name="import-finish"),
]
