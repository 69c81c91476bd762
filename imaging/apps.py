from django.apps import AppConfig


class ImagingConfig(AppConfig):
    name = "imaging"
    verbose_name = "Imaging"

    def ready(self) -> None:
        from imaging.dicom import commitment

        # Destinations report storage commitment to the listener on an association they open.
        commitment.register()
