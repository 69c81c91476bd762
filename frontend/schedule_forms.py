"""Forms of the scheduling pages: booking an exam (for a known or a new patient) and cancelling."""

from datetime import datetime

from django import forms
from django.utils import timezone

from clinic.models import Sex, Species
from imaging.models import Device
from worklist.models import Priority, Procedure


class DeviceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Device) -> str:
        modality = f"{obj.modality} · " if obj.modality else ""
        return f"{obj.name} ({modality}{obj.ae_title})"


class ProcedureChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Procedure) -> str:
        return f"{obj.name} ({obj.modality})"


class OrderForm(forms.Form):
    """What is booked, where and when; the patient is chosen separately (see BookingForm)."""

    procedure = ProcedureChoiceField(queryset=Procedure.objects.filter(active=True))
    device = DeviceChoiceField(
        label="Modality device",
        queryset=Device.objects.filter(active=True),
        help_text="The console pulls its worklist by this station AE title.",
    )
    day = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    time = forms.TimeField(label="Time", widget=forms.TimeInput(attrs={"type": "time"}))
    requesting_vet = forms.CharField(label="Requesting vet", max_length=100, required=False)
    referring_vet = forms.CharField(label="Referring vet", max_length=100, required=False)
    performing_vet = forms.CharField(
        label="Performing vet / technician",
        max_length=100,
        required=False,
        help_text="Shown to the console as the scheduled performing physician.",
    )
    reason = forms.CharField(
        label="Reason / clinical history",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    priority = forms.ChoiceField(choices=Priority.choices, initial=Priority.ROUTINE)
    # Set by the "Book anyway" button after the same-day duplicate warning.
    confirm_duplicate = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def scheduled_at(self) -> datetime:
        when = datetime.combine(self.cleaned_data["day"], self.cleaned_data["time"])
        return timezone.make_aware(when)

    def booking_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "procedure": data["procedure"],
            "device": data["device"],
            "scheduled_at": self.scheduled_at(),
            "requesting_vet": data["requesting_vet"],
            "referring_vet": data["referring_vet"],
            "performing_vet": data["performing_vet"],
            "reason": data["reason"],
            "priority": data["priority"],
        }


class BookingForm(OrderForm):
    """A booking for a patient found by search (`patient`), or a new owner and patient."""

    patient = forms.IntegerField(required=False, widget=forms.HiddenInput)
    new_patient = forms.BooleanField(label="New patient", required=False, widget=forms.HiddenInput)
    animal_name = forms.CharField(label="Animal name", max_length=100, required=False)
    species = forms.ChoiceField(choices=Species.choices, initial=Species.CANINE, required=False)
    breed = forms.CharField(max_length=64, required=False)
    sex = forms.ChoiceField(choices=Sex.choices, required=False)
    birth_date = forms.DateField(
        label="Birth date", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    patient_id = forms.CharField(
        label="Patient ID",
        max_length=64,
        required=False,
        help_text="Leave empty to have one assigned.",
    )
    microchip = forms.CharField(max_length=32, required=False)
    owner_last_name = forms.CharField(label="Owner last name", max_length=100, required=False)
    owner_first_name = forms.CharField(label="Owner first name", max_length=100, required=False)
    owner_phone = forms.CharField(label="Owner phone", max_length=40, required=False)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("new_patient"):
            for name in ("animal_name", "owner_last_name"):
                if not data.get(name):
                    self.add_error(name, "Needed for a new patient.")
        elif not data.get("patient"):
            raise forms.ValidationError("Find the patient, or choose “New patient”.")
        return data


class CancelForm(forms.Form):
    reason = forms.CharField(
        label="Reason for cancelling", max_length=200, widget=forms.TextInput()
    )


class DayForm(forms.Form):
    """The day view's day and device, from the query string."""

    day = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    device = forms.IntegerField(required=False, min_value=1)


class OrderChangeForm(OrderForm):
    """Changing a booking says why: the order's history keeps what changed and the reason."""

    change_reason = forms.CharField(
        label="Why is it changing?",
        max_length=200,
        help_text='e.g. "Owner asked for the afternoon", "Ultrasound room busy".',
    )
