from django.contrib import admin

from worklist.models import ExpectedView, Order, Procedure


class ExpectedViewInline(admin.TabularInline):
    model = ExpectedView
    extra = 1


@admin.register(Procedure)
class ProcedureAdmin(admin.ModelAdmin):
    """The procedure catalog: administrators edit it (the seed never overwrites their edits)."""

    list_display = ["code", "name", "modality", "body_part", "active"]
    list_filter = ["modality", "active"]
    search_fields = ["code", "name"]
    inlines = [ExpectedViewInline]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Orders are booked and changed on the Schedule pages, which keep their history."""

    list_display = ["accession_number", "patient", "procedure", "device", "scheduled_at", "status"]
    list_filter = ["status", "device", "procedure"]
    search_fields = ["accession_number", "patient__name", "patient__patient_id"]
    readonly_fields = [f.name for f in Order._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
