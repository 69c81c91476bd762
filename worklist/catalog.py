"""The clinic's starting procedure catalog: what a small-animal and equine practice books.

Seeded once (migration 0002, `seed_worklist`); administrators edit it afterwards, so seeding
again only adds procedures whose code is missing and never overwrites an edited one.
Each expected view lists how consoles label it: View Position (0018,5101) values and words
found in Series Description (0008,103E) or Protocol Name (0018,1030), compared case-insensitively.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class View:
    name: str
    view_positions: str = ""
    description_patterns: str = ""


@dataclass(frozen=True)
class CatalogEntry:
    code: str
    name: str
    modality: str
    body_part: str  # Body Part Examined (0018,0015) defined terms, PS3.16 Annex L
    views: tuple[View, ...]


RIGHT_LATERAL = View("Right lateral", "RL, R LAT, RLAT", "r lat, rt lat, right lat, rlat")
LEFT_LATERAL = View("Left lateral", "LL, L LAT, LLAT", "l lat, lt lat, left lat, llat")
VENTRODORSAL = View("Ventrodorsal", "VD", "vd, ventrodorsal, ventro-dorsal")
MEDIOLATERAL = View("Mediolateral", "ML, LM, LAT", "ml, m-l, mediolat, lateral, lat")
CRANIOCAUDAL = View("Craniocaudal", "CRCD, CR CD, AP, PA", "crcd, cr-cd, craniocaudal, cr cd")

CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry(
        "THX3", "Thorax 3-view", "DX", "CHEST", (RIGHT_LATERAL, LEFT_LATERAL, VENTRODORSAL)
    ),
    CatalogEntry("THX2", "Thorax 2-view", "DX", "CHEST", (RIGHT_LATERAL, VENTRODORSAL)),
    CatalogEntry("ABD2", "Abdomen 2-view", "DX", "ABDOMEN", (RIGHT_LATERAL, VENTRODORSAL)),
    CatalogEntry(
        "PELVD",
        "Pelvis VD extended (hip screening)",
        "DX",
        "PELVIS",
        (View("VD extended", "VD", "vd ext, extended, hip, hips, pelvis vd"),),
    ),
    CatalogEntry("STIF2", "Stifle 2-view", "DX", "KNEE", (MEDIOLATERAL, CRANIOCAUDAL)),
    CatalogEntry(
        "ELB2",
        "Elbow 2-view",
        "DX",
        "ELBOW",
        (View("Flexed mediolateral", "ML, LM, LAT", "flexed, ml, lat"), CRANIOCAUDAL),
    ),
    CatalogEntry(
        "SPINE",
        "Spine (thoracolumbar) 2-view",
        "DX",
        "TLSPINE",
        (
            View("Lateral", "RL, LL, LAT", "lat, lateral"),
            View("Ventrodorsal", "VD", "vd, ventrodorsal"),
        ),
    ),
    CatalogEntry(
        "SKULL",
        "Skull 3-view",
        "DX",
        "SKULL",
        (
            View("Lateral", "RL, LL, LAT", "lat, lateral"),
            View("Dorsoventral", "DV", "dv, dorsoventral"),
            View("Rostrocaudal open mouth", "RCD, RCDO", "open mouth, rostrocaudal, r-cd"),
        ),
    ),
    CatalogEntry(
        "FETL2",
        "Fetlock 2-view (equine)",
        "DX",
        "EXTREMITY",
        (
            View("Lateromedial", "LM, ML", "lm, lateromedial, lat"),
            View("Dorsopalmar", "DP, DPA", "dp, dorsopalmar, dorso-palmar"),
        ),
    ),
    CatalogEntry(
        "DENT",
        "Full-mouth dental",
        "IO",
        "JAW",
        (
            View("Rostral maxilla", "", "rostral max, maxillary incisor, max incisor"),
            View("Rostral mandible", "", "rostral mand, mandibular incisor, mand incisor"),
            View("Right maxilla", "", "right max, r max, 1xx"),
            View("Left maxilla", "", "left max, l max, 2xx"),
            View("Left mandible", "", "left mand, l mand, 3xx"),
            View("Right mandible", "", "right mand, r mand, 4xx"),
        ),
    ),
    CatalogEntry(
        "ABDUS",
        "Abdominal ultrasound",
        "US",
        "ABDOMEN",
        (View("Abdomen", "", "abd, abdomen, liver, kidney, spleen, bladder"),),
    ),
    CatalogEntry(
        "ECHO",
        "Echocardiogram",
        "US",
        "HEART",
        (
            View("Right parasternal long axis", "", "rpla, long axis, lax"),
            View("Right parasternal short axis", "", "rpsa, short axis, sax"),
            View("Left apical four-chamber", "", "apical, 4ch, four chamber, 4 chamber"),
        ),
    ),
    CatalogEntry(
        "CTHEAD",
        "CT head",
        "CT",
        "HEAD",
        (
            View("Pre-contrast", "", "pre, native, plain, non-contrast"),
            View("Post-contrast", "", "post, contrast, +c"),
        ),
    ),
    CatalogEntry(
        "CTTHX",
        "CT thorax",
        "CT",
        "CHEST",
        (
            View("Pre-contrast", "", "pre, native, plain, non-contrast"),
            View("Post-contrast", "", "post, contrast, +c"),
        ),
    ),
)


def catalog_seed(procedure_model=None, view_model=None) -> int:
    """Add the catalog's missing procedures with their views; returns how many were added.

    The models can be passed in so the data migration uses its historical models.
    """
    if procedure_model is None or view_model is None:
        from worklist.models import ExpectedView, Procedure

        procedure_model, view_model = Procedure, ExpectedView
    added = 0
    for entry in CATALOG:
        procedure, created = procedure_model.objects.get_or_create(
            code=entry.code,
            defaults={"name": entry.name, "modality": entry.modality, "body_part": entry.body_part},
        )
        if not created:
            continue  # an administrator may have edited it: leave it as it is
        added += 1
        view_model.objects.bulk_create(
            view_model(
                procedure=procedure,
                name=view.name,
                order=position,
                view_positions=view.view_positions,
                description_patterns=view.description_patterns,
            )
            for position, view in enumerate(entry.views, 1)
        )
    return added
