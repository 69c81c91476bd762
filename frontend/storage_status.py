"""The storage status page (administrators) and the low-space banner on staff pages."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from imaging.storage_status import (
    STORAGE_STATUS_PERMISSION,
    StorageLevel,
    StorageSpace,
    storage_report,
    storage_space,
)

from .views import permission

# Who sees the banner: the people who receive images, and administrators who can act on it.
_BANNER_PERMISSIONS = ("imaging.view_study", STORAGE_STATUS_PERMISSION)


@require_GET
@permission(STORAGE_STATUS_PERMISSION)
def storage_status(request: HttpRequest) -> HttpResponse:
    report = storage_report(fresh=request.GET.get("fresh") == "1")
    largest = max((line.bytes for line in report.by_modality), default=0)
    return render(
        request,
        "frontend/storage_status.html",
        {"nav": "storage", "report": report, "space": report.space, "largest": largest},
    )


def storage_banner(request: HttpRequest) -> dict[str, Callable[[], StorageSpace | None]]:
    """Context processor: `storage_alert`, evaluated only when a staff page's layout asks."""

    def alert() -> StorageSpace | None:
        user = getattr(request, "user", None)
        if not user or not user.is_authenticated:
            return None
        if not any(user.has_perm(code) for code in _BANNER_PERMISSIONS):
            return None
        space = storage_space()
        return space if space.level in (StorageLevel.LOW, StorageLevel.FULL) else None

    return {"storage_alert": alert}
