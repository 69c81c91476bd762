"""Errors a DICOMweb request can end in, and the one decorator that turns them into answers."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from imaging.dicomweb.scope import Forbidden, NotAuthenticated

logger = logging.getLogger(__name__)


class DicomWebError(Exception):
    """An answer other than success, with its HTTP status and a message in plain words."""

    status = 400

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class BadRequest(DicomWebError):
    status = 400


class NotFound(DicomWebError):
    status = 404


class NotAcceptable(DicomWebError):
    """PS3.18 8.7.5: none of the media types or transfer syntaxes asked for can be produced."""

    status = 406


def error_response(message: str, status: int) -> HttpResponse:
    response = JsonResponse({"detail": message, "status": status}, status=status)
    if status == 401:
        # Staff send their REST token; browsers carry their session instead.
        response["WWW-Authenticate"] = 'Token realm="dicomweb"'
    return response


def dicomweb_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Only GET/HEAD; credentials and DICOMweb errors answered with their status and a message.

    Nothing here changes state, so other methods get 405 (not a CSRF refusal)."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            response = error_response(f"{request.method} is not supported here.", 405)
            response["Allow"] = "GET, HEAD"
            return response
        try:
            return view(request, *args, **kwargs)
        except NotAuthenticated as exc:
            return error_response(str(exc), 401)
        except Forbidden as exc:
            return error_response(str(exc), 403)
        except DicomWebError as exc:
            return error_response(str(exc), exc.status)

    return wrapper
