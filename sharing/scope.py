"""What a share opens: exactly its study, and its chosen series when it names some.

`share_scope` is registered with imaging's DICOMweb scope hook; it answers only for requests
that came through a share's own DICOMweb door (`sharing.dicomweb`), which sets
`request.portal_share` after checking the share's session and state. Everything else (the staff
`/dicomweb/`, `/api/`) never sees a share's credential and answers 401/403 as for anyone.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from pydicom.uid import MPEGTransferSyntaxes

from imaging.dicomweb.scope import Scope
from imaging.models import Instance, Series, Study
from reports.models import Report
from sharing.anonymize import ENCAPSULATED_PDF
from sharing.models import Share

# Exported annotations (presentation states, structured reports) go only with "include
# annotations"; the report's Encapsulated PDF goes as the report PDF, never as DICOM.
_PRESENTATION_STATE = "1.2.840.10008.5.1.4.1.1.11."
_STRUCTURED_REPORT = "1.2.840.10008.5.1.4.1.1.88."


def share_instances(share: Share) -> QuerySet[Instance]:
    rows = Instance.objects.filter(series__study_id=share.study_id).exclude(
        sop_class_uid=ENCAPSULATED_PDF
    )
    if share.series_uids:
        rows = rows.filter(series__series_instance_uid__in=share.series_uids)
    if not share.include_annotations:
        rows = rows.exclude(
            Q(sop_class_uid__startswith=_PRESENTATION_STATE)
            | Q(sop_class_uid__startswith=_STRUCTURED_REPORT)
        )
    return rows


def share_series(share: Share) -> QuerySet[Series]:
    return Series.objects.filter(pk__in=share_instances(share).values("series_id"))


def share_documents(share: Share) -> QuerySet[Instance]:
    """The PDFs added to the study (referral letters, lab results) that the share's viewer opens.

    None on an anonymized share: a PDF's text names the owner and the animal and cannot be
    cleaned. Never the report's own Encapsulated PDF, which goes as the report PDF (with
    "include report", once signed). Not in DICOMweb or the ZIP: only the viewer opens them.
    """
    if share.anonymize:
        return Instance.objects.none()
    report_series = Report.objects.filter(study_id=share.study_id).exclude(dicom_series_uid="")
    rows = Instance.objects.filter(
        series__study_id=share.study_id, sop_class_uid=ENCAPSULATED_PDF
    ).exclude(series__series_instance_uid__in=report_series.values("dicom_series_uid"))
    if share.series_uids:
        rows = rows.filter(series__series_instance_uid__in=share.series_uids)
    return rows


def share_media_instances(share: Share) -> QuerySet[Instance]:
    """The videos and PDFs the share's viewer plays or opens (`sharing.media`)."""
    videos = share_instances(share).filter(transfer_syntax_uid__in=MPEGTransferSyntaxes)
    return videos | share_documents(share)


def share_viewer_series(share: Share) -> QuerySet[Series]:
    """The series of the share's viewer: its DICOMweb series and the PDF series it opens."""
    return Series.objects.filter(
        Q(pk__in=share_instances(share).values("series_id"))
        | Q(pk__in=share_documents(share).values("series_id"))
    )


def share_scope(request: HttpRequest) -> Scope | None:
    share = getattr(request, "portal_share", None)
    if share is None:
        return None
    return Scope(
        studies=Study.objects.filter(pk=share.study_id),
        series=share_series(share),
        instances=share_instances(share),
        requester=f"share {share.pk}",
    )
