"""The Import page: drop files, folders, ZIP archives or a CD's content; watch each file upload
and see what became of it. Each file is its own request, so progress shows per file and one
bad file never spoils the rest; the batch's summary is kept and can be reopened."""

from __future__ import annotations

import json

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from imaging import imports
from imaging.models import ImportBatch, ImportItem, ImportOutcome, ImportSource

from .views import permission

IMPORT_PERMISSION = "imaging.import_study"
RECENT_BATCHES = 20


def _own_open_batch(request: HttpRequest, pk: int) -> ImportBatch:
    batch = get_object_or_404(ImportBatch, pk=pk, source=ImportSource.UPLOAD)
    if batch.created_by_id != request.user.pk or batch.finished_at is not None:
        raise PermissionDenied
    return batch


def _item_json(item: ImportItem) -> dict:
    return {
        "name": item.name,
        "outcome": item.outcome,
        "label": item.get_outcome_display(),
        "reason": item.reason,
    }


@require_GET
@permission(IMPORT_PERMISSION)
def import_page(request: HttpRequest) -> HttpResponse:
    batches = ImportBatch.objects.select_related("created_by")[:RECENT_BATCHES]
    return render(request, "frontend/imports.html", {"nav": "imports", "batches": batches})


@require_POST
@permission(IMPORT_PERMISSION)
def import_start(request: HttpRequest) -> JsonResponse:
    batch = imports.batch_open(source=ImportSource.UPLOAD, user=request.user)
    return JsonResponse(
        {
            "files": reverse("import-file", args=[batch.pk]),
            "cd": reverse("import-cd", args=[batch.pk]),
            "finish": reverse("import-finish", args=[batch.pk]),
            "summary": reverse("import-detail", args=[batch.pk]),
        }
    )


@require_POST
@permission(IMPORT_PERMISSION)
def import_file(request: HttpRequest, pk: int) -> JsonResponse:
    batch = _own_open_batch(request, pk)
    upload = request.FILES.get("file")
    if upload is None:
        return JsonResponse({"error": "No file arrived; choose it again."}, status=400)
    name = (request.POST.get("name") or upload.name)[:500]
    staged = imports.batch_file_stage(upload.chunks())
    items = imports.batch_path_import(batch=batch, path=staged, name=name, consume=True)
    return JsonResponse({"items": [_item_json(i) for i in items]})


@require_POST
@permission(IMPORT_PERMISSION)
def import_cd(request: HttpRequest, pk: int) -> JsonResponse:
    """The DICOMDIR of a chosen CD and the names of the files beside it: which ones to upload."""
    batch = _own_open_batch(request, pk)
    upload = request.FILES.get("file")
    try:
        names = json.loads(request.POST.get("names") or "[]")
    except ValueError:
        names = None
    if upload is None or not isinstance(names, list):
        return JsonResponse(
            {"error": "The CD's index did not arrive; choose it again."}, status=400
        )
    staged = imports.batch_file_stage(upload.chunks())
    name = (request.POST.get("name") or upload.name)[:500]
    try:
        wanted = imports.batch_cd_plan(
            batch=batch, dicomdir=staged, name=name, names=[str(n) for n in names]
        )
    except imports.Refused as exc:
        return JsonResponse({"error": exc.reason}, status=422)
    return JsonResponse({"upload": wanted})


@require_POST
@permission(IMPORT_PERMISSION)
def import_finish(request: HttpRequest, pk: int) -> JsonResponse:
    batch = imports.batch_close(batch=_own_open_batch(request, pk))
    return JsonResponse(
        {
            "summary": reverse("import-detail", args=[batch.pk]),
            "imported": batch.imported,
            "duplicates": batch.duplicates,
            "replaced": batch.replaced,
            "refused": batch.refused,
            "ignored": batch.ignored,
        }
    )


@require_GET
@permission(IMPORT_PERMISSION)
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(ImportBatch.objects.select_related("created_by"), pk=pk)
    items = batch.items.select_related("study__patient")
    studies = {item.study for item in items if item.study is not None}
    return render(
        request,
        "frontend/import_detail.html",
        {
            "nav": "imports",
            "batch": batch,
            "refused": [i for i in items if i.outcome == ImportOutcome.REFUSED],
            "ignored": [i for i in items if i.outcome == ImportOutcome.IGNORED],
            "stored": [i for i in items if i.study_id is not None],
            "studies": sorted(studies, key=lambda s: s.pk),
        },
    )
