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
]  # fmt: skip
_SCHEDULING = [
    "worklist.view_procedure", "worklist.view_order", "worklist.add_order", "worklist.change_order",
    "imaging.view_device",
]  # fmt: skip

ROLE_PERMISSIONS: dict[str, list[str]] = {
    FRONT_DESK: _CLINIC_RECORDS + _SCHEDULING,
    TECHNICIAN: _CLINIC_RECORDS + _IMAGING_READ + _SCHEDULING + _STUDY_WORK,
    VETERINARIAN: _CLINIC_RECORDS + _IMAGING_READ + _SCHEDULING + _STUDY_WORK,
    ADMINISTRATOR: ["*"],
}


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
