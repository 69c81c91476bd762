"""Template helpers for orders on the staff pages."""

from django import template

from worklist.completeness import Completeness, order_completeness

register = template.Library()


@register.filter
def completeness(order) -> Completeness | None:
    """Which expected views of the order's study arrived: "2 of 3 views: Ventrodorsal missing"."""
    return order_completeness(order)
