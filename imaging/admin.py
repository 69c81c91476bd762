from django.contrib import admin

from imaging.models import Destination, Device, RoutingRule, SendJob, Study


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["name", "ae_title", "modality", "host", "location", "active"]
    list_filter = ["modality", "active"]
    search_fields = ["name", "ae_title", "host"]


@admin.register(Destination)
class DestinationAdmin(admin.ModelAdmin):
    list_display = ["name", "ae_title", "host", "port", "kind", "storage_commitment", "active"]
    list_filter = ["kind", "active"]
    search_fields = ["name", "ae_title", "host"]
    # Listed so the change form keeps this order: the inherited node fields would come first.
    fields = [
        *Destination.ADDRESS_FIELDS, "kind", *Destination.TLS_FIELDS, "preferred_transfer_syntax",
        "max_associations", "storage_commitment", "query_retrieve", "active",
    ]  # fmt: skip


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "device", "modality", "procedure", "body_part", "active"]
    list_filter = ["active"]
    filter_horizontal = ["destinations"]


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    """Read-mostly: studies are written by ingest; fixing a patient goes through the study page."""

    list_display = ["study_instance_uid", "patient", "modalities", "received_at", "status"]
    list_filter = ["status", "modalities"]
    search_fields = ["study_instance_uid", "accession_number", "patient__name"]
    readonly_fields = [f.name for f in Study._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(SendJob)
class SendJobAdmin(admin.ModelAdmin):
    list_display = [
        "study",
        "destination",
        "state",
        "instances_total",
        "requested_by_ae",
        "created_at",
    ]
    list_filter = ["state", "destination"]
    readonly_fields = [f.name for f in SendJob._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
