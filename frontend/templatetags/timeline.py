"""`{% study_timeline study %}`: the study's timeline on the study page."""

from django import template

from frontend.timeline import study_timeline as timeline_steps

register = template.Library()


@register.inclusion_tag("frontend/_study_timeline.html", takes_context=True)
def study_timeline(context, study) -> dict:
    return {"steps": timeline_steps(study=study, user=context["request"].user)}
