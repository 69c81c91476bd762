"""The access log of share links: who used a link, when, from where, for what."""

from __future__ import annotations

from django.http import HttpRequest

from sharing.models import Share, ShareAccess


def request_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: a forwarded-for header is the caller's to invent.
    return request.META.get("REMOTE_ADDR") or None


def request_agent(request: HttpRequest) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:300]


def access_record(
    *, share: Share, action: str, ip: str | None, user_agent: str = "", detail: str = ""
) -> ShareAccess:
    return ShareAccess.objects.create(
        share=share, action=action, ip=ip, user_agent=user_agent[:300], detail=detail[:200]
    )


def access_record_request(
    *, share: Share, request: HttpRequest, action: str, detail: str = ""
) -> ShareAccess:
    return access_record(
        share=share,
        action=action,
        ip=request_ip(request),
        user_agent=request_agent(request),
        detail=detail,
    )
