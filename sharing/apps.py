from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "sharing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from imaging.dicomweb.scope import scope_provider_register
        from sharing.scope import share_scope

        scope_provider_register(share_scope)

        from sharing import push

        push.register()
