"""The clinic's own records: owners (clients) and patients (their animals)."""

from django.db import models
from django.db.models import Q
from django.urls import reverse


class Species(models.TextChoices):
    CANINE = "canine", "Canine"
    FELINE = "feline", "Feline"
    EQUINE = "equine", "Equine"
    BOVINE = "bovine", "Bovine"
    OVINE = "ovine", "Ovine"
    CAPRINE = "caprine", "Caprine"
    PORCINE = "porcine", "Porcine"
    AVIAN = "avian", "Avian"
    LAGOMORPH = "lagomorph", "Lagomorph"
    RODENT = "rodent", "Rodent"
    REPTILE = "reptile", "Reptile"
    OTHER = "other", "Other"


class Sex(models.TextChoices):
    # PS3.3 C.7.1.1: Patient's Sex is M, F or O; neutering is a separate attribute.
    MALE = "M", "Male"
    FEMALE = "F", "Female"
    OTHER = "O", "Other"
    UNKNOWN = "", "Unknown"


class Neutered(models.TextChoices):
    # PS3.3 C.7.1.1 (0010,2203) Patient's Sex Neutered: ALTERED or UNALTERED.
    ALTERED = "ALTERED", "Neutered / spayed"
    UNALTERED = "UNALTERED", "Intact"
    UNKNOWN = "", "Unknown"


class OwnerQuerySet(models.QuerySet):
    def search(self, text: str) -> "OwnerQuerySet":
        text = text.strip()
        if not text:
            return self
        return self.filter(
            Q(last_name__icontains=text)
            | Q(first_name__icontains=text)
            | Q(organization__icontains=text)
            | Q(phone__icontains=text)
        )


class Owner(models.Model):
    """A client of the clinic: the responsible party for one or more patients."""

    last_name = models.CharField(max_length=100, db_index=True)
    first_name = models.CharField(max_length=100, blank=True)
    organization = models.CharField(
        max_length=200, blank=True, help_text="Farm, shelter, breeder …"
    )
    phone = models.CharField(max_length=40, blank=True, db_index=True)
    email = models.EmailField(blank=True)
    address = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OwnerQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name"]

    def __str__(self) -> str:
        return self.display_name

    def get_absolute_url(self) -> str:
        return reverse("owner-detail", args=[self.pk])

    @property
    def display_name(self) -> str:
        if self.first_name:
            return f"{self.first_name} {self.last_name}"
        return self.last_name or self.organization


class PatientQuerySet(models.QuerySet):
    def search(self, text: str) -> "PatientQuerySet":
        text = text.strip()
        if not text:
            return self
        return self.filter(
            Q(name__icontains=text)
            | Q(owner__last_name__icontains=text)
            | Q(owner__first_name__icontains=text)
            | Q(owner__phone__icontains=text)
            | Q(patient_id__iexact=text)
            | Q(microchip__iexact=text)
        )


class Patient(models.Model):
    """An animal. `patient_id` is the clinic's ID, matched against DICOM Patient ID (0010,0020)."""

    # Indexed on its own too: searches by Patient ID (DICOM queries, the finder) name no issuer.
    patient_id = models.CharField("patient ID", max_length=64, db_index=True)
    # Issuer of Patient ID (0010,0021): IDs are unique only within their issuer.
    issuer = models.CharField("issuer of patient ID", max_length=64, blank=True, default="")
    name = models.CharField("animal name", max_length=100, db_index=True)
    owner = models.ForeignKey(
        Owner, null=True, blank=True, on_delete=models.PROTECT, related_name="patients"
    )
    species = models.CharField(max_length=20, choices=Species.choices, default=Species.OTHER)
    species_text = models.CharField("species (as written)", max_length=64, blank=True)
    breed = models.CharField(max_length=64, blank=True)
    sex = models.CharField(max_length=1, choices=Sex.choices, blank=True, default=Sex.UNKNOWN)
    neutered = models.CharField(
        max_length=10, choices=Neutered.choices, blank=True, default=Neutered.UNKNOWN
    )
    birth_date = models.DateField(null=True, blank=True)
    weight_kg = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    colour = models.CharField("colour / markings", max_length=100, blank=True)
    microchip = models.CharField(max_length=32, blank=True, db_index=True)
    # Patients created from an arriving study are unverified until staff confirm them.
    verified = models.BooleanField(default=True)
    # Raw Patient's Name as the modality sent it, kept to help staff fix unverified patients.
    dicom_name = models.CharField(max_length=200, blank=True)
    responsible_person = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "patient_id"], name="patient_id_unique_per_issuer"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.patient_id})"

    def get_absolute_url(self) -> str:
        return reverse("patient-detail", args=[self.pk])

    @property
    def owner_name(self) -> str:
        if self.owner:
            return self.owner.display_name
        return self.responsible_person

    @property
    def species_label(self) -> str:
        if self.species == Species.OTHER and self.species_text:
            return self.species_text
        return self.get_species_display()
