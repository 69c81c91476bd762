"""Binding a browser's session to a share, and the headers every share page sends."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.decorators import decorator_from_middleware
from django.views.decorators.csrf import csrf_exempt

from sharing.models import Share

SESSION_GRANTED = "share_granted"
SESSION_PENDING = "share_pending"

# Share pages load only the portal's own scripts, styles and images, are never framed, never
# cached, and never tell another site where the visitor came from (the link is a credential).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
# The viewer decodes images in WebAssembly and web workers, plays a shared video and frames a
# shared PDF (both from the share's media door, sharing/media.py).
VIEWER_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:"
).replace("connect-src 'self'", "connect-src 'self'; media-src 'self'; frame-src 'self'")
# A shared PDF may be framed by the share's own viewer page, by no other site.
FRAMED_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "frame-ancestors 'none'", "frame-ancestors 'self'"
)


def protected_headers(
    response: HttpResponse, *, viewer: bool = False, framed: bool = False
) -> HttpResponse:
    """The share headers; `viewer` for the viewer page, `framed` for what the viewer frames."""
    response["Referrer-Policy"] = "no-referrer"
    if viewer:
        response["Content-Security-Policy"] = VIEWER_CONTENT_SECURITY_POLICY
    elif framed:
        response["Content-Security-Policy"] = FRAMED_CONTENT_SECURITY_POLICY
    else:
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["X-Frame-Options"] = "SAMEORIGIN" if framed else "DENY"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store, private"
    response["Pragma"] = "no-cache"
    return response


def share_headers(view: Callable) -> Callable:
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return protected_headers(view(request, *args, **kwargs))

    return wrapped


def session_grant(request: HttpRequest, share: Share) -> None:
    """Bind this browser's session to the share (a new session key: no fixation)."""
    granted = list(request.session.get(SESSION_GRANTED, []))
    request.session.cycle_key()
    request.session.pop(SESSION_PENDING, None)
    if share.pk not in granted:
        granted.append(share.pk)
    request.session[SESSION_GRANTED] = granted


def session_share(request: HttpRequest, pk: int) -> Share | None:
    """The share when this session was granted it and it is still open (read fresh each time,
    so a revocation takes effect on the next request)."""
    if pk not in request.session.get(SESSION_GRANTED, []):
        return None
    share = Share.objects.select_related("study__patient__owner").filter(pk=pk).first()
    if share is None or not share.is_open():
        return None
    return share


class _ShareCsrf(CsrfViewMiddleware):
    """Django's CSRF check, except that `Origin: null` is not refused by itself.

    Under `Referrer-Policy: no-referrer` browsers send `Origin: null` with a page's own form
    posts (Fetch: serializing a request origin), so the origin says nothing; the CSRF token
    (cookie and form field) still has to match.
    """

    def _origin_verified(self, request: HttpRequest) -> bool:
        if request.META.get("HTTP_ORIGIN") == "null":
            return True
        return super()._origin_verified(request)


def share_csrf(view: Callable) -> Callable:
    """CSRF protection for the forms of share pages (see `_ShareCsrf`)."""
    return csrf_exempt(decorator_from_middleware(_ShareCsrf)(view))
