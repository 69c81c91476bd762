"""Pushing a shared study to the consultant's own DICOM node, through imaging's send jobs (the
same retries and receipt confirmation as any send), anonymized on the way when the share is."""

from __future__ import annotations

from imaging.models import SendJob
from imaging.send import SendError, send_job_create
from imaging.send_transforms import UnknownTransform, send_transform_register
from sharing.anonymize import Anonymizer
from sharing.models import Share
from sharing.scope import share_instances
from sharing.shares import ShareError

# The send transform an anonymized share's push names, with the share's id as its argument.
ANONYMIZE_TRANSFORM = "share-anonymize"


def share_push(*, share: Share, user=None) -> SendJob:
    """Send what the share opens (its series, annotations only if shared, never the report's
    PDF) to the consultant's DICOM destination; anonymized exactly as the link and ZIP are."""
    consultant = share.consultant
    if consultant is None or consultant.destination is None:
        raise ShareError("This share's consultant has no DICOM destination.")
    if not share.is_open():
        raise ShareError("This share is no longer open.")
    try:
        return send_job_create(
            study=share.study,
            destination=consultant.destination,
            instances=share_instances(share),
            everything=True,
            transform=f"{ANONYMIZE_TRANSFORM}:{share.pk}" if share.anonymize else "",
            user=user,
        )
    except SendError as exc:
        raise ShareError(str(exc)) from exc


def share_anonymizer_for_send(share_id: str) -> Anonymizer:
    """The send transform of an anonymized share's push: its Anonymizer (same salt, so the
    same UIDs and date shift as its link and ZIP)."""
    share = Share.objects.filter(pk=int(share_id)).only("salt").first()
    if share is None:
        raise UnknownTransform("The share this send anonymizes for no longer exists.")
    return Anonymizer(share.salt)


def register() -> None:
    send_transform_register(ANONYMIZE_TRANSFORM, share_anonymizer_for_send)
