"""STOW-RS views (PS3.18 10.5), and the two resources where a POST stores and a GET searches or
retrieves: `/studies` (QIDO-RS) and `/studies/{study}` (WADO-RS)."""

from __future__ import annotations

import json
import logging

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from imaging import imports
from imaging.dicomweb import media
from imaging.dicomweb.errors import DicomWebError, error_response
from imaging.dicomweb.lookup import dicomweb_root
from imaging.dicomweb.scope import NotAuthenticated, _user
from imaging.dicomweb.stow import boundary_of, parts_read, stow_answer
from imaging.dicomweb.views import qido, wado
from imaging.models import ImportSource

logger = logging.getLogger(__name__)

IMPORT_PERMISSION = "imaging.import_study"


def _storing(request: HttpRequest) -> bool:
    # A share link's door (sharing/dicomweb.py) reaches these views too; it only ever reads,
    # so a POST through it gets the read-only views' 405.
    return request.method == "POST" and getattr(request, "portal_share", None) is None


@csrf_exempt
def studies(request: HttpRequest) -> HttpResponse:
    if _storing(request):
        return store(request)
    return qido.studies(request)


@csrf_exempt
def study(request: HttpRequest, study: str) -> HttpResponse:
    if _storing(request):
        return store(request, study)
    return wado.study_retrieve(request, study=study)


def _allowed(request: HttpRequest):
    """The requesting user when they may import; an error response otherwise."""
    try:
        user = _user(request)
    except NotAuthenticated as exc:
        return None, error_response(str(exc), 401)
    if user is None or not user.is_authenticated:
        return None, error_response("Sign in or send 'Authorization: Token <key>'.", 401)
    if "HTTP_AUTHORIZATION" not in request.META:
        # A browser's session: the same CSRF protection as any other form that changes things.
        refused = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
        if refused is not None:
            return None, refused
    if not user.has_perm(IMPORT_PERMISSION):
        return None, error_response("You are not allowed to import studies.", 403)
    return user, None


def store(request: HttpRequest, study_uid: str = "") -> HttpResponse:
    user, refused = _allowed(request)
    if refused is not None:
        return refused
    try:
        boundary = boundary_of(request.META.get("CONTENT_TYPE", ""))
        batch = imports.batch_open(source=ImportSource.STOW, user=user)
        items = []
        try:
            for number, part in enumerate(parts_read(request, boundary), 1):
                name = f"part {number}"
                if part.content_type.split(";")[0].strip().lower() != media.DICOM:
                    part.path.unlink(missing_ok=True)
                    items.append(imports.batch_refuse(batch=batch, name=name, reason=(
                        f"a {part.content_type or 'untyped'} part; only application/dicom is accepted"
                    )))  # fmt: skip
                    continue
                items += imports.batch_path_import(
                    batch=batch, path=part.path, name=name, consume=True,
                    expect_study_uid=study_uid,
                )  # fmt: skip
        finally:
            imports.batch_close(batch=batch)
    except DicomWebError as exc:
        return error_response(str(exc), exc.status)
    code, answer = stow_answer(items, root=dicomweb_root(request), target_study=study_uid)
    logger.info(
        "STOW-RS by %s: %d stored, %d failed", user.get_username(), batch.imported
        + batch.duplicates + batch.replaced, batch.refused,
    )  # fmt: skip
    body = json.dumps(answer.to_json_dict(), separators=(",", ":"))
    return HttpResponse(body, status=code, content_type=media.DICOM_JSON)
