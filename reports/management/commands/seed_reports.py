"""`python manage.py seed_reports`: the demo portal's reports, written as its vet writes them.

On the studies `seed_demo` sends (which calls this command after sending them): a signed
report with a key image on Rex's thorax, and a draft on Thunder's fetlock, both by the demo
veterinarian. They go through the report service as the editor does, so versions, the
signature, the PDF and its DICOM copy in the study are the real ones. A study that already has
a report is left alone, so running it again adds and changes nothing.
"""

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand

from imaging.management.commands.seed_demo import STUDIES, demo_study_uid
from imaging.models import Instance, Study
from reports import reports

VET = "vet"  # the demo veterinarian seed_demo creates (Anna Berg)


@dataclass(frozen=True)
class DemoReport:
    study_key: str  # the DemoStudy it describes
    findings: str
    impression: str
    sign: bool
    key_view: str = ""  # View Position of the series whose first image is the key image
    key_caption: str = ""


REPORTS = [
    DemoReport(
        "thorax",
        findings=(
            "Three views (right lateral, left lateral, ventrodorsal); well positioned, "
            "inspiratory exposures.\n"
            "Cardiac silhouette: normal size and shape; vertebral heart score 10.2 v, within "
            "normal limits for a Labrador Retriever.\n"
            "Pulmonary vasculature: lobar arteries and veins of normal and equal size.\n"
            "Lungs: clear; no nodules, masses or alveolar infiltrates on either lateral view. "
            "Mild bronchial wall mineralisation, in keeping with age.\n"
            "Pleural space: no free fluid or gas.\n"
            "Mediastinum and trachea: trachea of normal position and diameter; no sternal or "
            "tracheobronchial lymphadenopathy.\n"
            "Thoracic wall, spine and cranial abdomen: mild ventral spondylosis at T12-T13; "
            "otherwise unremarkable."
        ),
        impression=(
            "1. No radiographic evidence of pulmonary metastatic disease.\n"
            "2. Cardiac silhouette within normal limits (VHS 10.2 v).\n"
            "3. Mild age-related bronchial mineralisation; no cause for the cough is evident "
            "radiographically. If it persists, consider bronchoscopy with bronchoalveolar "
            "lavage. Repeat views in 3 months if clinically indicated."
        ),
        sign=True,
        key_view="RL",
        key_caption="Right lateral: normal cardiac silhouette (VHS 10.2 v), clear lung fields",
    ),
    DemoReport(
        "fetlock",
        findings=(
            "Two views of the left fore fetlock (lateromedial, dorsopalmar); oblique views "
            "requested.\n"
            "Bones: small periarticular osteophyte on the dorsoproximal margin of the proximal "
            "phalanx; no fracture or osseous fragment.\n"
            "Joint: mildly narrowed medial joint space on the dorsopalmar view; no subchondral "
            "lysis.\n"
            "Proximal sesamoid bones: normal size, shape and opacity; vascular channels not "
            "enlarged.\n"
            "Soft tissues: mild dorsal joint capsule distension."
        ),
        impression=(
            "Mild osteoarthritis of the left fore metacarpophalangeal joint. To be completed "
            "after the oblique views."
        ),
        sign=False,
    ),
]


class Command(BaseCommand):
    help = "Write the demo reports (a signed thorax report, a draft) on the demo studies."

    def handle(self, *args, **options) -> None:
        plans = {plan.key: plan for plan in STUDIES}
        uids = {demo.study_key: demo_study_uid(demo.study_key) for demo in REPORTS}
        studies = {
            study.study_instance_uid: study
            for study in Study.objects.filter(study_instance_uid__in=uids.values()).select_related(
                "patient"
            )
        }
        missing = [plans[key].description for key, uid in uids.items() if uid not in studies]
        if missing:
            self.stdout.write(
                f"Demo reports: not written, the demo studies have not arrived "
                f"({', '.join(missing)}): run seed_demo while the DICOM listener runs."
            )
            return
        vet = User.objects.filter(username=VET).first()
        if vet is None or not vet.has_perm(reports.SIGN_PERMISSION):
            self.stdout.write(
                f"Demo reports: not written, there is no demo veterinarian {VET!r} who may "
                "sign: run seed_demo first."
            )
            return
        self.stdout.write("Reports:")
        for demo in REPORTS:
            study = studies[uids[demo.study_key]]
            label = f"  {plans[demo.study_key].description} of {study.patient.name}"
            if reports.report_of(study) is not None:
                self.stdout.write(f"{label} — report already there")
                continue
            report_write(demo, study=study, vet=vet)
            kind = "signed report" if demo.sign else "draft report"
            self.stdout.write(f"{label} — {kind} written")


def report_write(demo: DemoReport, *, study: Study, vet: User) -> None:
    """Write one demo report step by step as the editor does: start it from the study's
    template, pick the key image, type the text, sign."""
    report = reports.report_start(study=study, user=vet)
    if demo.key_view:
        image = (
            Instance.objects.filter(
                series__study=study, series__view_position=demo.key_view, rows__isnull=False
            )
            .order_by("series__series_number", "instance_number")
            .first()
        )
        if image is not None:
            reports.key_image_add(
                study=study,
                sop_instance_uid=image.sop_instance_uid,
                frame=1,
                user=vet,
                caption=demo.key_caption,
            )
    report = reports.report_save(
        report=report, findings=demo.findings, impression=demo.impression, user=vet
    )
    if demo.sign:
        reports.report_sign(report=report, user=vet)
