"""`{% study_send_panel study %}`: the send panel on the study page."""

from django import template

from frontend.sends import study_send_context

register = template.Library()


@register.inclusion_tag("frontend/sends_study_panel.html", takes_context=True)
def study_send_panel(context, study) -> dict:
    request = context["request"]
    return {**study_send_context(request, study), "request": request, "perms": context["perms"]}
