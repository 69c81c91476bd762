"""The starting report templates, and which one fits a study.

Seeded once (migration 0002); administrators edit them in the admin afterwards, so seeding
again only adds templates whose name is missing and never overwrites an edited one.
"""

from dataclasses import dataclass

from imaging.models import Study
from reports.models import ReportTemplate
from worklist.models import Order


@dataclass(frozen=True)
class TemplateEntry:
    name: str
    procedure_codes: str
    modalities: str
    body_parts: str
    findings: str
    impression: str


CATALOG: tuple[TemplateEntry, ...] = (
    TemplateEntry(
        "Thorax",
        "THX3, THX2, CTTHX",
        "DX, CR, CT",
        "CHEST, THORAX",
        "Cardiac silhouette: normal size and shape (VHS ___ v).\n"
        "Pulmonary vasculature: arteries and veins of normal, equal size.\n"
        "Lungs: no pulmonary infiltrates, nodules or masses.\n"
        "Pleural space: no free fluid or gas.\n"
        "Mediastinum and trachea: normal position and diameter.\n"
        "Thoracic wall and spine: no abnormalities.",
        "No radiographic abnormalities of the thorax.",
    ),
    TemplateEntry(
        "Abdomen",
        "ABD2",
        "DX, CR, CT",
        "ABDOMEN",
        "Serosal detail: good.\n"
        "Liver: normal size and margins.\n"
        "Spleen: normal.\n"
        "Kidneys: normal size, shape and opacity.\n"
        "Gastrointestinal tract: normal gas and content distribution, no dilation.\n"
        "Urinary bladder: normal; no uroliths.\n"
        "Lymph nodes: not enlarged.",
        "No radiographic abnormalities of the abdomen.",
    ),
    TemplateEntry(
        "Orthopedic",
        "PELVD, STIF2, ELB2, SPINE, FETL2",
        "DX, CR",
        "PELVIS, HIP, KNEE, STIFLE, ELBOW, SHOULDER, TLSPINE, CSPINE, LSPINE, SPINE, "
        "EXTREMITY, LEG, ARM, FOOT, HAND, CARPUS, TARSUS",
        "Bones: normal opacity and architecture; no fractures or lytic lesions.\n"
        "Joints: congruent; no effusion, osteophytes or subchondral sclerosis.\n"
        "Soft tissues: no swelling or mineralisation.\n"
        "Measurements: see the table below (Norberg angle, tibial plateau angle).",
        "No radiographic evidence of orthopedic disease.",
    ),
    TemplateEntry(
        "Dental",
        "DENT",
        "IO",
        "JAW, MOUTH, TOOTH, MAXILLA, MANDIBLE",
        "Teeth present: ___ (modified Triadan).\n"
        "Periodontal bone: normal alveolar margins; no horizontal or vertical bone loss.\n"
        "Endodontic: no periapical lucencies; pulp cavities symmetric.\n"
        "Resorptive lesions: none.\n"
        "Retained roots / unerupted teeth: none.",
        "No radiographic dental pathology.",
    ),
    TemplateEntry(
        "Ultrasound",
        "ABDUS, ECHO",
        "US",
        "",
        "Liver: normal size and echogenicity, smooth margins.\n"
        "Gallbladder: anechoic content, thin wall.\n"
        "Spleen: normal.\n"
        "Kidneys: normal size, corticomedullary distinction preserved.\n"
        "Urinary bladder: anechoic content, normal wall.\n"
        "Gastrointestinal tract: normal wall layering and thickness, normal motility.\n"
        "Lymph nodes and peritoneum: no enlargement, no free fluid.",
        "No ultrasonographic abnormalities.",
    ),
    TemplateEntry("Other", "", "", "", "", ""),
)


def template_seed(model=None) -> int:
    """Add the catalog's missing templates; returns how many were added.

    The model can be passed in so the data migration uses its historical model.
    """
    model = model or ReportTemplate
    added = 0
    for position, entry in enumerate(CATALOG, 1):
        _, created = model.objects.get_or_create(
            name=entry.name,
            defaults={
                "procedure_codes": entry.procedure_codes,
                "modalities": entry.modalities,
                "body_parts": entry.body_parts,
                "findings": entry.findings,
                "impression": entry.impression,
                "order": position * 10,
            },
        )
        added += created
    return added


def template_for_study(study: Study) -> ReportTemplate | None:
    """The template that fits the study best: by its order's procedure, then modality and body
    part, then modality alone; None when nothing fits."""
    templates = list(ReportTemplate.objects.filter(active=True))
    order = study_order(study)
    if order is not None:
        code = order.procedure.code.upper()
        for template in templates:
            if code in template.procedure_code_set:
                return template
    modalities = {m.upper() for m in study.modalities.split("\\") if m}
    body_parts = {b.upper() for b in study.series.values_list("body_part", flat=True) if b}
    if order is not None:
        modalities.add(order.procedure.modality.upper())
        if order.procedure.body_part:
            body_parts.add(order.procedure.body_part.upper())
    for template in templates:
        if modalities & template.modality_set and body_parts & template.body_part_set:
            return template
    for template in templates:
        if modalities & template.modality_set and not template.body_part_set:
            return template
    return None


def study_order(study: Study) -> Order | None:
    """The booked exam the study was matched to, if any."""
    try:
        return study.order
    except Order.DoesNotExist:
        return None
