"""What a share opens: exactly its study, and its chosen series when it names some.

`share_scope` is registered with imaging's DICOMweb scope hook; it answers only for requests
that came through a share's own DICOMweb door (`sharing.dicomweb`), which sets
`request.portal_share` after checking the share's session and state. Everything else (the staff
`/dicomweb/`, `/api/`) never sees a share's credential and answers 401/403 as for anyone.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import HttpRequest

from imaging.dicomweb.scope import Scope
from imaging.models import Instance, Series, Study
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
