from django.contrib import admin

from reports.models import Addendum, Report, ReportEvent, ReportTemplate, ReportVersion


@admin.register(ReportTemplate)
class ReportTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "procedure_codes", "modalities", "body_parts", "active", "order"]
    list_editable = ["active", "order"]
    search_fields = ["name", "procedure_codes", "modalities", "body_parts"]


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class VersionInline(_ReadOnlyInline):
    model = ReportVersion
    fields = ["number", "saved_at", "saved_by", "signed", "findings", "impression"]


class AddendumInline(_ReadOnlyInline):
    model = Addendum
    fields = ["number", "created_at", "author_name", "text", "dicom_sop_instance_uid"]


class EventInline(_ReadOnlyInline):
    model = ReportEvent
    fields = ["at", "kind", "message", "user"]


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    """Read-only: reports are written and signed on the study page, where the rules apply."""

    list_display = ["study", "status", "signed_by_name", "signed_at", "updated_at"]
    list_filter = ["status"]
    search_fields = ["study__patient__name", "study__accession_number"]
    inlines = [VersionInline, AddendumInline, EventInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
