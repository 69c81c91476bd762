from django.contrib import admin

from printing.models import PrintDestination, PrintJob, PrintJobImage


@admin.register(PrintDestination)
class PrintDestinationAdmin(admin.ModelAdmin):
    list_display = ["name", "ae_title", "host", "port", "default_film_size", "active"]
    # Listed so the change form keeps this order: the inherited node fields would come first.
    fields = [
        *PrintDestination.ADDRESS_FIELDS, "film_sizes", "default_film_size", "orientation",
        "magnification", "medium_type", *PrintDestination.TLS_FIELDS, "active",
    ]  # fmt: skip


class PrintJobImageInline(admin.TabularInline):
    model = PrintJobImage
    raw_id_fields = ["instance"]
    extra = 0


@admin.register(PrintJob)
class PrintJobAdmin(admin.ModelAdmin):
    list_display = ["pk", "study", "destination", "state", "created_at", "created_by"]
    list_filter = ["state", "destination"]
    raw_id_fields = ["study"]
    inlines = [PrintJobImageInline]
