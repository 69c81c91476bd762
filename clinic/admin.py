from django.contrib import admin

from clinic.models import Owner, Patient


@admin.register(Owner)
class OwnerAdmin(admin.ModelAdmin):
    list_display = ["last_name", "first_name", "organization", "phone", "email"]
    search_fields = ["last_name", "first_name", "organization", "phone", "email"]


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["name", "patient_id", "species", "breed", "owner", "verified"]
    list_filter = ["species", "verified", "sex", "neutered"]
    search_fields = ["name", "patient_id", "microchip", "owner__last_name", "dicom_name"]
    raw_id_fields = ["owner"]
