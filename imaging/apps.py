from django.apps import AppConfig


class ImagingConfig(AppConfig):
    name = "imaging"
    verbose_name = "Imaging"

    def ready(self) -> None:
        from imaging.dicom import commitment, find_stream

        # C-FIND answers of every registered service go straight to the socket.
        find_stream.install()
        # Destinations report storage commitment to the listener on an association they open.
        commitment.register()
        from imaging.dicom import query_handlers

        # Workstations and other PACS search the index (Query/Retrieve C-FIND).
        query_handlers.register()
        from imaging.dicom import retrieve_handlers

        # ... and pull studies from it (Query/Retrieve C-MOVE through send jobs, and C-GET).
        retrieve_handlers.register()
