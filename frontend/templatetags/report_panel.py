"""`{% study_report_panel study %}`: the report panel on the study page."""

from django import template

from frontend.reports import study_report_context

register = template.Library()


@register.inclusion_tag("frontend/report_panel.html", takes_context=True)
def study_report_panel(context, study) -> dict:
    request = context["request"]
    return {**study_report_context(request, study), "request": request, "perms": context["perms"]}
