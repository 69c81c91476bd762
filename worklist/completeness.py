"""Which of a procedure's expected views have arrived: "2 of 3 views: Ventrodorsal missing".

Consoles label a view in View Position (0018,5101), Series Description (0008,103E) or
Protocol Name (0018,1030); each expected view lists the labels it goes by. Computed from the
series the study holds now, so it follows every new series as it arrives.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from imaging.models import Series
from worklist.models import ExpectedView


@dataclass(frozen=True)
class Completeness:
    arrived: list[str]
    missing: list[str]

    @property
    def expected(self) -> int:
        return len(self.arrived) + len(self.missing)

    @property
    def complete(self) -> bool:
        return not self.missing

    def __str__(self) -> str:
        text = f"{len(self.arrived)} of {self.expected} view{'s' if self.expected != 1 else ''}"
        if self.missing:
            text += f": {', '.join(self.missing)} missing"
        return text


def _values(text: str) -> list[str]:
    return [part.strip().casefold() for part in text.split(",") if part.strip()]


def _by_position(view: ExpectedView, series: Series) -> bool:
    position = series.view_position.strip().casefold()
    return bool(position) and position in _values(view.view_positions)


def _by_description(view: ExpectedView, series: Series) -> bool:
    text = f"{series.description} {series.protocol_name}".casefold()
    # Whole words, so "l lat" is not found in "Thorax R LAT" nor "vd" in "dvd".
    return any(
        re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text) for p in _values(view.description_patterns)
    )


def view_for_series(views: list[ExpectedView], series: Series) -> ExpectedView | None:
    """The expected view a series shows: by View Position first (the console's own coding),
    else by words in its description or protocol."""
    for view in views:
        if _by_position(view, series):
            return view
    for view in views:
        if _by_description(view, series):
            return view
    return None


def study_completeness(
    *, views: Iterable[ExpectedView], series: Iterable[Series]
) -> Completeness | None:
    """Expected views arrived and missing, in catalog order; None when none are expected."""
    views = list(views)
    if not views:
        return None
    seen = {view.pk for s in series if (view := view_for_series(views, s)) is not None}
    return Completeness(
        arrived=[view.name for view in views if view.pk in seen],
        missing=[view.name for view in views if view.pk not in seen],
    )


def order_completeness(order) -> Completeness | None:
    """Completeness of an order's arrived study (None before it arrives or without views).

    Uses prefetched `procedure.views` and `study.series` when the caller loaded them."""
    if order is None or order.study_id is None:
        return None
    return study_completeness(views=order.procedure.views.all(), series=order.study.series.all())
