"""API permissions: every HTTP method maps to a Django model permission, reads included."""

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model
from rest_framework.permissions import DjangoModelPermissions


class ModelPermissions(DjangoModelPermissions):
    """Django model permissions for the view's model, with `view_<model>` required to read.

    DRF's DjangoModelPermissions lets any authenticated user read; the clinic's roles say who
    may see owners, patients and studies, so GET and HEAD need the *view* permission here.
    A view names the model whose permissions guard it with `permission_model` (series,
    instances and thumbnails are parts of a study, so they are guarded by the study's
    permissions), else the model of its `queryset`. An operation on a record that is not a
    plain create names the permission it needs with `permission_actions`, e.g.
    `{"POST": "change"}` for "confirm this patient".
    """

    perms_map = {
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        model = self.model_of(view)
        action = getattr(view, "permission_actions", {}).get(request.method)
        if action:
            perms = [f"{model._meta.app_label}.{action}_{model._meta.model_name}"]
        else:
            perms = self.get_required_permissions(request.method, model)
        return user.has_perms(perms)

    @staticmethod
    def model_of(view) -> type[Model]:
        model = getattr(view, "permission_model", None)
        if model is None and getattr(view, "queryset", None) is not None:
            model = view.queryset.model
        if model is None:
            raise ImproperlyConfigured(
                f"{type(view).__name__} needs `permission_model` or `queryset` for ModelPermissions."
            )
        return model
