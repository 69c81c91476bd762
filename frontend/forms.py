"""Forms of the pages: they validate what staff typed and hand clean values to a service."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django import forms
from django.utils import timezone

# Modalities a veterinary clinic meets (PS3.3 C.7.3.1.1.1 defined terms).
MODALITIES = [
    ("DX", "DX — digital radiography"),
    ("CR", "CR — computed radiography"),
    ("US", "US — ultrasound"),
    ("CT", "CT — computed tomography"),
    ("MR", "MR — magnetic resonance"),
    ("IO", "IO — intra-oral (dental)"),
    ("PX", "PX — panoramic dental"),
    ("RF", "RF — fluoroscopy"),
    ("XA", "XA — angiography"),
    ("NM", "NM — nuclear medicine"),
    ("ES", "ES — endoscopy"),
    ("XC", "XC — photograph"),
    ("OT", "OT — other"),
]

STATUS_CHOICES = [
    ("", "Any status"),
    ("receiving", "Receiving"),
    ("complete", "Complete"),
    ("thumbnails_pending", "Thumbnails pending"),
    ("unverified", "Unverified patient"),
]


@dataclass(frozen=True)
class ArrivalsFilter:
    """What the technician asked to see: received dates (inclusive, local), modality, status, search."""

    day_from: date
    day_to: date
    modality: str = ""
    status: str = ""
    search: str = ""

    def received_range(self) -> tuple[datetime, datetime]:
        """From the start of the first day to the start of the day after the last, local time."""
        start = datetime.combine(self.day_from, time.min)
        end = datetime.combine(self.day_to + timedelta(days=1), time.min)
        return timezone.make_aware(start), timezone.make_aware(end)


class ArrivalsFilterForm(forms.Form):
    """The arrivals page's filters, read from the query string (a bookmarkable view)."""

    day_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    day_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    modality = forms.ChoiceField(
        label="Modality", required=False, choices=[("", "Any modality"), *MODALITIES]
    )
    status = forms.ChoiceField(label="Status", required=False, choices=STATUS_CHOICES)
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Patient, owner, patient ID, accession"}
        ),
    )

    def filters(self) -> ArrivalsFilter:
        """The filter to apply: today's arrivals when nothing (or nothing valid) was given."""
        today = timezone.localdate()
        data: dict = {}
        if self.is_bound:
            self.is_valid()  # keeps the valid fields in cleaned_data, drops the rest
            data = self.cleaned_data
        day_from: date = data.get("day_from") or data.get("day_to") or today
        day_to: date = data.get("day_to") or max(day_from, today)
        return ArrivalsFilter(
            day_from=min(day_from, day_to),
            day_to=max(day_from, day_to),
            modality=data.get("modality", ""),
            status=data.get("status", ""),
            search=data.get("q", ""),
        )


class PatientSearchForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Animal, owner, phone, patient ID, microchip"}
        ),
    )

    def text(self) -> str:
        return self.cleaned_data.get("q", "") if self.is_valid() else ""


class StudyReassignForm(forms.Form):
    """Which patient a wrong-patient arrival really belongs to."""

    patient = forms.IntegerField(widget=forms.HiddenInput)
