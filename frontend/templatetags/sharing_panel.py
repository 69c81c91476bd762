"""`{% study_share_panel study %}`: "Share with a specialist" on the study page."""

from django import template

from frontend.sharing_pages import study_share_context

register = template.Library()


@register.inclusion_tag("frontend/share_panel.html", takes_context=True)
def study_share_panel(context, study) -> dict:
    request = context["request"]
    return {**study_share_context(request, study), "request": request, "perms": context["perms"]}
