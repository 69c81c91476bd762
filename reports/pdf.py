"""The report as a PDF a clinic sends out: letterhead, patient, findings, impression,
measurements, key images, signature, addenda, page numbers, and DRAFT across unsigned ones."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as pdfcanvas
from reportlab.platypus import (
    CondPageBreak,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from reports.facts import ReportFacts, report_facts
from reports.key_images import key_image_bytes
from reports.measurement_table import measurement_rows
from reports.models import Report
from reports.reports import image_label

_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
ACCENT = colors.HexColor("#1f5f8b")
MUTED = colors.HexColor("#5b6770")
RULE = colors.HexColor("#c9d3db")
KEY_IMAGE_PIXELS = 1400  # longest side embedded; sharp in print at the width shown


@cache
def _fonts() -> tuple[str, str]:
    """DejaVu Sans (every accent and symbol in names and units) when installed, else Helvetica."""
    try:
        pdfmetrics.registerFont(TTFont("PortalSans", str(_FONT_DIR / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont("PortalSans-Bold", str(_FONT_DIR / "DejaVuSans-Bold.ttf")))
    except Exception:
        return "Helvetica", "Helvetica-Bold"
    return "PortalSans", "PortalSans-Bold"


def _styles() -> dict[str, ParagraphStyle]:
    regular, bold = _fonts()
    base = ParagraphStyle("base", fontName=regular, fontSize=9.5, leading=13)
    return {
        "base": base,
        "clinic": ParagraphStyle("clinic", base, fontName=bold, fontSize=16, leading=20, textColor=ACCENT),
        "letterhead": ParagraphStyle("letterhead", base, fontSize=8.5, leading=11, textColor=MUTED, alignment=TA_RIGHT),
        "title": ParagraphStyle("title", base, fontName=bold, fontSize=13, leading=17, spaceBefore=4),
        "h2": ParagraphStyle("h2", base, fontName=bold, fontSize=10.5, leading=14, textColor=ACCENT, spaceBefore=10, spaceAfter=3),
        "label": ParagraphStyle("label", base, fontSize=8.5, leading=11, textColor=MUTED),
        "cell": ParagraphStyle("cell", base, fontSize=8.5, leading=11),
        "caption": ParagraphStyle("caption", base, fontSize=8, leading=10, textColor=MUTED),
        "signature": ParagraphStyle("signature", base, fontName=bold, fontSize=10, leading=14),
        "draft": ParagraphStyle("draft", base, fontName=bold, textColor=colors.HexColor("#b3261e")),
    }  # fmt: skip


def _text(value: str, style: ParagraphStyle) -> list[Paragraph]:
    """Paragraphs of typed text: line breaks kept, markup escaped."""
    blocks = [block for block in value.strip().split("\n\n") if block.strip()]
    return [Paragraph(escape(block).replace("\n", "<br/>"), style) for block in blocks] or [
        Paragraph("—", style)
    ]


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%d %b %Y %H:%M %Z")


def report_pdf(report: Report) -> bytes:
    """The report (with its addenda so far) as PDF bytes."""
    study = report.study
    facts = report_facts(study)
    styles = _styles()
    buffer = io.BytesIO()
    draft = not report.locked
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=f"Imaging report — {facts.patient_name}",
        author=report.signed_by_name or settings.PORTAL_CLINIC_NAME,
        subject=facts.procedure,
        creator=settings.PORTAL_CLINIC_NAME,
    )
    story: list = []
    story += _letterhead(styles)
    title = "Diagnostic imaging report" + (" — DRAFT (not signed)" if draft else "")
    story.append(Paragraph(escape(title), styles["title"]))
    story.append(Spacer(1, 3 * mm))
    story.append(_facts_table(facts, styles, document.width))
    story.append(Paragraph("Findings", styles["h2"]))
    story += _text(report.findings, styles["base"])
    story.append(Paragraph("Impression", styles["h2"]))
    story += _text(report.impression, styles["base"])
    story += _measurements(report, styles, document.width)
    story += _signature(report, styles)
    story += _addenda(report, styles)
    story += _key_images(report, styles, document.width)
    footer = f"{facts.patient_name} · ID {facts.patient_id} · {facts.study_date}"

    def canvas_maker(*args, **kwargs):
        return _NumberedCanvas(*args, footer=footer, draft=draft, **kwargs)

    document.build(story, canvasmaker=canvas_maker)
    return buffer.getvalue()


def _letterhead(styles) -> list:
    lines = [
        settings.PORTAL_CLINIC_ADDRESS,
        settings.PORTAL_CLINIC_PHONE,
        settings.PORTAL_CLINIC_EMAIL,
    ]
    contact = "<br/>".join(
        escape(part.strip()) for line in lines if line for part in line.split("\n") if part.strip()
    )  # fmt: skip
    table = Table(
        [[Paragraph(escape(settings.PORTAL_CLINIC_NAME), styles["clinic"]),
          Paragraph(contact, styles["letterhead"])]],
        colWidths=["55%", "45%"],
    )  # fmt: skip
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("LINEBELOW", (0, 0), (-1, 0), 1.2, ACCENT),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
            ]
        )
    )
    return [table, Spacer(1, 3 * mm)]


def _facts_table(facts: ReportFacts, styles, width: float) -> Table:
    left, right = facts.patient_rows(), facts.study_rows()
    rows = []
    for index in range(max(len(left), len(right))):
        row = []
        for side in (left, right):
            label, value = side[index] if index < len(side) else ("", "")
            row += [
                Paragraph(escape(label), styles["label"]),
                Paragraph(escape(value), styles["cell"]),
            ]
        rows.append(row)
    table = Table(rows, colWidths=[width * 0.14, width * 0.36, width * 0.15, width * 0.35])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#f3f6f8")),
                ("BOX", (0, 0), (-1, -1), 0.5, RULE),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def _measurements(report: Report, styles, width: float) -> list:
    rows = measurement_rows(report.study)
    if not rows:
        return []
    header = ["Image", "Measurement", "Value", "Calibration"]
    data = [[Paragraph(h, styles["label"]) for h in header]]
    for row in rows:
        data.append(
            [Paragraph(escape(v), styles["cell"])
             for v in (row.image, row.name, row.value_with_unit, row.calibration)]
        )  # fmt: skip
    table = Table(
        data, colWidths=[width * 0.26, width * 0.38, width * 0.17, width * 0.19], repeatRows=1
    )
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, ACCENT),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return [CondPageBreak(30 * mm), Paragraph("Measurements", styles["h2"]), table]


def _key_images(report: Report, styles, width: float) -> list:
    key_images = list(report.key_images.select_related("instance__series"))
    if not key_images:
        return []
    cell_width = (width - 6 * mm) / 2
    cells = []
    for key_image in key_images:
        data = key_image_bytes(key_image, max_size=KEY_IMAGE_PIXELS, format="JPEG")
        picture = Image(io.BytesIO(data))
        ratio = picture.imageHeight / picture.imageWidth
        picture.drawWidth = cell_width
        picture.drawHeight = min(cell_width * ratio, 110 * mm)
        if picture.drawHeight < cell_width * ratio:
            picture.drawWidth = picture.drawHeight / ratio
        caption = image_label(key_image.instance, key_image.frame)
        if key_image.caption:
            caption = f"{key_image.caption} — {caption}"
        cells.append([picture, Paragraph(escape(caption), styles["caption"])])
    rows = [cells[i : i + 2] for i in range(0, len(cells), 2)]
    rows[-1] += [""] * (2 - len(rows[-1]))
    style = TableStyle(
        [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
        ]
    )
    # One table per row, the heading kept with the first, so no heading ends a page alone.
    tables = [Table([row], colWidths=[cell_width + 3 * mm] * 2, style=style) for row in rows]
    return [KeepTogether([Paragraph("Key images", styles["h2"]), tables[0]]), *tables[1:]]


def _signature(report: Report, styles) -> list:
    if report.locked and report.signed_at:
        text = f"Electronically signed by {report.signed_by_name} on {_when(report.signed_at)}"
        block = [Paragraph(escape(text), styles["signature"])]
    else:
        block = [Paragraph("DRAFT — not signed. Not valid as a final report.", styles["draft"])]
    return [Spacer(1, 6 * mm), KeepTogether(block)]


def _addenda(report: Report, styles) -> list:
    story: list = []
    for addendum in report.addenda.all():
        heading = (
            f"Addendum {addendum.number} — {addendum.author_name}, {_when(addendum.created_at)}"
        )
        story.append(
            KeepTogether([Paragraph(escape(heading), styles["h2"]), *_text(addendum.text, styles["base"])])
        )  # fmt: skip
    return story


class _NumberedCanvas(pdfcanvas.Canvas):
    """Keeps each page until the end, so every footer can say "Page n of N"."""

    def __init__(self, *args, footer: str = "", draft: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []
        self._footer = footer
        self._draft = draft

    def showPage(self) -> None:  # noqa: N802 (reportlab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self._decorate(total)
            super().showPage()
        super().save()

    def _decorate(self, total: int) -> None:
        regular, bold = _fonts()
        width, height = self._pagesize
        if self._draft:
            self.saveState()
            self.setFillColor(colors.Color(0.75, 0.1, 0.1, alpha=0.12))
            self.setFont(bold, 110)
            self.translate(width / 2, height / 2)
            self.rotate(50)
            self.drawCentredString(0, -35, "DRAFT")
            self.restoreState()
        self.saveState()
        self.setFont(regular, 7.5)
        self.setFillColor(MUTED)
        self.setStrokeColor(RULE)
        self.line(18 * mm, 13 * mm, width - 18 * mm, 13 * mm)
        self.drawString(18 * mm, 9 * mm, self._footer)
        self.drawRightString(width - 18 * mm, 9 * mm, f"Page {self._pageNumber} of {total}")
        self.restoreState()
