"""`python manage.py seed_worklist`: the procedure catalog and a realistic day of bookings.

Books today's exams on each demo modality (DR room, portable DR, ultrasound, CT, dental) for
the demo patients, so `findscu -W` against a fresh portal returns a worklist at once. Needs
the demo patients and devices of `seed_demo` (which calls this command last). Running it
again books nothing twice.
"""

from datetime import datetime, time

from django.core.management.base import BaseCommand
from django.utils import timezone

from clinic.models import Patient
from imaging.models import Device
from worklist import orders
from worklist.catalog import catalog_seed
from worklist.models import Order, Priority, Procedure

# The dental unit is not one of the devices that sends demo studies, so it is added here.
DENTAL_DEVICE = {"ae_title": "DEMO_IO", "name": "Dental X-ray", "modality": "IO", "location": "Dental suite"}  # fmt: skip

# Who performs the exams on each device: the radiography technician on the X-ray and CT
# rooms; on the others, the requesting vet scans or images the patient themselves.
TECHNICIAN = "Lea Jansen"
TECHNICIAN_DEVICES = {"DEMO_DR", "DEMO_DRPORT", "DEMO_CT"}

# time, device AE title, patient ID, procedure code, requesting vet, reason, priority
DAY = [
    ("08:30", "DEMO_DR", "DEMO-1001", "THX3", "Anna Berg", "Coughing for two weeks; rule out metastases", Priority.ROUTINE),
    ("09:15", "DEMO_DR", "DEMO-1005", "STIF2", "Anna Berg", "Left hind lameness after agility", Priority.ROUTINE),
    ("10:00", "DEMO_DR", "DEMO-1005", "PELVD", "Anna Berg", "Hip screening (BVA/KC scheme)", Priority.ROUTINE),
    ("11:30", "DEMO_DR", "DEMO-1002", "THX2", "Piet de Vries", "Dyspnoea, suspected pleural effusion", Priority.STAT),
    ("14:00", "DEMO_DR", "DEMO-1003", "ABD2", "Piet de Vries", "Gut stasis", Priority.HIGH),
    ("15:00", "DEMO_DR", "DEMO-1006", "ABD2", "Anna Berg", "Suspected egg retention", Priority.ROUTINE),
    ("10:30", "DEMO_DRPORT", "DEMO-1004", "FETL2", "Anna Berg", "Left fore lameness, pre-purchase", Priority.ROUTINE),
    ("09:00", "DEMO_US", "DEMO-1002", "ABDUS", "Piet de Vries", "Weight loss, raised liver enzymes", Priority.ROUTINE),
    ("11:00", "DEMO_US", "DEMO-1001", "ECHO", "Anna Berg", "New murmur grade III/VI", Priority.HIGH),
    ("15:30", "DEMO_US", "DEMO-1005", "ABDUS", "Anna Berg", "Pregnancy check", Priority.ROUTINE),
    ("10:00", "DEMO_CT", "DEMO-1003", "CTHEAD", "Piet de Vries", "Dental disease, retrobulbar abscess?", Priority.ROUTINE),
    ("13:00", "DEMO_CT", "DEMO-1001", "CTTHX", "Anna Berg", "Staging before splenectomy", Priority.ROUTINE),
    ("09:30", "DEMO_IO", "DEMO-1002", "DENT", "Piet de Vries", "Resorptive lesions", Priority.ROUTINE),
    ("14:30", "DEMO_IO", "DEMO-1003", "DENT", "Piet de Vries", "Cheek teeth overgrowth", Priority.ROUTINE),
]  # fmt: skip


class Command(BaseCommand):
    help = "Seed the procedure catalog and book today's demo exams on each demo modality."

    def handle(self, *args, **options) -> None:
        added = catalog_seed()
        self.stdout.write(
            f"Procedure catalog: {Procedure.objects.count()} procedures ({added} new)"
        )
        Device.objects.get_or_create(
            ae_title=DENTAL_DEVICE["ae_title"],
            defaults={k: v for k, v in DENTAL_DEVICE.items() if k != "ae_title"},
        )
        devices = {d.ae_title: d for d in Device.objects.filter(ae_title__in={r[1] for r in DAY})}
        patients = {p.patient_id: p for p in Patient.objects.filter(patient_id__in={r[2] for r in DAY})}  # fmt: skip
        procedures = {p.code: p for p in Procedure.objects.filter(code__in={r[3] for r in DAY})}
        today = timezone.localdate()
        booked = skipped = 0
        for clock, ae_title, patient_id, code, vet, reason, priority in DAY:
            device, patient, procedure = (
                devices.get(ae_title),
                patients.get(patient_id),
                procedures.get(code),
            )
            if not (device and patient and procedure):
                skipped += 1
                continue
            at = timezone.make_aware(datetime.combine(today, time.fromisoformat(clock)))
            if Order.objects.filter(
                patient=patient, procedure=procedure, device=device, scheduled_at=at
            ).exists():
                continue
            order = orders.order_schedule(
                patient=patient,
                procedure=procedure,
                device=device,
                scheduled_at=at,
                requesting_vet=vet,
                referring_vet=vet,
                performing_vet=TECHNICIAN if ae_title in TECHNICIAN_DEVICES else vet,
                reason=reason,
                priority=priority,
            )
            booked += 1
            self.stdout.write(
                f"  {clock} {ae_title:12} {order.accession_number:16} "
                f"{patient.name} — {procedure.name}"
            )
        self.stdout.write(f"Today's worklist: {booked} exams booked")
        if skipped:
            self.stdout.write(
                self.style.WARNING(
                    f"{skipped} bookings skipped: run `manage.py seed_demo` first for the demo "
                    "patients and devices"
                )
            )
