from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs) -> None:
    from clinic.roles import roles_sync

    roles_sync()


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinic"

    def ready(self) -> None:
        # After the last app migrates, so every app's permissions exist.
        post_migrate.connect(_sync_roles, dispatch_uid="clinic.roles_sync")
