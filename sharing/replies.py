"""Consult replies: a specialist's findings and impression (and files) attached to the study."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from imaging.models import StudyEvent
from sharing.access import access_record
from sharing.mailing import consult_reply_email
from sharing.models import AccessAction, ConsultAttachment, ConsultReply, Share

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
MAX_ATTACHMENTS = 5


class ReplyError(ValueError):
    pass


def consult_reply_create(
    *,
    share: Share,
    findings: str,
    impression: str = "",
    author: str = "",
    attachments: list[UploadedFile] | None = None,
    ip: str | None = None,
    user_agent: str = "",
) -> ConsultReply:
    """Attach the reply to the study, tell the sharing vet by email and the study's history."""
    findings = findings.strip()
    if not findings:
        raise ReplyError("Write your findings.")
    attachments = attachments or []
    if len(attachments) > MAX_ATTACHMENTS:
        raise ReplyError(f"At most {MAX_ATTACHMENTS} attachments.")
    for upload in attachments:
        if upload.size > MAX_ATTACHMENT_BYTES:
            raise ReplyError(f"{upload.name} is larger than 20 MB.")
    with transaction.atomic():
        reply = ConsultReply.objects.create(
            share=share,
            study=share.study,
            author=(author or share.email).strip()[:200],
            findings=findings,
            impression=impression.strip(),
        )
        for upload in attachments:
            ConsultAttachment.objects.create(
                reply=reply, file=upload, name=upload.name[:200], size=upload.size
            )
        StudyEvent.objects.create(
            study=share.study,
            kind="consult",
            message=f"Consult reply from {reply.author}.",
        )
        access_record(share=share, action=AccessAction.REPLIED, ip=ip, user_agent=user_agent)
    transaction.on_commit(lambda: consult_reply_email(reply=reply))
    return reply
