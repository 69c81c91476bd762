"""Staff roles as Django groups, and the permissions each one holds.

Pages and API endpoints check permissions (never group names), so a clinic can tailor a
group in the admin without touching code. `roles_sync()` runs after every migrate.
"""

from django.contrib.auth.models import Group, Permission

FRONT_DESK = "Front desk"
TECHNICIAN = "Technician"
VETERINARIAN = "Veterinarian"
ADMINISTRATOR = "Administrator"

_CLINIC_RECORDS = [
    "clinic.view_owner", "clinic.add_owner", "clinic.change_owner",
    "clinic.view_patient", "clinic.add_patient", "clinic.change_patient",
]  # fmt: skip
_IMAGING_READ = ["imaging.view_study", "imaging.view_device"]
# Fixing studies and sending them on (to a PACS, an archive, a specialist).
_STUDY_WORK = [
    "imaging.change_study",
    "imaging.view_sendjob", "imaging.add_sendjob", "imaging.change_sendjob",
    # Importing studies: browser uploads (files, folders, ZIP, CDs) and STOW-RS.
    "imaging.import_study",
    # Adding photos, videos and PDFs to a patient's study (converted to DICOM).
    "imaging.add_instance",
]  # fmt: skip
# Measuring and marking images; authors change only their own (checked by the API).
_ANNOTATING = [
    "imaging.view_annotation", "imaging.add_annotation",
    "imaging.change_annotation", "imaging.delete_annotation",
]  # fmt: skip
# Reports: technicians prepare drafts (template, key images, text) and email signed reports;
# only veterinarians sign and add addenda.
_REPORT_DRAFTING = [
    "reports.view_report", "reports.add_report", "reports.change_report",
    "reports.email_report", "reports.view_reporttemplate",
]  # fmt: skip
_REPORT_SIGNING = ["reports.sign_report", "reports.add_addendum"]
# Sharing studies with outside specialists, and the directory of those specialists.
_SHARING = [
    "sharing.view_share", "sharing.add_share", "sharing.change_share",
    "sharing.view_consultant", "sharing.add_consultant", "sharing.change_consultant",
    "sharing.delete_consultant", "sharing.view_consultreply",
]  # fmt: skip
# Printing images on the clinic's DICOM printers; administrators manage the printers.
_PRINTING = [
    "printing.view_printdestination", "printing.view_printjob", "printing.add_printjob",
    "printing.change_printjob",
]  # fmt: skip
# The association log and devices at a glance ("DICOM activity").
_DICOM_ACTIVITY = ["imaging.view_associationrecord"]
_SCHEDULING = [
    "worklist.view_procedure", "worklist.view_order", "worklist.add_order", "worklist.change_order",
    "imaging.view_device",
]  # fmt: skip

ROLE_PERMISSIONS: dict[str, list[str]] = {
    FRONT_DESK: _CLINIC_RECORDS + _SCHEDULING,
    TECHNICIAN: (
        _CLINIC_RECORDS + _IMAGING_READ + _SCHEDULING + _STUDY_WORK + _ANNOTATING
        + _REPORT_DRAFTING + _PRINTING + _DICOM_ACTIVITY
    ),
    VETERINARIAN: (
        _CLINIC_RECORDS + _IMAGING_READ + _SCHEDULING + _STUDY_WORK + _ANNOTATING
        + _REPORT_DRAFTING + _REPORT_SIGNING + _SHARING + _PRINTING
    ),
    ADMINISTRATOR: ["*"],
}  # fmt: skip


def _permissions(codes: list[str]) -> list[Permission]:
    if codes == ["*"]:
        return list(Permission.objects.all())
    found = []
    for code in codes:
        app_label, codename = code.split(".", 1)
        found.extend(
            Permission.objects.filter(content_type__app_label=app_label, codename=codename)
        )
    return found


def roles_sync() -> None:
    """Create the role groups and give each exactly the permissions listed above."""
    for role, codes in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set(_permissions(codes))
