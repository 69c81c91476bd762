"""Modality Worklist C-FIND: PS3.4 matching, the answers consoles read, and the DICOM service."""

from datetime import timedelta
from io import BytesIO

import pytest
from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, evt
from pynetdicom.association import Association
from pynetdicom.dimse_primitives import C_FIND
from pynetdicom.dsutils import decode, encode
from pynetdicom.events import Event
from pynetdicom.presentation import PresentationContextTuple
from pynetdicom.sop_class import (
    ModalityWorklistInformationFind,
    StudyRootQueryRetrieveInformationModelFind,
)
from pynetdicom.status import Status

from tests.dicom_server import running_listener
from worklist import dicom_handlers, mwl, orders
from worklist.models import Order, OrderStatus


def query(**keys) -> Dataset:
    """A worklist query; `step=` holds the Scheduled Procedure Step item's keys."""
    ds = Dataset()
    step_keys = keys.pop("step", None)
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    if step_keys is not None:
        item = Dataset()
        for keyword, value in step_keys.items():
            setattr(item, keyword, value)
        ds.ScheduledProcedureStepSequence = [item]
    return ds


def accessions(ds: Dataset) -> list[str]:
    return [order.accession_number for order in mwl.worklist_orders(ds)]


@pytest.mark.django_db
class TestMatching:
    def test_today_at_my_station(self, clinic_day):
        q = query(
            step={
                "ScheduledStationAETitle": "DR1",
                "ScheduledProcedureStepStartDate": clinic_day.dicom_day,
            }
        )
        assert accessions(q) == [clinic_day.thorax.accession_number]  # fmt: skip

    def test_universal_matching_offers_every_order_still_to_perform(self, clinic_day):
        assert accessions(query(PatientName="", step={"Modality": ""})) == [
            clinic_day.thorax.accession_number,
            clinic_day.abdomen_us.accession_number,
            clinic_day.stifle.accession_number,
        ]

    def test_modality_single_value_and_wildcard(self, clinic_day):
        assert accessions(query(step={"Modality": "US"})) == [
            clinic_day.abdomen_us.accession_number
        ]
        assert len(accessions(query(step={"Modality": "D?"}))) == 2

    @pytest.mark.parametrize(
        "dates, expected",
        [
            ("{today}-{tomorrow}", ["thorax", "abdomen_us", "stifle"]),
            ("-{today}", ["thorax", "abdomen_us"]),
            ("{tomorrow}-", ["stifle"]),
            ("{yesterday}", []),
        ],
    )
    def test_date_ranges(self, clinic_day, dates, expected):
        day = clinic_day.day
        value = dates.format(
            today=day.strftime("%Y%m%d"),
            tomorrow=(day + timedelta(days=1)).strftime("%Y%m%d"),
            yesterday=(day - timedelta(days=1)).strftime("%Y%m%d"),
        )
        q = query(step={"ScheduledProcedureStepStartDate": value})
        assert accessions(q) == [getattr(clinic_day, name).accession_number for name in expected]

    def test_date_and_time_ranges_combine(self, clinic_day):
        # PS3.4 C.2.2.2.5.2: today 10:00 up to tomorrow 08:00 is one date-time range.
        tomorrow = (clinic_day.day + timedelta(days=1)).strftime("%Y%m%d")
        q = query(
            step={
                "ScheduledProcedureStepStartDate": f"{clinic_day.dicom_day}-{tomorrow}",
                "ScheduledProcedureStepStartTime": "1000-0800",
            }
        )
        assert accessions(q) == [clinic_day.abdomen_us.accession_number]

    def test_time_range_alone_matches_time_of_day(self, clinic_day):
        q = query(step={"ScheduledProcedureStepStartTime": "0830-0930"})
        assert accessions(q) == [
            clinic_day.thorax.accession_number,
            clinic_day.stifle.accession_number,
        ]

    @pytest.mark.parametrize(
        "name, matches",
        [
            ("Smith^Rex", 2),
            ("smith^rex", 2),  # case-insensitive, as documented in worklist.mwl
            ("SMI*", 2),
            ("*^Rex", 2),
            ("S?ith^R?x", 2),
            ("*rex*", 2),
            ("Müller^Mimi", 1),
            ("Mü*", 1),
            ("Smith", 0),  # single value matching compares the whole name
            ("*", 3),
        ],
    )
    def test_patient_name(self, clinic_day, name, matches):
        assert len(accessions(query(PatientName=name))) == matches

    def test_patient_id_accession_and_performing_vet(self, clinic_day):
        assert len(accessions(query(PatientID="P-1001"))) == 2
        assert len(accessions(query(PatientID="P-10*"))) == 3
        accession = clinic_day.abdomen_us.accession_number
        assert accessions(query(AccessionNumber=accession)) == [accession]
        q = query(step={"ScheduledPerformingPhysicianName": "Jansen^Lea"})
        assert accessions(q) == [clinic_day.thorax.accession_number]
        q = query(step={"ScheduledPerformingPhysicianName": "*Vries*"})
        assert accessions(q) == [accession]

    def test_the_performing_vet_is_not_the_requesting_one(self, clinic_day):
        # Anna Berg asked for the thorax films; Lea Jansen takes them.
        assert accessions(query(step={"ScheduledPerformingPhysicianName": "Berg^Anna"})) == []
        assert accessions(query(step={"ScheduledPerformingPhysicianName": "JANSEN*"})) == [
            clinic_day.thorax.accession_number
        ]

    @pytest.mark.parametrize(
        "status, expected",
        [
            ("SCHEDULED", ["abdomen_us", "stifle"]),
            ("STARTED", ["thorax"]),
            ("S*", ["thorax", "abdomen_us", "stifle"]),
            ("READY", []),
            ("COMPLETED", []),  # finished orders are never offered
            ("", ["thorax", "abdomen_us", "stifle"]),
        ],
    )
    def test_step_status(self, clinic_day, status, expected):
        orders.order_status_set(order=clinic_day.thorax, status=OrderStatus.IN_PROGRESS)
        q = query(step={"ScheduledProcedureStepStatus": status})
        assert accessions(q) == [getattr(clinic_day, name).accession_number for name in expected]

    def test_images_without_mpps_count_as_a_started_step(self, clinic_day):
        orders.order_status_set(order=clinic_day.stifle, status=OrderStatus.ARRIVED)
        q = query(step={"ScheduledProcedureStepStatus": "STARTED"})
        assert accessions(q) == [clinic_day.stifle.accession_number]

    def test_issuer_of_patient_id(self, clinic_day, settings):
        clinic_day.mimi.issuer = "SHELTER"
        clinic_day.mimi.save()
        assert accessions(query(IssuerOfPatientID="SHELTER")) == [
            clinic_day.abdomen_us.accession_number
        ]
        assert len(accessions(query(IssuerOfPatientID="SHEL*"))) == 1
        assert len(accessions(query(IssuerOfPatientID="VETCLINIC"))) == 0
        assert len(accessions(query(IssuerOfPatientID=""))) == 3  # universal
        # The clinic's own IDs (stored without issuer) carry the clinic's issuer.
        settings.PATIENT_ID_ISSUER = "VETCLINIC"
        q = query(IssuerOfPatientID="VETCLINIC", PatientID="P-1001")
        assert accessions(q) == [
            clinic_day.thorax.accession_number,
            clinic_day.stifle.accession_number,
        ]

    def test_orders_in_progress_are_offered_finished_ones_are_not(self, clinic_day):
        orders.order_status_set(order=clinic_day.thorax, status=OrderStatus.IN_PROGRESS)
        orders.order_status_set(order=clinic_day.abdomen_us, status=OrderStatus.COMPLETED)
        assert accessions(query(PatientName="*")) == [
            clinic_day.thorax.accession_number,
            clinic_day.stifle.accession_number,
        ]

    @pytest.mark.parametrize(
        "step", [{"ScheduledProcedureStepStartDate": "2026-1"}, {"ScheduledProcedureStepStartTime": "9"}]
    )  # fmt: skip
    def test_malformed_values_are_refused_with_a_reason(self, clinic_day, step):
        with pytest.raises(mwl.QueryError, match="is not a"):
            accessions(query(step=step))


@pytest.mark.django_db
class TestAnswers:
    def full_query(self) -> Dataset:
        keys = [
            "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientSexNeutered",
            "PatientWeight", "PatientSpeciesDescription", "PatientBreedDescription",
            "ResponsiblePerson", "ResponsiblePersonRole", "ResponsibleOrganization",
            "AccessionNumber", "RequestingPhysician", "ReferringPhysicianName",
            "RequestedProcedureID", "RequestedProcedureDescription", "StudyInstanceUID",
            "PatientState",
        ]  # fmt: skip
        q = query(**dict.fromkeys(keys, ""))
        q.PatientSpeciesCodeSequence = []
        q.PatientBreedCodeSequence = []
        q.RequestedProcedureCodeSequence = []
        q.ScheduledProcedureStepSequence = [Dataset()]
        return q

    def test_answer_carries_the_order_the_patient_and_the_veterinary_attributes(self, clinic_day):
        answer = mwl.worklist_answer(clinic_day.thorax, self.full_query())
        assert str(answer.PatientName) == "Smith^Rex"
        assert answer.PatientID == "P-1001"
        assert answer.PatientBirthDate == "20190402"
        assert (answer.PatientSex, answer.PatientSexNeutered) == ("M", "ALTERED")
        assert float(answer.PatientWeight) == pytest.approx(32.4)
        assert answer.PatientSpeciesDescription == "Canine"
        code = answer.PatientSpeciesCodeSequence[0]
        assert (code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning) == (
            "448771007", "SCT", "Canis lupus familiaris",
        )  # fmt: skip
        assert answer.PatientBreedDescription == "Labrador Retriever"
        assert len(answer.PatientBreedCodeSequence) == 0
        assert str(answer.ResponsiblePerson) == "Smith^Sarah"
        assert answer.ResponsiblePersonRole == "OWNER"
        assert answer.AccessionNumber == clinic_day.thorax.accession_number
        assert str(answer.RequestingPhysician) == "Berg^Anna"
        assert answer.RequestedProcedureDescription == "Thorax 3-view"
        assert answer.RequestedProcedureCodeSequence[0].CodeValue == "THX3"
        assert answer.StudyInstanceUID == clinic_day.thorax.study_instance_uid
        assert "PatientState" in answer and not answer.PatientState  # asked, unknown: empty
        # An empty item asks for the whole Scheduled Procedure Step.
        step = answer.ScheduledProcedureStepSequence[0]
        assert step.ScheduledStationAETitle == "DR1"
        assert step.Modality == "DX"
        assert step.ScheduledProcedureStepStartDate == clinic_day.dicom_day
        assert step.ScheduledProcedureStepStartTime == "090000"
        assert step.ScheduledProcedureStepID == clinic_day.thorax.scheduled_step_id
        assert step.ScheduledProtocolCodeSequence[0].CodeMeaning == "Thorax 3-view"
        assert "SpecificCharacterSet" not in answer  # all ASCII

    def test_only_the_requested_keys_are_returned(self, clinic_day):
        q = query(PatientName="", step={"Modality": "", "ScheduledStationAETitle": ""})
        answer = mwl.worklist_answer(clinic_day.thorax, q)
        assert [e.keyword for e in answer] == ["PatientName", "ScheduledProcedureStepSequence"]
        assert [e.keyword for e in answer.ScheduledProcedureStepSequence[0]] == [
            "Modality",
            "ScheduledStationAETitle",
        ]

    def test_the_step_says_who_performs_it_and_how_far_it_is(self, clinic_day):
        q = query(
            IssuerOfPatientID="",
            step={"ScheduledPerformingPhysicianName": "", "ScheduledProcedureStepStatus": ""},
        )
        answer = mwl.worklist_answer(clinic_day.thorax, q)
        step = answer.ScheduledProcedureStepSequence[0]
        assert str(step.ScheduledPerformingPhysicianName) == "Jansen^Lea"
        assert step.ScheduledProcedureStepStatus == "SCHEDULED"
        assert "IssuerOfPatientID" in answer and not answer.IssuerOfPatientID  # none by default
        orders.order_status_set(order=clinic_day.thorax, status=OrderStatus.IN_PROGRESS)
        clinic_day.thorax.refresh_from_db()
        step = mwl.worklist_answer(clinic_day.thorax, q).ScheduledProcedureStepSequence[0]
        assert step.ScheduledProcedureStepStatus == "STARTED"

    def test_issuer_of_patient_id_is_the_patients_or_the_clinics(self, clinic_day, settings):
        q = query(IssuerOfPatientID="")
        settings.PATIENT_ID_ISSUER = "VETCLINIC"
        assert mwl.worklist_answer(clinic_day.thorax, q).IssuerOfPatientID == "VETCLINIC"
        clinic_day.mimi.issuer = "SHELTER"
        clinic_day.mimi.save()
        clinic_day.abdomen_us.refresh_from_db()
        assert mwl.worklist_answer(clinic_day.abdomen_us, q).IssuerOfPatientID == "SHELTER"

    @pytest.mark.parametrize("implicit_vr, little_endian", [(False, True), (True, True), (False, False)])  # fmt: skip
    def test_the_encoded_answer_is_what_pydicom_writes(self, clinic_day, implicit_vr, little_endian):  # fmt: skip
        """The portal encodes answers itself: byte for byte what pydicom makes of the same
        values, in every transfer syntax, with and without UTF-8."""
        for order in (clinic_day.thorax, clinic_day.abdomen_us):
            answer = mwl.worklist_answer(
                order, self.full_query(), implicit_vr=implicit_vr, little_endian=little_endian
            )
            decoded = decode(BytesIO(answer.encoded), implicit_vr, little_endian)
            assert decoded == answer
            plain = Dataset()
            for element in decoded:  # decoded and converted: pydicom encodes every value anew
                plain.add(element)
            assert encode(plain, implicit_vr, little_endian) == answer.encoded

    def test_an_order_changed_is_answered_anew(self, clinic_day):
        """Answers are kept by the values they are made of: a change shows at once."""
        q = query(PatientName="", step={"ScheduledPerformingPhysicianName": ""})
        before = [str(a.PatientName) for a in mwl.worklist_find(q)]
        assert before[0] == "Smith^Rex"
        orders.order_update(
            order=clinic_day.thorax,
            change_reason="Tom is on duty",
            performing_vet="Tom Hale",
        )
        clinic_day.rex.name = "Rexie"
        clinic_day.rex.save()
        after = list(mwl.worklist_find(q))
        assert str(after[0].PatientName) == "Smith^Rexie"
        performing = after[0].ScheduledProcedureStepSequence[0].ScheduledPerformingPhysicianName
        assert str(performing) == "Hale^Tom"

    def test_non_ascii_names_come_with_utf8(self, clinic_day):
        answer = mwl.worklist_answer(clinic_day.abdomen_us, self.full_query())
        assert answer.SpecificCharacterSet == "ISO_IR 192"
        assert str(answer.PatientName) == "Müller^Mimi"
        assert str(answer.ResponsiblePerson) == "Müller^Jürgen"
        assert answer.PatientSpeciesCodeSequence[0].CodeValue == "448169003"


def _find(
    host: str, port: int, ae_title: str, q: Dataset, *, syntax: str = ExplicitVRLittleEndian
) -> list[tuple[int, Dataset | None]]:
    scu = AE(ae_title="DR1")
    scu.add_requested_context(ModalityWorklistInformationFind, [syntax])
    assoc = scu.associate(host, port, ae_title=ae_title)
    assert assoc.is_established
    assert assoc.accepted_contexts[0].transfer_syntax[0] == syntax
    try:
        return [
            (status.Status, identifier)
            for status, identifier in assoc.send_c_find(q, ModalityWorklistInformationFind)
        ]
    finally:
        assoc.release()


@pytest.mark.django_db(transaction=True)
class TestService:
    def test_a_console_pulls_its_worklist(self, clinic_day):
        q = query(
            PatientName="",
            PatientSpeciesDescription="",
            ResponsiblePerson="",
            AccessionNumber="",
            step={"ScheduledStationAETitle": "", "Modality": "", "ScheduledProcedureStepStartDate": clinic_day.dicom_day},
        )  # fmt: skip
        with running_listener() as (host, port, ae_title):
            responses = _find(host, port, ae_title, q)
        assert [status for status, _ in responses] == [0xFF00, 0xFF00, 0x0000]
        names = [str(identifier.PatientName) for _, identifier in responses[:2]]
        assert names == ["Smith^Rex", "Müller^Mimi"]
        mimi = responses[1][1]
        assert mimi.SpecificCharacterSet == "ISO_IR 192"
        assert str(mimi.ResponsiblePerson) == "Müller^Jürgen"
        assert mimi.ScheduledProcedureStepSequence[0].ScheduledStationAETitle == "US1"

    def test_a_console_on_implicit_vr_gets_the_same_answers(self, clinic_day):
        q = query(
            PatientName="", ResponsiblePerson="", step={"ScheduledPerformingPhysicianName": ""}
        )
        with running_listener() as (host, port, ae_title):
            explicit = _find(host, port, ae_title, q)
            implicit = _find(host, port, ae_title, q, syntax=ImplicitVRLittleEndian)
        assert [status for status, _ in implicit] == [0xFF00, 0xFF00, 0xFF00, 0x0000]
        assert [ds for _, ds in implicit] == [ds for _, ds in explicit]
        mimi = implicit[1][1]
        assert str(mimi.ResponsiblePerson) == "Müller^Jürgen"
        assert str(mimi.ScheduledProcedureStepSequence[0].ScheduledPerformingPhysicianName) == (
            "de Vries^Piet"
        )

    def test_a_malformed_query_fails_and_the_listener_keeps_serving(self, clinic_day):
        with running_listener() as (host, port, ae_title):
            bad = _find(
                host, port, ae_title, query(step={"ScheduledProcedureStepStartDate": "tomorrow"})
            )
            good = _find(host, port, ae_title, query(PatientID="P-1002"))
        assert len(bad) == 1
        status, _ = bad[0]
        assert 0xC000 <= status <= 0xCFFF
        assert [status for status, _ in good] == [0xFF00, 0x0000]

    def test_a_console_cancels_a_long_worklist_mid_stream(self, clinic_day):
        """PS3.7 9.1.2.1.6 over a real association: the console sends C-CANCEL after the first
        answer; the listener stops sending, answers "cancelled", and serves the next query."""
        matches = 3 + _book_many(clinic_day, 400)
        q = query(PatientName="", AccessionNumber="", step={"ScheduledStationAETitle": ""})
        scu = AE(ae_title="DR1")
        scu.add_requested_context(ModalityWorklistInformationFind)
        with running_listener() as (host, port, ae_title):
            assoc = scu.associate(host, port, ae_title=ae_title)
            assert assoc.is_established
            try:
                statuses = []
                for status, _ in assoc.send_c_find(q, ModalityWorklistInformationFind, msg_id=7):
                    statuses.append(status.Status)
                    if len(statuses) == 1:
                        assoc.send_c_cancel(7, query_model=ModalityWorklistInformationFind)
                after = [
                    status.Status
                    for status, _ in assoc.send_c_find(
                        query(PatientID="P-1002"), ModalityWorklistInformationFind, msg_id=8
                    )
                ]
            finally:
                assoc.release()
        assert statuses[-1] == Status.CANCEL
        pending = statuses[:-1]
        assert set(pending) == {Status.PENDING}
        assert 1 <= len(pending) < matches
        assert after == [Status.PENDING, Status.SUCCESS]


def _book_many(clinic_day, count: int) -> int:
    """`count` more orders today on DR1 for Rex, written in bulk; returns `count`."""
    thorax = clinic_day.thorax
    Order.objects.bulk_create(
        Order(
            patient=clinic_day.rex,
            procedure=thorax.procedure,
            device=clinic_day.dr,
            scheduled_at=thorax.scheduled_at + timedelta(minutes=n),
            accession_number=f"BULK{n:06d}",
            requested_procedure_id=f"BULK{n:06d}",
            scheduled_step_id=f"BULK{n:06d}S1",
            study_instance_uid=f"1.2.826.0.1.3680043.8.498.{n + 1}",
        )
        for n in range(count)
    )
    return count


def _find_event(identifier: bytes, *, sop_class=ModalityWorklistInformationFind, cancelled=None):
    """An EVT_C_FIND as pynetdicom hands it to the handler, without a network."""
    request = C_FIND()
    request.MessageID = 7
    request.AffectedSOPClassUID = sop_class
    request.Identifier = BytesIO(identifier)
    cancelled = cancelled or iter(lambda: False, True)
    return Event(
        Association(AE(ae_title="VETPORTAL"), "acceptor"),
        evt.EVT_C_FIND,
        {
            "request": request,
            "context": PresentationContextTuple(1, sop_class, ExplicitVRLittleEndian),
            "_is_cancelled": lambda message_id: next(cancelled),
        },
    )


@pytest.mark.django_db
def test_a_cancel_stops_the_stream_after_the_current_answer(clinic_day):
    """PS3.7 9.1.2.1.6: once a C-CANCEL is in, the next response is "cancelled" and the last.

    Driven through pynetdicom's own cancel hook, answer by answer (the same over a real
    association: TestService.test_a_console_cancels_a_long_worklist_mid_stream).
    """
    # The console presses "stop" after the first answer.
    event = _find_event(encode(query(PatientName="*"), False, True), cancelled=iter([False, True]))
    statuses = [status for status, _ in dicom_handlers.handle_worklist_find(event)]
    assert statuses == [Status.PENDING, Status.CANCEL]


@pytest.mark.django_db
def test_an_undecodable_query_and_another_information_model_are_refused(clinic_day):
    # A Scheduled Procedure Step Sequence whose item holds no element, only noise.
    item = b"\xfe\xff\x00\xe0\x10\x00\x00\x00" + b"garbage"
    garbled = _find_event(b"\x40\x00\x00\x01SQ\x00\x00\xff\xff\xff\xff" + item)
    [(status, identifier)] = list(dicom_handlers.handle_worklist_find(garbled))
    assert (status.Status, identifier) == (0xA900, None)  # identifier does not match SOP class
    study_root = _find_event(
        encode(query(PatientName="*"), False, True),
        sop_class=StudyRootQueryRetrieveInformationModelFind,
    )
    [(status, identifier)] = list(dicom_handlers.handle_worklist_find(study_root))
    assert (status.Status, identifier) == (0x0122, None)  # SOP class not supported


def test_find_responses_go_out_as_pynetdicom_would_encode_them(clinic_day):
    """The listener's answers (encoded once, kept) and C-FIND-RSP command sets (kept by
    content) are the bytes pynetdicom would encode."""
    from pynetdicom import dimse_messages, dsutils

    from imaging.dicom import find_stream

    answer = mwl.worklist_answer(clinic_day.abdomen_us, query(PatientName="", PatientID=""))
    explicit = find_stream.identifier_bytes(answer, syntax=ExplicitVRLittleEndian)
    implicit = find_stream.identifier_bytes(answer, syntax=ImplicitVRLittleEndian)
    assert explicit == answer.encoded == dsutils.encode(answer, False, True)
    assert implicit == dsutils.encode(answer, True, True)
    for _ in range(2):  # the second time from what was kept
        for message_id, status in [(1, 0xFF00), (2, 0xFF00), (2, 0x0000), (2, 0xFE00)]:
            response = C_FIND()
            response.MessageIDBeingRespondedTo = message_id
            response.AffectedSOPClassUID = ModalityWorklistInformationFind
            response.Status = status
            if status == 0xFF00:
                response.Identifier = BytesIO(answer.encoded)
            message = dimse_messages.C_FIND_RSP()
            message.primitive_to_message(response)
            kept = find_stream.command_set_bytes(response, data_follows=status == 0xFF00)
            assert kept == dsutils.encode(message.command_set, True, True)
