"""Pushing a shared study to the consultant's own DICOM node, through imaging's send jobs (the
same retries and receipt confirmation as any send)."""

from __future__ import annotations

from imaging.models import SendJob
from imaging.send import send_job_create
from sharing.models import Share
from sharing.shares import ShareError


def share_push(*, share: Share, user=None) -> SendJob:
    consultant = share.consultant
    if consultant is None or consultant.destination is None:
        raise ShareError("This share's consultant has no DICOM destination.")
    if share.anonymize:
        # imaging.send stores files as they are on storage; it offers no per-instance
        # transformation yet, so an anonymized share cannot be pushed without leaking.
        raise ShareError("Anonymized shares cannot be pushed over DICOM yet; use the link.")
    if not share.is_open():
        raise ShareError("This share is no longer open.")
    return send_job_create(
        study=share.study,
        destination=consultant.destination,
        series_uids=share.series_uids or None,
        everything=True,
        user=user,
    )
