"""Modality Worklist C-FIND: PS3.4 matching, the answers consoles read, and the DICOM service."""

from datetime import timedelta
from io import BytesIO

import pytest
from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE, evt
from pynetdicom.association import Association
from pynetdicom.dimse_primitives import C_FIND
from pynetdicom.dsutils import encode
from pynetdicom.events import Event
from pynetdicom.presentation import PresentationContextTuple
from pynetdicom.sop_class import ModalityWorklistInformationFind
from pynetdicom.status import Status

from tests.dicom_server import running_listener
from worklist import dicom_handlers, mwl, orders
from worklist.models import OrderStatus


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
        q = query(step={"ScheduledPerformingPhysicianName": "Berg^Anna"})
        assert accessions(q) == [clinic_day.thorax.accession_number]
        q = query(step={"ScheduledPerformingPhysicianName": "*Vries*"})
        assert accessions(q) == [accession]

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

    def test_non_ascii_names_come_with_utf8(self, clinic_day):
        answer = mwl.worklist_answer(clinic_day.abdomen_us, self.full_query())
        assert answer.SpecificCharacterSet == "ISO_IR 192"
        assert str(answer.PatientName) == "Müller^Mimi"
        assert str(answer.ResponsiblePerson) == "Müller^Jürgen"
        assert answer.PatientSpeciesCodeSequence[0].CodeValue == "448169003"


def _find(host: str, port: int, ae_title: str, q: Dataset) -> list[tuple[int, Dataset | None]]:
    scu = AE(ae_title="DR1")
    scu.add_requested_context(ModalityWorklistInformationFind)
    assoc = scu.associate(host, port, ae_title=ae_title)
    assert assoc.is_established
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


@pytest.mark.django_db
def test_a_cancel_stops_the_stream_after_the_current_answer(clinic_day):
    """PS3.7 9.1.2.1.6: once a C-CANCEL is in, the next response is "cancelled" and the last.

    Driven through pynetdicom's own cancel hook: over a socket, pynetdicom reads a C-CANCEL
    only when its send queue is empty, so when it lands depends on thread timing.
    """
    cancelled = iter([False, True])  # the console presses "stop" after the first answer
    request = C_FIND()
    request.MessageID = 7
    request.AffectedSOPClassUID = ModalityWorklistInformationFind
    request.Identifier = BytesIO(encode(query(PatientName="*"), False, True))
    event = Event(
        Association(AE(ae_title="VETPORTAL"), "acceptor"),
        evt.EVT_C_FIND,
        {
            "request": request,
            "context": PresentationContextTuple(1, ModalityWorklistInformationFind, ExplicitVRLittleEndian),
            "_is_cancelled": lambda message_id: next(cancelled),
        },
    )  # fmt: skip
    statuses = [status for status, _ in dicom_handlers.handle_worklist_find(event)]
    assert statuses == [Status.PENDING, Status.CANCEL]
