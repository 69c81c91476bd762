"""Pages for "where did my images go?": DICOM activity (devices at a glance and the
association log), one association's detail, and the finder."""

from datetime import date

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from imaging import associations
from imaging.association_models import AssociationRecord, Direction

from .finder import where_find
from .views import permission

LOG_PAGE = 50  # associations per page of the log


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@require_GET
@permission("imaging.view_associationrecord")
def dicom_activity(request: HttpRequest) -> HttpResponse:
    """Each device at a glance, then the association log searched by device, address and day."""
    q = request.GET.get("q", "").strip()[:64]
    day = _day(request.GET.get("day", ""))
    direction = request.GET.get("direction", "")
    if direction not in Direction.values:
        direction = ""
    problems = request.GET.get("problems") == "1"
    records = associations.association_log_search(
        text=q, day=day, direction=direction, problems_only=problems
    )
    page = Paginator(records, LOG_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "nav": "activity",
        "devices": associations.device_activity(),
        "page": page,
        "q": q,
        "day": day,
        "direction": direction,
        "problems": problems,
        "directions": Direction.choices,
        "query": query.urlencode(),
        "today": timezone.localdate(),
    }
    return render(request, "frontend/dicom_activity.html", context)


@require_GET
@permission("imaging.view_associationrecord")
def association_detail(request: HttpRequest, pk: int) -> HttpResponse:
    record = get_object_or_404(AssociationRecord, pk=pk)
    studies = sorted(record.studies.items())
    return render(
        request,
        "frontend/association_detail.html",
        {"nav": "activity", "record": record, "studies": studies},
    )


@require_GET
@permission("imaging.view_study")
def where(request: HttpRequest) -> HttpResponse:
    """The finder: one box for any UID, accession, patient ID, microchip or name."""
    text = request.GET.get("q", "")
    result = where_find(text=text, user=request.user)
    return render(request, "frontend/where.html", {"nav": "where", "result": result})
