"""A share's annotation door: `/share/v/<id>/annotations/` and `…/annotations/<ann_id>/`.

The specialist measures with the viewer's tools; the marks are saved under the share's key
("share:<id>") through imaging's annotation services, in the same JSON as the staff API. The
clinic's own marks come along read-only when the share includes annotations. Every request is
checked against the share's session, state and scope (its study and series); an anonymized
share reads and writes the share's replacement UIDs, translated here. Writes are logged in the
share's access log ("measured").
"""

from __future__ import annotations

import json
import logging
from functools import wraps

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_http_methods
from rest_framework.fields import DateTimeField

from imaging.annotation_serializers import (
    AnnotationCreateInputSerializer,
    AnnotationOutputSerializer,
    AnnotationUpdateInputSerializer,
)
from imaging.annotations import (
    AnnotationForbidden,
    AnnotationInvalid,
    annotation_create,
    annotation_delete,
    annotation_update,
    study_annotations,
)
from imaging.models import Annotation
from sharing.access import access_record_request
from sharing.anonymize import Anonymizer
from sharing.dicomweb import real_uids
from sharing.export import share_anonymizer
from sharing.models import AccessAction, Share
from sharing.scope import share_instances
from sharing.security import protected_headers, session_share, share_csrf

logger = logging.getLogger(__name__)

# The clinic's users stay unnamed on anonymized shares (the clinic itself is removed there).
ANONYMIZED_CLINIC_AUTHOR = "Clinic"


def share_key(share: Share) -> str:
    return f"share:{share.pk}"


def share_author_label(share: Share) -> str:
    """Who draws under the share, as the clinic reads it: "Dr Jones (specialist, via share)"."""
    who = share.consultant.name if share.consultant_id and share.consultant else share.email
    return f"{who} (specialist, via share)"


def share_annotations(share: Share) -> QuerySet[Annotation]:
    """What the share sees: its own marks, and the clinic's when it includes annotations, on
    its shared images only."""
    return study_annotations(
        share.study, share_key=share_key(share), with_clinic=share.include_annotations
    ).filter(instance__in=share_instances(share))


def _shown(share: Share, anonymizer: Anonymizer | None, rows) -> list[dict] | dict:
    """The staff API's JSON; on an anonymized share with the share's UIDs, its date shift
    and no clinic user's name."""
    context = {"share_key": share_key(share)}
    if anonymizer is not None:
        context["clinic_author"] = ANONYMIZED_CLINIC_AUTHOR
    many = not isinstance(rows, Annotation)
    annotations = list(rows) if many else [rows]
    data = AnnotationOutputSerializer(annotations, many=True, context=context).data
    if anonymizer is not None:
        moment = DateTimeField()
        for annotation, row in zip(annotations, data, strict=True):
            row["sop_instance_uid"] = anonymizer.uid(row["sop_instance_uid"])
            row["series_instance_uid"] = anonymizer.uid(row["series_instance_uid"])
            for field in ("created_at", "updated_at"):
                shifted = getattr(annotation, field) + anonymizer.shift
                row[field] = moment.to_representation(shifted)
    return data if many else data[0]


def _json(data, status: int = 200) -> HttpResponse:
    return JsonResponse(data, status=status, safe=False)


def _detail(message: str, status: int) -> HttpResponse:
    return _json({"detail": message}, status)


def _body(request: HttpRequest) -> dict | None:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _door(view):
    """Share session and state first (401 when not open in this browser), then the view; the
    answer carries the share pages' headers and stays out of Django's request log."""

    @wraps(view)
    def wrapped(request: HttpRequest, pk: int, **kwargs) -> HttpResponse:
        share = session_share(request, pk)
        if share is None:
            response = _detail("This share is not open in this browser.", 401)
        else:
            response = view(request, share, **kwargs)
        response._has_been_logged = True
        return protected_headers(response)

    return share_csrf(require_http_methods(["GET", "POST", "PATCH", "DELETE"])(wrapped))


def _log(request: HttpRequest, share: Share, verb: str, annotation: Annotation, pk=None) -> None:
    access_record_request(
        share=share,
        request=request,
        action=AccessAction.MEASURED,
        detail=f"{verb} {annotation.get_tool_display().lower()} (#{pk or annotation.pk})",
    )


@_door
def share_annotation_list(request: HttpRequest, share: Share) -> HttpResponse:
    """GET: what the share sees; POST: draw a mark on one of the shared images."""
    anonymizer = share_anonymizer(share)
    if request.method == "GET":
        return _json(_shown(share, anonymizer, share_annotations(share)))
    if request.method != "POST":
        return _detail("Use GET or POST here.", 405)
    body = _body(request)
    if body is None:
        return _detail("Send a JSON object.", 400)
    serializer = AnnotationCreateInputSerializer(data=body)
    if not serializer.is_valid():
        return _json(serializer.errors, 400)
    fields = dict(serializer.validated_data)
    uid = fields.pop("sop_instance_uid")
    if anonymizer is not None:
        uid = real_uids(share, anonymizer).get(uid, "")
    if not uid or not share_instances(share).filter(sop_instance_uid=uid).exists():
        return _json({"sop_instance_uid": ["This image is not part of the shared study."]}, 400)
    try:
        annotation = annotation_create(
            study=share.study,
            sop_instance_uid=uid,
            share_key=share_key(share),
            author_label=share_author_label(share),
            **fields,
        )
    except AnnotationInvalid as exc:
        return _json(exc.errors, 400)
    _log(request, share, "drew", annotation)
    logger.info("share %s: annotation %s drawn", share.pk, annotation.pk)
    return _json(_shown(share, anonymizer, annotation), 201)


@_door
def share_annotation_detail(request: HttpRequest, share: Share, ann_pk: int) -> HttpResponse:
    """GET one; PATCH or DELETE the share's own marks (the clinic's are read-only: 403)."""
    anonymizer = share_anonymizer(share)
    annotation = share_annotations(share).select_related("study__patient").filter(pk=ann_pk).first()
    if annotation is None:
        return _detail("Not found.", 404)
    if request.method == "GET":
        return _json(_shown(share, anonymizer, annotation))
    if request.method == "POST":
        return _detail("Use PATCH or DELETE here.", 405)
    if annotation.share_key != share_key(share):
        return _detail("The clinic's annotations are read-only here.", 403)
    try:
        if request.method == "DELETE":
            pk = annotation.pk
            annotation_delete(annotation=annotation, share_key=share_key(share))
            _log(request, share, "deleted", annotation, pk)
            return HttpResponse(status=204)
        body = _body(request)
        if body is None:
            return _detail("Send a JSON object.", 400)
        serializer = AnnotationUpdateInputSerializer(data=body)
        if not serializer.is_valid():
            return _json(serializer.errors, 400)
        annotation = annotation_update(
            annotation=annotation, share_key=share_key(share), **serializer.validated_data
        )
    except AnnotationForbidden as exc:
        return _detail(str(exc), 403)
    except AnnotationInvalid as exc:
        return _json(exc.errors, 400)
    _log(request, share, "changed", annotation)
    return _json(_shown(share, anonymizer, annotation))
