from django.apps import AppConfig


class WorklistConfig(AppConfig):
    name = "worklist"
    verbose_name = "Worklist"

    def ready(self) -> None:
        # The listener lives in `imaging`: offer it the worklist and MPPS (DESIGN.md).
        from pynetdicom import evt
        from pynetdicom.sop_class import (
            ModalityPerformedProcedureStep,
            ModalityWorklistInformationFind,
        )

        from imaging.dicom import services
        from worklist import dicom_handlers

        services.service_register(
            services.Service(
                name="modality-worklist",
                sop_classes=[ModalityWorklistInformationFind],
                handlers=[(evt.EVT_C_FIND, dicom_handlers.handle_worklist_find)],
            )
        )
        services.service_register(
            services.Service(
                name="mpps",
                sop_classes=[ModalityPerformedProcedureStep],
                handlers=[
                    (evt.EVT_N_CREATE, dicom_handlers.handle_mpps_create),
                    (evt.EVT_N_SET, dicom_handlers.handle_mpps_set),
                ],
            )
        )
        # A study arrived: match it to its order (worklist/receivers.py).
        from imaging.ingest import study_arrived
        from worklist import receivers

        study_arrived.connect(receivers.study_arrived, dispatch_uid="worklist.study_arrived")
