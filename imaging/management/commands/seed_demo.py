"""`python manage.py seed_demo`: a living portal in a minute.

Creates a user per staff role, owners and patients of several species, the modalities that
send to the portal, and sends a handful of synthetic studies to the running DICOM listener
exactly as consoles do (C-STORE, one association per study), so they arrive under their
patients. When the reports app is installed it then writes the demo reports (`seed_reports`: a
signed thorax report with a key image, a draft on the fetlock study). Running it again adds
nothing: existing users, patients, studies and reports are left alone.
"""

import logging
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone
from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid
from pynetdicom import AE

from clinic import roles
from clinic.models import Neutered, Owner, Patient, Sex, Species
from imaging.models import Device, Study
from imaging.synthetic import make_dataset

STAFF = [
    # user name, role, first name, last name
    ("frontdesk", roles.FRONT_DESK, "Fiona", "Reed"),
    ("tech", roles.TECHNICIAN, "Tom", "Baker"),
    ("vet", roles.VETERINARIAN, "Anna", "Berg"),
    ("manager", roles.ADMINISTRATOR, "Maya", "Okoro"),
]

OWNERS = {
    "smith": {"first_name": "Sarah", "last_name": "Smith", "phone": "+44 20 7946 0011",
              "email": "sarah.smith@example.com", "address": "12 Elm Road, Bristol"},
    "mueller": {"first_name": "Jürgen", "last_name": "Müller", "phone": "+49 30 1234 5678",
                "email": "j.mueller@example.com", "address": "Lindenstraße 4, Berlin"},
    "johnson": {"first_name": "Emma", "last_name": "Johnson", "phone": "+44 20 7946 0734",
                "email": "emma.johnson@example.com", "address": "3 Mill Lane, Bath"},
    "hartley": {"first_name": "Tom", "last_name": "Hartley", "organization": "Green Acres Stables",
                "phone": "+44 1225 555 019", "email": "office@greenacres.example.com",
                "address": "Green Acres, Wells Road, Somerset"},
    "okafor": {"first_name": "Chidi", "last_name": "Okafor", "phone": "+44 20 7946 0990",
               "email": "chidi.okafor@example.com", "address": "Flat 2, 40 King Street, Bristol"},
}  # fmt: skip


@dataclass(frozen=True)
class DemoPatient:
    patient_id: str
    name: str
    owner: str
    species: str
    species_text: str  # Patient Species Description as a console writes it
    breed: str
    sex: str
    neutered: str
    birth_date: date
    weight_kg: str
    colour: str
    microchip: str


PATIENTS = [
    DemoPatient("DEMO-1001", "Rex", "smith", Species.CANINE, "Canine", "Labrador Retriever", Sex.MALE,
                Neutered.ALTERED, date(2019, 4, 2), "32.4", "Yellow", "985112003456781"),
    DemoPatient("DEMO-1002", "Mimi", "mueller", Species.FELINE, "Feline", "British Shorthair", Sex.FEMALE,
                Neutered.ALTERED, date(2016, 9, 12), "4.3", "Blue", "276098106543210"),
    DemoPatient("DEMO-1003", "Clover", "johnson", Species.LAGOMORPH, "Rabbit", "Holland Lop", Sex.FEMALE,
                Neutered.UNALTERED, date(2021, 3, 5), "1.8", "Agouti", "985112009871234"),
    DemoPatient("DEMO-1004", "Thunder", "hartley", Species.EQUINE, "Equine", "Hanoverian", Sex.MALE,
                Neutered.ALTERED, date(2012, 5, 20), "580", "Bay, white star", "826041000123456"),
    DemoPatient("DEMO-1005", "Bella", "smith", Species.CANINE, "Canine", "Border Collie", Sex.FEMALE,
                Neutered.ALTERED, date(2020, 7, 14), "17.9", "Black and white", "985112004567892"),
    DemoPatient("DEMO-1006", "Spike", "okafor", Species.REPTILE, "Bearded dragon", "Pogona vitticeps",
                Sex.MALE, Neutered.UNKNOWN, date(2022, 1, 30), "0.45", "Sand", ""),
]  # fmt: skip

DEVICES = [
    # name, AE title, modality, location
    ("DR room 1", "DEMO_DR", "DX", "X-ray room"),
    ("Portable DR", "DEMO_DRPORT", "DX", "Equine barn"),
    ("Ultrasound cart", "DEMO_US", "US", "Exam room 2"),
    ("Cone-beam CT", "DEMO_CT", "CT", "Imaging suite"),
]


@dataclass(frozen=True)
class DemoStudy:
    key: str
    patient_id: str
    description: str
    accession: str
    device_ae: str
    # Per series: description, View Position, Body Part Examined, painter, instances.
    series: tuple[tuple[str, str, str, str, int], ...]


STUDIES = [
    DemoStudy("thorax", "DEMO-1001", "Thorax 3 views", "DEMO0001", "DEMO_DR", (
        ("Thorax R LAT", "RL", "THORAX", "thorax", 1),
        ("Thorax L LAT", "LL", "THORAX", "thorax", 1),
        ("Thorax VD", "VD", "THORAX", "thorax", 1),
    )),
    DemoStudy("abdomen-us", "DEMO-1002", "Abdomen ultrasound", "DEMO0002", "DEMO_US", (
        ("Abdomen cine", "", "ABDOMEN", "ultrasound", 1),
    )),
    DemoStudy("skull-ct", "DEMO-1003", "Skull CT (dental)", "DEMO0003", "DEMO_CT", (
        ("Skull axial 1 mm", "", "HEAD", "ct", 20),
    )),
    DemoStudy("fetlock", "DEMO-1004", "Left fore fetlock 2 views", "DEMO0004", "DEMO_DRPORT", (
        ("LF fetlock LM", "LM", "EXTREMITY", "limb", 1),
        ("LF fetlock DP", "DP", "EXTREMITY", "limb", 1),
    )),
]  # fmt: skip


# The run whose studies keep the same UIDs every time (--new-studies makes a fresh run).
DEMO_RUN = "vetportal-demo"


def demo_study_uid(key: str) -> str:
    """The Study Instance UID of the demo study `key` ("thorax", "fetlock" …) as first sent."""
    return _uid(DEMO_RUN, key)


class Command(BaseCommand):
    help = "Create demo staff, owners and patients, and send demo studies to the running DICOM listener."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--host", default="127.0.0.1", help="the listener's host (default 127.0.0.1)"
        )
        parser.add_argument(
            "--port",
            type=int,
            default=settings.DICOM_PORT,
            help="the listener's port (default DICOM_PORT)",
        )
        parser.add_argument(
            "--ae-title",
            default=settings.DICOM_AE_TITLE,
            help="the listener's AE title (default DICOM_AE_TITLE)",
        )
        parser.add_argument(
            "--new-studies",
            action="store_true",
            help="send the studies again as new ones (new UIDs), to watch them arrive",
        )

    def handle(
        self, *args, host: str, port: int, ae_title: str, new_studies: bool, **options
    ) -> None:
        self._staff()
        patients = self._patients()
        self._devices()
        run = secrets.token_hex(8) if new_studies else DEMO_RUN
        self.stdout.write(f"Sending studies to {ae_title} at {host}:{port}:")
        sent = 0
        for plan in STUDIES:
            patient = patients[plan.patient_id]
            datasets = _study_datasets(plan, patient, run=run)
            label = f"  {patient.name} ({patient.patient_id}): {plan.description}"
            if Study.objects.filter(study_instance_uid=datasets[0].StudyInstanceUID).exists():
                self.stdout.write(f"{label} — already received, not sent again")
                continue
            _send(datasets, host=host, port=port, ae_title=ae_title, calling_ae=plan.device_ae)
            sent += 1
            self.stdout.write(f"{label} — {len(datasets)} instance(s) sent")
        if apps.is_installed("worklist"):
            # The worklist app books today's exams on the demo devices (referenced by name:
            # imaging does not import the apps above it).
            call_command("seed_worklist", stdout=self.stdout)
        if apps.is_installed("reports"):
            # The reports app writes a signed and a draft report on the studies just sent.
            call_command("seed_reports", stdout=self.stdout)
        url = f"http://localhost:{settings.PORTAL_HTTP_PORT}/"
        self.stdout.write(
            self.style.SUCCESS(f"{sent} studies sent. Open {url} and log in as 'tech'.")
        )

    def _staff(self) -> None:
        roles.roles_sync()
        password = os.environ.get("PORTAL_DEMO_PASSWORD") or ""
        generated = not password
        password = password or secrets.token_urlsafe(12)
        created = []
        self.stdout.write("Staff:")
        for username, role, first_name, last_name in STAFF:
            if User.objects.filter(username=username).exists():
                self.stdout.write(f"  {username:10} {role:14} exists, left unchanged")
                continue
            user = User.objects.create_user(
                username,
                password=password,
                first_name=first_name,
                last_name=last_name,
                is_staff=role == roles.ADMINISTRATOR,  # the admin site needs is_staff
            )
            user.groups.add(Group.objects.get(name=role))
            created.append(username)
            self.stdout.write(f"  {username:10} {role:14} created")
        if created and generated:
            self.stdout.write(
                self.style.WARNING(f"Password of the new users (shown once): {password}")
            )
        elif created:
            self.stdout.write("Password of the new users: the value of PORTAL_DEMO_PASSWORD")

    @transaction.atomic
    def _patients(self) -> dict[str, Patient]:
        owners = {}
        for key, fields in OWNERS.items():
            owner = Owner.objects.filter(email=fields["email"]).first()
            owners[key] = owner or Owner.objects.create(**fields)
        patients, new = {}, 0
        for demo in PATIENTS:
            patient, created = Patient.objects.get_or_create(
                patient_id=demo.patient_id,
                issuer="",
                defaults={
                    "name": demo.name, "owner": owners[demo.owner], "species": demo.species,
                    "species_text": demo.species_text, "breed": demo.breed, "sex": demo.sex,
                    "neutered": demo.neutered, "birth_date": demo.birth_date,
                    "weight_kg": Decimal(demo.weight_kg), "colour": demo.colour, "microchip": demo.microchip,
                },
            )  # fmt: skip
            patients[demo.patient_id] = patient
            new += created
        self.stdout.write(
            f"Owners and patients: {len(owners)} owners, {len(patients)} patients ({new} new)"
        )
        return patients

    def _devices(self) -> None:
        for name, ae_title, modality, location in DEVICES:
            Device.objects.get_or_create(
                ae_title=ae_title,
                defaults={"name": name, "modality": modality, "location": location},
            )


def _send(datasets: list[Dataset], *, host: str, port: int, ae_title: str, calling_ae: str) -> None:
    """C-STORE every data set over one association, as a console sends a study."""
    ae = AE(ae_title=calling_ae)
    for sop_class in dict.fromkeys(ds.SOPClassUID for ds in datasets):
        ae.add_requested_context(sop_class, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    # pynetdicom logs a refused connection as an error; the CommandError below says it better.
    pynetdicom_log = logging.getLogger("pynetdicom")
    level = pynetdicom_log.level
    pynetdicom_log.setLevel(logging.CRITICAL)
    try:
        assoc = ae.associate(host, port, ae_title=ae_title)
    finally:
        pynetdicom_log.setLevel(level)
    if not assoc.is_established:
        if assoc.is_rejected:
            raise CommandError(
                f"The listener at {host}:{port} refused the association (called AE title {ae_title!r}, "
                f"calling AE title {calling_ae!r}). Check --ae-title and the registered devices."
            )
        if not _accepts_connections(host, port):
            raise CommandError(
                f"Nothing is listening at {host}:{port} — start the portal with `make run` first."
            )
        raise CommandError(
            f"The listener at {host}:{port} ended the association before it started."
        )
    try:
        for ds in datasets:
            answer = assoc.send_c_store(ds)
            code = getattr(answer, "Status", None)
            # PS3.4 Annex B.2.3: 0x0000 success, 0xB000-0xB007 warnings (stored, with a caveat).
            if code is None or not (code == 0x0000 or 0xB000 <= code <= 0xB007):
                detail = (
                    "no answer"
                    if code is None
                    else f"status 0x{code:04X} {getattr(answer, 'ErrorComment', '')}"
                )
                raise CommandError(
                    f"The listener did not store {ds.SeriesDescription!r}: {detail}".strip()
                )
    finally:
        if assoc.is_established:
            assoc.release()


def _accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def _uid(run: str, *parts: object) -> str:
    """The same UID on every run of the demo (unless --new-studies), so nothing is received twice."""
    return generate_uid(entropy_srcs=[run, *map(str, parts)])


def _study_datasets(plan: DemoStudy, patient: Patient, *, run: str) -> list[Dataset]:
    """The data sets of one demo study, with the patient's demographics as a console fills them."""
    now = timezone.localtime()
    owner = patient.owner
    responsible = owner.last_name if owner else "Clinic"
    # PS3.3 C.7.1.1.1.1 veterinary convention: family name = responsible party, given = animal.
    common = {
        "study_uid": _uid(run, plan.key),
        "patient_id": patient.patient_id,
        "patient_name": f"{responsible}^{patient.name}",
        "species": patient.species_text or patient.get_species_display(),
        "breed": patient.breed,
        "responsible_person": f"{owner.last_name}^{owner.first_name}" if owner else "",
        "sex": patient.sex or "O",
        "neutered": patient.neutered or None,
        "charset": "ISO_IR 192",  # UTF-8, for names like Müller
        "accession": plan.accession if run == DEMO_RUN else f"D{run[:10].upper()}",
        "study_description": plan.description,
        "station_ae": plan.device_ae,
    }
    datasets = []
    for series_number, (description, view, body_part, kind, count) in enumerate(plan.series, 1):
        for instance_number in range(1, count + 1):
            fields = {
                **common,
                "series_uid": _uid(run, plan.key, series_number),
                "sop_uid": _uid(run, plan.key, series_number, instance_number),
                "series_number": series_number,
                "instance_number": instance_number,
                "series_description": description,
                "view_position": view,
                "body_part": body_part,
            }
            ds = _PAINTERS[kind](fields, count)
            ds.StudyDate = ds.SeriesDate = now.strftime("%Y%m%d")
            ds.StudyTime = ds.SeriesTime = now.strftime("%H%M%S")
            ds.ReferringPhysicianName = "Berg^Anna"
            ds.InstitutionName = settings.PORTAL_CLINIC_NAME[:64]
            if patient.birth_date:
                ds.PatientBirthDate = patient.birth_date.strftime("%Y%m%d")
            if patient.weight_kg is not None:
                ds.PatientWeight = str(patient.weight_kg)
            if owner and owner.organization:
                ds.ResponsibleOrganization = owner.organization
            datasets.append(ds)
    return datasets


def _ellipse(shape: tuple[int, int], cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    """A filled ellipse in coordinates relative to the image (0..1)."""
    y, x = np.ogrid[0 : 1 : shape[0] * 1j, 0 : 1 : shape[1] * 1j]
    return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 < 1


def _radiograph(ds: Dataset, image: np.ndarray, *, seed: int) -> Dataset:
    """Put a 12-bit radiograph (bone bright, air dark) with a little detector noise into `ds`."""
    noise = np.random.default_rng(seed).normal(0, 40, image.shape)
    ds.PixelData = np.clip(image + noise, 0, 4095).astype(np.uint16).tobytes()
    ds.WindowCenter, ds.WindowWidth = 1500, 3000
    return ds


def _paint_thorax(fields: dict, slices: int) -> Dataset:
    view = fields["view_position"]
    ds = make_dataset(modality="DX", rows=1400, columns=1200, **fields)
    shape = (ds.Rows, ds.Columns)
    image = np.full(shape, 250.0)
    if view in ("RL", "LL"):  # lateral: spine along the top, heart low in the chest
        body = _ellipse(shape, 0.5, 0.5, 0.36, 0.46)
        image[body] = 1500
        image[_ellipse(shape, 0.45, 0.52, 0.24, 0.34)] = 700
        image[_ellipse(shape, 0.58, 0.42, 0.15, 0.12)] = 1800
        image[_ellipse(shape, 0.25, 0.5, 0.035, 0.4) & body] = 2900
        if view == "LL":
            image = image[:, ::-1]
    else:  # ventrodorsal: spine down the middle between the two lung fields
        image[_ellipse(shape, 0.5, 0.5, 0.46, 0.36)] = 1500
        image[_ellipse(shape, 0.45, 0.35, 0.3, 0.12) | _ellipse(shape, 0.45, 0.65, 0.3, 0.12)] = 700
        image[_ellipse(shape, 0.55, 0.47, 0.16, 0.13)] = 1800
        image[_ellipse(shape, 0.5, 0.5, 0.46, 0.025)] = 2900
    return _radiograph(ds, image, seed=fields["series_number"])


def _paint_limb(fields: dict, slices: int) -> Dataset:
    ds = make_dataset(modality="DX", rows=1000, columns=800, **fields)
    ds.Laterality = "L"
    shape = (ds.Rows, ds.Columns)
    width = 0.13 if fields["view_position"] == "LM" else 0.17
    image = np.full(shape, 250.0)
    image[_ellipse(shape, 0.5, 0.5, 0.6, width + 0.12)] = 1400
    image[_ellipse(shape, 0.22, 0.5, 0.3, width)] = 2700  # cannon bone
    image[_ellipse(shape, 0.8, 0.52, 0.27, width * 0.9)] = 2700  # pastern
    image[_ellipse(shape, 0.5, 0.4, 0.05, 0.04)] = 2400  # sesamoid
    return _radiograph(ds, image, seed=10 + fields["series_number"])


def _paint_ultrasound(fields: dict, slices: int) -> Dataset:
    """A B-mode sector cine: speckle, a dark bladder that moves as the probe does."""
    ds = make_dataset(
        modality="US",
        photometric="RGB",
        frames=20,
        rows=240,
        columns=320,
        **fields,
    )
    rows, columns = ds.Rows, ds.Columns
    y, x = np.ogrid[0:rows, 0:columns]
    depth = np.hypot(y, x - columns / 2)
    sector = (depth < rows * 0.97) & (np.abs(np.arctan2(x - columns / 2, y + 1e-3)) < 0.6)
    rng = np.random.default_rng(7)
    frames = []
    for index in range(20):
        grey = rng.rayleigh(45, (rows, columns)) * (1.1 - depth / rows / 2)
        grey[_ellipse((rows, columns), 0.55, 0.45 + index * 0.004, 0.16, 0.14)] *= 0.15
        frames.append(np.clip(np.where(sector, grey, 0), 0, 255).astype(np.uint8))
    ds.PixelData = np.repeat(np.stack(frames)[..., None], 3, axis=-1).tobytes()
    return ds


def _paint_ct(fields: dict, slices: int) -> Dataset:
    """A rabbit skull slice: a bony ring around soft tissue, its size following the slice."""
    ds = make_dataset(modality="CT", rows=256, columns=256, **fields)
    shape = (ds.Rows, ds.Columns)
    z = 2 * (fields["instance_number"] - 0.5) / slices - 1
    size = 0.42 * np.sqrt(max(0.15, 1 - z * z))
    image = np.full(shape, 24.0)  # air: -1000 HU, stored as HU + 1024
    image[_ellipse(shape, 0.5, 0.5, size, size * 0.8)] = 1024 + 1200
    image[_ellipse(shape, 0.5, 0.5, size * 0.85, size * 0.8 * 0.85)] = 1024 + 40
    ds.PixelData = image.astype(np.uint16).tobytes()
    ds.WindowCenter, ds.WindowWidth = 500, 2500  # bone window
    ds.PixelSpacing = [0.2, 0.2]
    ds.SliceThickness = 1.0
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [-25.6, -25.6, float(fields["instance_number"])]
    ds.SliceLocation = float(fields["instance_number"])
    ds.FrameOfReferenceUID = _uid(fields["study_uid"], "frame-of-reference")
    return ds


_PAINTERS = {
    "thorax": _paint_thorax,
    "limb": _paint_limb,
    "ultrasound": _paint_ultrasound,
    "ct": _paint_ct,
}
