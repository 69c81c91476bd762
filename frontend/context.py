from django.conf import settings


def portal(request) -> dict:
    return {"clinic_name": settings.PORTAL_CLINIC_NAME}
