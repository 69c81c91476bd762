"""Query/Retrieve C-FIND (Patient Root, Study Root) against the portal's listener, in-process."""

from io import BytesIO

import pytest
from pydicom import Dataset
from pydicom.filereader import read_dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, build_context
from pynetdicom.pdu_primitives import SOPClassExtendedNegotiation
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelFind as PATIENT_ROOT,
)
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind as STUDY_ROOT,
)
from pynetdicom.status import Status

from imaging import query
from imaging.models import Study
from tests.dicom_server import running_listener
from tests.imaging.query_support import CT_IMAGE, SR_DOCUMENT, Clinic, clinic_build

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def clinic(db) -> Clinic:
    return clinic_build()


def identifier(level: str, **keys) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


@pytest.fixture
def listener(clinic):
    with running_listener() as address:
        yield address


def find(
    address, ds: Dataset, *, model=STUDY_ROOT, syntax=ExplicitVRLittleEndian, ext_neg=None
) -> tuple[list[Dataset], Dataset]:
    """(answers, final status) of one C-FIND over its own association."""
    host, port, ae_title = address
    scu = AE(ae_title="WORKSTATION")
    scu.add_requested_context(model, [syntax])
    assoc = scu.associate(host, port, ae_title=ae_title, ext_neg=ext_neg)
    assert assoc.is_established
    try:
        responses = list(assoc.send_c_find(ds, model))
    finally:
        assoc.release()
    answers = [answer for status, answer in responses if status.Status == Status.PENDING]
    return answers, responses[-1][0]


def uids(answers, keyword="StudyInstanceUID") -> list[str]:
    return sorted(str(getattr(a, keyword)) for a in answers)


class TestStudySearch:
    def test_every_study_with_the_veterinary_patient_and_what_it_holds(self, clinic, listener):
        answers, final = find(listener, identifier(
            "STUDY", StudyInstanceUID="", PatientName="", PatientID="", PatientSpeciesDescription="",
            PatientSpeciesCodeSequence=[Dataset()], PatientBreedDescription="", PatientSex="",
            PatientSexNeutered="", ResponsiblePerson="", ResponsiblePersonRole="",
            ResponsibleOrganization="", ModalitiesInStudy="", NumberOfStudyRelatedSeries="",
            NumberOfStudyRelatedInstances="", SOPClassesInStudy="", StudyDate="", StudyTime="",
            AccessionNumber="", RetrieveAETitle="", InstanceAvailability="",
        ))  # fmt: skip
        assert final.Status == Status.SUCCESS
        by_uid = {a.StudyInstanceUID: a for a in answers}
        assert sorted(by_uid) == ["1.2.3.1", "1.2.3.2", "1.2.3.3", "1.2.3.4"]
        ct = by_uid["1.2.3.2"]
        assert str(ct.PatientName) == "Smith^Rex"
        assert ct.PatientID == "P-1001"
        assert (ct.PatientSex, ct.PatientSexNeutered) == ("M", "ALTERED")
        assert ct.PatientSpeciesDescription == "Canine"
        assert ct.PatientSpeciesCodeSequence[0].CodeValue == "448771007"
        assert ct.PatientSpeciesCodeSequence[0].CodingSchemeDesignator == "SCT"
        assert ct.PatientBreedDescription == "Labrador Retriever"
        assert (str(ct.ResponsiblePerson), ct.ResponsiblePersonRole) == ("Smith^Sarah", "OWNER")
        assert list(ct.ModalitiesInStudy) == ["CT", "SR"]
        assert (ct.NumberOfStudyRelatedSeries, ct.NumberOfStudyRelatedInstances) == (2, 4)
        assert list(ct.SOPClassesInStudy) == sorted([CT_IMAGE, SR_DOCUMENT])
        assert (ct.StudyDate, ct.StudyTime, ct.AccessionNumber) == ("20240201", "140000", "A0002")
        assert (ct.RetrieveAETitle, ct.InstanceAvailability) == ("VETPORTAL", "ONLINE")
        assert ct.QueryRetrieveLevel == "STUDY"
        farm = by_uid["1.2.3.4"]
        assert str(farm.PatientName) == "Green Acres Farm^Thunder"
        assert farm.ResponsibleOrganization == "Green Acres Farm"
        assert "SpecificCharacterSet" not in ct
        mimi = by_uid["1.2.3.3"]
        # Non-ASCII names: UTF-8, and the answer says so (PS3.3 C.12.1.1.2).
        assert mimi.SpecificCharacterSet == "ISO_IR 192"
        assert str(mimi.PatientName) == "Müller^Mimi"
        assert str(mimi.ResponsiblePerson) == "Müller^Jürgen"
        assert mimi.PatientSpeciesCodeSequence[0].CodeValue == "448169003"

    def test_only_keys_asked_for_and_of_this_level_come_back(self, clinic, listener):
        answers, _ = find(listener, identifier(
            "STUDY", StudyInstanceUID="1.2.3.1", Modality="", SOPInstanceUID="", PatientComments="",
        ))  # fmt: skip
        (answer,) = answers
        assert "Modality" not in answer and "SOPInstanceUID" not in answer
        assert "PatientComments" in answer and answer.PatientComments == ""
        assert "PatientName" not in answer and "StudyDescription" not in answer

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("Smith^Rex", ["1.2.3.1", "1.2.3.2"]),
            ("smith^rex", ["1.2.3.1", "1.2.3.2"]),  # person names: case-insensitive
            ("SM?TH*", ["1.2.3.1", "1.2.3.2"]),
            ("*^Mimi", ["1.2.3.3"]),
            ("Green Acres*", ["1.2.3.4"]),
            ("Jones*", []),
            ("*", ["1.2.3.1", "1.2.3.2", "1.2.3.3", "1.2.3.4"]),
        ],
    )
    def test_patient_name(self, clinic, listener, name, expected):
        answers, _ = find(listener, identifier("STUDY", StudyInstanceUID="", PatientName=name))
        assert uids(answers) == expected

    @pytest.mark.parametrize(
        ("dates", "expected"),
        [
            ("20240115", ["1.2.3.1"]),
            ("20240101-20240131", ["1.2.3.1", "1.2.3.3"]),
            ("-20231231", ["1.2.3.4"]),
            ("20240120-", ["1.2.3.2", "1.2.3.3"]),
            ("", ["1.2.3.1", "1.2.3.2", "1.2.3.3", "1.2.3.4"]),
        ],
    )
    def test_study_date_ranges(self, clinic, listener, dates, expected):
        answers, _ = find(listener, identifier("STUDY", StudyInstanceUID="", StudyDate=dates))
        assert uids(answers) == expected

    def test_date_and_time_match_each_on_its_own_by_default(self, clinic, listener):
        # 2024-01-15 09:30 to 2024-01-20 16:45: the time range alone is 10:00–17:00 every day.
        q = identifier(
            "STUDY", StudyInstanceUID="", StudyDate="20240115-20240201", StudyTime="1000-1700"
        )
        answers, _ = find(listener, q)
        assert uids(answers) == ["1.2.3.2", "1.2.3.3"]

    def test_date_and_time_combine_when_the_workstation_negotiated_it(self, clinic, listener):
        """PS3.4 C.5.1.1.2 byte 2: one range from 2024-01-15 10:00 to 2024-02-01 12:00."""
        asked = SOPClassExtendedNegotiation()
        asked.sop_class_uid = STUDY_ROOT
        asked.service_class_application_information = b"\x00\x01"
        q = identifier(
            "STUDY", StudyInstanceUID="", StudyDate="20240115-20240201", StudyTime="1000-1200"
        )
        answers, _ = find(listener, q, ext_neg=[asked])
        # The thorax (15th, 09:30) is before the start, the CT (1st, 14:00) after the end.
        assert uids(answers) == ["1.2.3.3"]

    def test_birth_date_time_of_day_and_modalities(self, clinic, listener):
        by_birth, _ = find(listener, identifier("STUDY", StudyInstanceUID="", PatientBirthDate="20190101-"))  # fmt: skip
        assert uids(by_birth) == ["1.2.3.1", "1.2.3.2"]
        mornings, _ = find(listener, identifier("STUDY", StudyInstanceUID="", StudyTime="-1000"))
        assert uids(mornings) == ["1.2.3.1", "1.2.3.4"]
        ct, _ = find(listener, identifier("STUDY", StudyInstanceUID="", ModalitiesInStudy="SR"))
        assert uids(ct) == ["1.2.3.2"]

    def test_lists_of_uids_accession_and_text_wildcards(self, clinic, listener):
        listed, _ = find(listener, identifier("STUDY", StudyInstanceUID=["1.2.3.1", "1.2.3.4"]))
        assert uids(listed) == ["1.2.3.1", "1.2.3.4"]
        by_accession, _ = find(listener, identifier("STUDY", StudyInstanceUID="", AccessionNumber="A000?"))  # fmt: skip
        assert len(by_accession) == 4
        # Not a person name: matched case-sensitively, as the standard says.
        described, _ = find(listener, identifier("STUDY", StudyInstanceUID="", StudyDescription="ct*"))  # fmt: skip
        assert described == []
        described, _ = find(listener, identifier("STUDY", StudyInstanceUID="", StudyDescription="CT*"))  # fmt: skip
        assert uids(described) == ["1.2.3.2"]

    def test_species_by_description_and_by_code_sequence(self, clinic, listener):
        canine, _ = find(listener, identifier("STUDY", StudyInstanceUID="", PatientSpeciesDescription="Canine"))  # fmt: skip
        assert uids(canine) == ["1.2.3.1", "1.2.3.2"]
        code = Dataset()
        code.CodeValue = "448169003"
        code.CodingSchemeDesignator = "SCT"
        feline, _ = find(listener, identifier("STUDY", StudyInstanceUID="", PatientSpeciesCodeSequence=[code]))  # fmt: skip
        assert uids(feline) == ["1.2.3.3"]
        assert feline[0].PatientSpeciesCodeSequence[0].CodeMeaning == "Felis catus"

    def test_implicit_vr_answers_are_the_same(self, clinic, listener):
        q = identifier("STUDY", StudyInstanceUID="", PatientName="", ModalitiesInStudy="",
                       NumberOfStudyRelatedInstances="")  # fmt: skip
        explicit, _ = find(listener, q)
        implicit, _ = find(listener, q, syntax=ImplicitVRLittleEndian)
        assert len(explicit) == 4
        assert [str(a.PatientName) for a in implicit] == [str(a.PatientName) for a in explicit]
        assert [a.NumberOfStudyRelatedInstances for a in implicit] == [
            a.NumberOfStudyRelatedInstances for a in explicit
        ]


class TestLevels:
    def test_patients_with_their_counts(self, clinic, listener):
        answers, final = find(listener, identifier(
            "PATIENT", PatientID="", PatientName="", NumberOfPatientRelatedStudies="",
            NumberOfPatientRelatedSeries="", NumberOfPatientRelatedInstances="",
        ), model=PATIENT_ROOT)  # fmt: skip
        assert final.Status == Status.SUCCESS
        rex = next(a for a in answers if a.PatientID == "P-1001")
        assert (rex.NumberOfPatientRelatedStudies, rex.NumberOfPatientRelatedSeries,
                rex.NumberOfPatientRelatedInstances) == (2, 3, 6)  # fmt: skip
        assert "StudyInstanceUID" not in rex
        assert len(answers) == 3

    def test_patient_root_down_to_the_images(self, clinic, listener):
        studies, _ = find(listener, identifier("STUDY", PatientID="P-1001", StudyInstanceUID=""),
                          model=PATIENT_ROOT)  # fmt: skip
        assert uids(studies) == ["1.2.3.1", "1.2.3.2"]
        series, _ = find(listener, identifier(
            "SERIES", PatientID="P-1001", StudyInstanceUID="1.2.3.2", SeriesInstanceUID="",
            Modality="", NumberOfSeriesRelatedInstances="", BodyPartExamined="",
        ), model=PATIENT_ROOT)  # fmt: skip
        assert [(s.Modality, s.NumberOfSeriesRelatedInstances) for s in series] == [("CT", 3), ("SR", 1)]  # fmt: skip
        assert series[0].StudyInstanceUID == "1.2.3.2" and series[0].PatientID == "P-1001"
        images, _ = find(listener, identifier(
            "IMAGE", PatientID="P-1001", StudyInstanceUID="1.2.3.2", SeriesInstanceUID="1.2.3.2.1",
            SOPInstanceUID="", SOPClassUID="", InstanceNumber="", Rows="", Columns="",
        ), model=PATIENT_ROOT)  # fmt: skip
        assert [(i.InstanceNumber, i.SOPClassUID) for i in images] == [(n, CT_IMAGE) for n in (1, 2, 3)]  # fmt: skip
        assert (images[0].Rows, images[0].Columns) == (512, 256)

    def test_study_root_series_and_images_by_modality_and_number(self, clinic, listener):
        series, _ = find(listener, identifier("SERIES", StudyInstanceUID="1.2.3.2",
                                              SeriesInstanceUID="", Modality="SR"))  # fmt: skip
        assert uids(series, "SeriesInstanceUID") == ["1.2.3.2.2"]
        images, _ = find(listener, identifier(
            "IMAGE", StudyInstanceUID="1.2.3.2", SeriesInstanceUID="1.2.3.2.1",
            SOPInstanceUID=["1.2.3.2.1.1", "1.2.3.2.1.3"], InstanceNumber="",
        ))  # fmt: skip
        assert uids(images, "SOPInstanceUID") == ["1.2.3.2.1.1", "1.2.3.2.1.3"]

    @pytest.mark.parametrize(
        ("model", "ds", "status", "words"),
        [
            (
                STUDY_ROOT,
                identifier("SERIES", SeriesInstanceUID=""),
                0xA900,
                "StudyInstanceUID is required",
            ),  # fmt: skip
            (
                PATIENT_ROOT,
                identifier("STUDY", StudyInstanceUID=""),
                0xA900,
                "PatientID is required",
            ),  # fmt: skip
            (STUDY_ROOT, identifier("PATIENT", PatientID=""), 0xA900, "not a level of Study Root"),
            (STUDY_ROOT, identifier("SERIES", StudyInstanceUID="1.2.3.*"), 0xC000, "single value"),
            (STUDY_ROOT, identifier("STUDY", StudyDate="tomorrow"), 0xC000, "not a date"),
            (STUDY_ROOT, identifier("STUDY", StudyTime="25"), 0xC000, "not a time"),
            (STUDY_ROOT, identifier("STUDY", StudyInstanceUID="1.2.x"), 0xC000, "not a UID"),
        ],
    )
    def test_wrong_or_missing_keys_are_refused_with_a_reason(self, clinic, listener, model, ds, status, words):  # fmt: skip
        answers, final = find(listener, ds, model=model)
        assert answers == []
        assert final.Status == status
        assert words in final.ErrorComment
        # The listener keeps serving.
        again, final = find(listener, identifier("STUDY", StudyInstanceUID="1.2.3.1"))
        assert uids(again) == ["1.2.3.1"] and final.Status == Status.SUCCESS

    def test_a_query_without_a_level_is_refused(self, clinic, listener):
        ds = Dataset()
        ds.PatientName = "Smith*"
        answers, final = find(listener, ds)
        assert (answers, final.Status) == ([], 0xA900)


def test_a_workstation_cancels_a_long_search_mid_stream(clinic):
    """PS3.7 9.1.2.1.6: after a C-CANCEL the listener stops, answers "cancelled", serves on."""
    Study.objects.bulk_create(
        Study(study_instance_uid=f"1.2.4.{n}", patient=clinic.rex, accession_number=f"B{n}")
        for n in range(600)
    )
    scu = AE(ae_title="WORKSTATION")
    scu.add_requested_context(STUDY_ROOT)
    with running_listener() as (host, port, ae_title):
        assoc = scu.associate(host, port, ae_title=ae_title)
        assert assoc.is_established
        try:
            statuses = []
            q = identifier("STUDY", StudyInstanceUID="", AccessionNumber="")
            for status, _ in assoc.send_c_find(q, STUDY_ROOT, msg_id=7):
                statuses.append(status.Status)
                if len(statuses) == 1:
                    assoc.send_c_cancel(7, query_model=STUDY_ROOT)
            after = [s.Status for s, _ in assoc.send_c_find(
                identifier("STUDY", StudyInstanceUID="1.2.3.3"), STUDY_ROOT, msg_id=8)]  # fmt: skip
        finally:
            assoc.release()
    assert statuses[-1] == Status.CANCEL
    assert set(statuses[:-1]) == {Status.PENDING}
    assert 1 <= len(statuses) - 1 < 604
    assert after == [Status.PENDING, Status.SUCCESS]


def test_answers_take_a_fixed_number_of_database_queries(clinic, django_assert_max_num_queries):
    """No query per answer: the rows, their counts and SOP classes come in batches."""
    Study.objects.bulk_create(
        Study(study_instance_uid=f"1.2.5.{n}", patient=clinic.mimi) for n in range(1200)
    )
    q = identifier("STUDY", StudyInstanceUID="", PatientName="", SOPClassesInStudy="",
                   NumberOfStudyRelatedInstances="", ResponsiblePerson="")  # fmt: skip
    parsed = query.query_parse(q, root=query.STUDY_ROOT)
    with django_assert_max_num_queries(8):
        answers = list(query.query_answers_find(parsed, retrieve_ae_title="VETPORTAL", implicit_vr=False))  # fmt: skip
    assert len(answers) == 1204
    patients = Dataset()
    patients.QueryRetrieveLevel = "PATIENT"
    patients.PatientID = ""
    patients.NumberOfPatientRelatedInstances = ""
    parsed = query.query_parse(patients, root=query.PATIENT_ROOT)
    with django_assert_max_num_queries(2):
        answers = list(query.query_answers_find(parsed, retrieve_ae_title="X", implicit_vr=True))
    assert sorted(a.NumberOfPatientRelatedInstances for a in answers) == [1, 1, 6]


def test_the_listener_offers_both_information_models(clinic):
    scu = AE(ae_title="WORKSTATION")
    scu.requested_contexts = [build_context(PATIENT_ROOT), build_context(STUDY_ROOT)]
    with running_listener() as (host, port, ae_title):
        assoc = scu.associate(host, port, ae_title=ae_title)
        try:
            accepted = sorted(c.abstract_syntax for c in assoc.accepted_contexts)
        finally:
            assoc.release()
    assert accepted == sorted([PATIENT_ROOT, STUDY_ROOT])


@pytest.mark.parametrize(("implicit_vr", "little_endian"), [(False, True), (True, True), (False, False)])  # fmt: skip
def test_the_encoded_answer_is_what_it_says(clinic, implicit_vr, little_endian):
    """The bytes sent as they are decode to the same answer (sequences, numbers, UTF-8)."""
    q = identifier("STUDY", StudyInstanceUID="1.2.3.3", PatientName="", PatientSpeciesCodeSequence=[Dataset()],
                   NumberOfStudyRelatedInstances="", ModalitiesInStudy="", StudyDate="", StudyTime="")  # fmt: skip
    parsed = query.query_parse(q, root=query.STUDY_ROOT)
    (answer,) = query.query_answers_find(
        parsed, retrieve_ae_title="VETPORTAL", implicit_vr=implicit_vr, little_endian=little_endian
    )
    decoded = read_dataset(BytesIO(answer.encoded), implicit_vr, little_endian)
    decoded.set_original_encoding(implicit_vr, little_endian, decoded._character_set)
    assert str(decoded.PatientName) == "Müller^Mimi"
    assert decoded.PatientSpeciesCodeSequence[0].CodeMeaning == "Felis catus"
    assert decoded.NumberOfStudyRelatedInstances == 1
    assert (decoded.StudyDate, decoded.StudyTime, decoded.ModalitiesInStudy) == ("20240120", "164500", "IO")  # fmt: skip
    assert decoded == answer
