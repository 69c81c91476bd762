"""Writing a report: drafts kept version by version, the signature that locks it, addenda.

Who may do what is checked here as well as in views, because signing is the one act in the
portal that carries a veterinarian's professional responsibility.
"""

import logging

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from imaging.models import Instance, Study
from reports.catalog import template_for_study
from reports.models import (
    Addendum,
    KeyImage,
    Report,
    ReportEvent,
    ReportEventKind,
    ReportStatus,
    ReportTemplate,
    ReportVersion,
)

logger = logging.getLogger(__name__)

SIGN_PERMISSION = "reports.sign_report"
ADDENDUM_PERMISSION = "reports.add_addendum"


class ReportError(Exception):
    """A request the report's state refuses; str(e) says why in plain words."""


class ReportLocked(ReportError):
    """The report is signed: its text no longer changes, only addenda are added."""

    def __init__(self, message: str = "") -> None:
        super().__init__(
            message or "This report is signed and locked. Add an addendum to change it."
        )


def report_of(study: Study) -> Report | None:
    return Report.objects.filter(study=study).first()


def person_label(user) -> str:
    """A person's name as printed on a report: full name, else user name."""
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


def signature_name(user) -> str:
    """How a signature names its veterinarian: "Dr Anna Vet"."""
    name = person_label(user)
    return name if name.lower().startswith("dr") else f"Dr {name}"


def _event(report: Report, kind: str, message: str = "", user=None) -> ReportEvent:
    return ReportEvent.objects.create(report=report, kind=kind, message=message, user=user)


def _next_number(queryset) -> int:
    return (queryset.aggregate(n=Max("number"))["n"] or 0) + 1


def _version(report: Report, *, user, signed: bool = False) -> ReportVersion:
    return ReportVersion.objects.create(
        report=report,
        number=_next_number(report.versions),
        findings=report.findings,
        impression=report.impression,
        template_name=report.template.name if report.template else "",
        saved_by=user,
        signed=signed,
    )


def report_start(*, study: Study, user, template: ReportTemplate | None = None) -> Report:
    """The study's report, created as a draft from its best-fitting template when there is none."""
    existing = report_of(study)
    if existing:
        return existing
    template = template or template_for_study(study)
    with transaction.atomic():
        report, created = Report.objects.get_or_create(
            study=study,
            defaults={
                "template": template,
                "findings": template.findings if template else "",
                "impression": template.impression if template else "",
                "created_by": user,
            },
        )
        if created:
            _version(report, user=user)
            what = f" from the {template.name} template" if template else ""
            _event(report, ReportEventKind.CREATED, f"Draft started{what}.", user)
    return report


def _locked_for_update(report: Report) -> Report:
    """The report re-read under a row lock; refuses when it is signed."""
    fresh = Report.objects.select_for_update().get(pk=report.pk)
    if fresh.locked:
        raise ReportLocked()
    return fresh


def report_save(*, report: Report, findings: str, impression: str, user) -> Report:
    """Save the draft's text; a change is kept as a new version, an unchanged save is a no-op."""
    findings, impression = findings.strip(), impression.strip()
    with transaction.atomic():
        report = _locked_for_update(report)
        if (report.findings, report.impression) == (findings, impression):
            return report
        report.findings, report.impression = findings, impression
        report.updated_at = timezone.now()
        report.save(update_fields=["findings", "impression", "updated_at"])
        version = _version(report, user=user)
        _event(report, ReportEventKind.SAVED, f"Version {version.number} saved.", user)
    return report


def report_apply_template(*, report: Report, template: ReportTemplate, user) -> Report:
    """Replace the draft's text with a template's; the text it had stays in the history."""
    with transaction.atomic():
        report = _locked_for_update(report)
        report.template = template
        report.findings, report.impression = template.findings, template.impression
        report.updated_at = timezone.now()
        report.save(update_fields=["template", "findings", "impression", "updated_at"])
        version = _version(report, user=user)
        _event(
            report,
            ReportEventKind.SAVED,
            f"Version {version.number}: text of the {template.name} template.",
            user,
        )
    return report


def report_sign(
    *, report: Report, user, findings: str | None = None, impression: str | None = None
) -> Report:
    """Sign the report as its veterinarian: the text is locked, kept as the signed version, and
    stored into the study as an Encapsulated PDF (see reports/dicom_pdf.py)."""
    if not user.has_perm(SIGN_PERMISSION):
        raise PermissionDenied("Only a veterinarian can sign reports.")
    with transaction.atomic():
        report = _locked_for_update(report)
        if findings is not None:
            report.findings = findings.strip()
        if impression is not None:
            report.impression = impression.strip()
        if not report.impression:
            raise ReportError("Write an impression before signing.")
        now = timezone.now()
        report.status = ReportStatus.FINAL
        report.signed_by, report.signed_at = user, now
        report.signed_by_name = signature_name(user)
        report.updated_at = now
        report.save()
        version = _version(report, user=user, signed=True)
        _event(
            report,
            ReportEventKind.SIGNED,
            f"Signed by {report.signed_by_name} (version {version.number}).",
            user,
        )
    from reports.dicom_pdf import report_store_in_study

    report_store_in_study(report=report, user=user)
    return report


def addendum_add(*, report: Report, text: str, user) -> Addendum:
    """Add text to a signed report; it is stored into the study as a new PDF instance."""
    if not user.has_perm(ADDENDUM_PERMISSION):
        raise PermissionDenied("Only a veterinarian can add addenda.")
    text = text.strip()
    if not text:
        raise ReportError("Write the addendum's text.")
    with transaction.atomic():
        report = Report.objects.select_for_update().get(pk=report.pk)
        if not report.locked:
            raise ReportError("The report is still a draft: change its text instead.")
        addendum = Addendum.objects.create(
            report=report,
            number=_next_number(report.addenda),
            text=text,
            author=user,
            author_name=signature_name(user),
        )
        report.updated_at = addendum.created_at
        report.save(update_fields=["updated_at"])
        _event(
            report,
            ReportEventKind.ADDENDUM,
            f"Addendum {addendum.number} by {addendum.author_name}.",
            user,
        )
    from reports.dicom_pdf import report_store_in_study

    report_store_in_study(report=report, user=user, addendum=addendum)
    return addendum


def key_image_add(
    *, study: Study, sop_instance_uid: str, frame: int, user, caption: str = ""
) -> KeyImage:
    """Add a frame of one of the study's images to its draft report (started if need be)."""
    instance = (
        Instance.objects.filter(series__study=study, sop_instance_uid=sop_instance_uid)
        .only("pk", "number_of_frames", "rows")
        .first()
    )
    if instance is None:
        raise ReportError("That image is not part of this study.")
    if instance.rows is None:
        raise ReportError("That instance holds no image.")
    if not 1 <= frame <= instance.number_of_frames:
        raise ReportError(
            f"Frame {frame} does not exist: the image has {instance.number_of_frames}."
        )
    report = report_start(study=study, user=user)
    with transaction.atomic():
        report = _locked_for_update(report)
        key_image, created = KeyImage.objects.get_or_create(
            report=report,
            instance=instance,
            frame=frame,
            defaults={"added_by": user, "caption": caption.strip()[:200]},
        )
        if created:
            _event(
                report,
                ReportEventKind.KEY_IMAGE_ADDED,
                f"Key image added: {_image_label(key_image)}.",
                user,
            )
    return key_image


def key_image_remove(*, key_image: KeyImage, user) -> None:
    with transaction.atomic():
        report = _locked_for_update(key_image.report)
        label = _image_label(key_image)
        key_image.delete()
        _event(report, ReportEventKind.KEY_IMAGE_REMOVED, f"Key image removed: {label}.", user)


def _image_label(key_image: KeyImage) -> str:
    instance = Instance.objects.select_related("series").get(pk=key_image.instance_id)
    return image_label(instance, key_image.frame)


def image_label(instance: Instance, frame: int = 1) -> str:
    """ "Series 2 Thorax L LAT, image 1, frame 3" — how people point at an image."""
    series = instance.series
    parts = [f"Series {series.series_number}" if series.series_number is not None else "Series"]
    if series.description:
        parts[0] += f" {series.description}"
    if instance.instance_number is not None:
        parts.append(f"image {instance.instance_number}")
    if instance.number_of_frames > 1:
        parts.append(f"frame {frame}")
    return ", ".join(parts)
