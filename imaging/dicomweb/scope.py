"""Who is asking, and which studies, series and instances they may read through DICOMweb.

Every DICOMweb view asks `scope_for(request)` and reads only through the querysets it returns.
Staff are known by their session or their REST token and need `imaging.view_study`. A higher
app (share links) can let other credentials in by registering a provider with
`scope_provider_register`: the provider looks at the request and returns a narrower Scope, or
None when the request carries none of its credentials.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from imaging.models import Instance, Series, Study
from imaging.selectors import instances_visible_to, series_visible_to


class NotAuthenticated(Exception):
    """No usable credentials: answered 401 with a WWW-Authenticate challenge."""


class Forbidden(Exception):
    """Known, but not allowed to read studies: answered 403."""


@dataclass(frozen=True)
class Scope:
    """What one requester may read; every DICOMweb query starts from these querysets."""

    studies: QuerySet[Study]
    series: QuerySet[Series]
    instances: QuerySet[Instance]
    # Who it is, for logs: a user name or a share link's description.
    requester: str = ""


ScopeProvider = Callable[[HttpRequest], "Scope | None"]
_providers: list[ScopeProvider] = []


def scope_provider_register(provider: ScopeProvider) -> None:
    """Let a higher app admit its own credentials (tried before staff credentials)."""
    if provider not in _providers:
        _providers.append(provider)


def scope_provider_unregister(provider: ScopeProvider) -> None:
    if provider in _providers:
        _providers.remove(provider)


def scope_for(request: HttpRequest) -> Scope:
    """The requester's scope; raises NotAuthenticated (401) or Forbidden (403)."""
    for provider in _providers:
        scope = provider(request)
        if scope is not None:
            return scope
    user, allowed = _staff(request)
    if user is None or not user.is_authenticated:
        raise NotAuthenticated("Sign in or send 'Authorization: Token <key>'.")
    if not allowed:
        raise Forbidden("You are not allowed to view studies.")
    return Scope(
        studies=Study.objects.visible_to(user),
        series=series_visible_to(user),
        instances=instances_visible_to(user),
        requester=user.get_username(),
    )


# A viewer asks for hundreds of frames a second: who holds a token or session, and whether
# they may read, is remembered this long per process instead of costing four queries each
# time. A revoked token, a signed-out session or a removed role takes effect within it.
CREDENTIALS_SECONDS = 10.0
_MAX_REMEMBERED = 1000
_remembered: dict[str, tuple[float, object, bool]] = {}
_lock = threading.Lock()


def _staff(request: HttpRequest):
    """(user, may read studies) for the request's token or session."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    session = request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")
    key = f"token {header}" if header else f"session {session}" if session else ""
    now = time.monotonic()
    if key:
        with _lock:
            remembered = _remembered.get(key)
        if remembered and remembered[0] > now:
            return remembered[1], remembered[2]
    user = _user(request)
    if user is None or not user.is_authenticated:
        return user, False
    allowed = user.has_perm("imaging.view_study")
    if key:
        with _lock:
            if len(_remembered) >= _MAX_REMEMBERED:
                for old in [k for k, v in _remembered.items() if v[0] <= now] or list(_remembered):
                    del _remembered[old]
            _remembered[key] = (now + CREDENTIALS_SECONDS, user, allowed)
    return user, allowed


def credentials_forget() -> None:
    """Forget remembered credentials (tests that change roles mid-way)."""
    with _lock:
        _remembered.clear()


def _user(request: HttpRequest):
    """The REST token's user when the request carries one, else the session's."""
    try:
        found = TokenAuthentication().authenticate(request)
    except AuthenticationFailed as exc:
        raise NotAuthenticated(str(exc.detail)) from exc
    if found is not None:
        return found[0]
    return getattr(request, "user", None)
