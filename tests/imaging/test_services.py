"""Services registered by higher apps are offered by the listener."""

import pytest
from pydicom import Dataset
from pynetdicom import AE, evt
from pynetdicom.sop_class import (
    ModalityWorklistInformationFind,
    StudyRootQueryRetrieveInformationModelFind,
    Verification,
)

from imaging.dicom import services
from tests.dicom_server import running_listener

pytestmark = pytest.mark.django_db(transaction=True)


def _one_worklist_item(event):
    item = Dataset()
    item.PatientName = "Smith^Rex"
    yield 0xFF00, item


@pytest.fixture
def worklist_service(monkeypatch):
    monkeypatch.setattr(services, "_registry", {})
    services.service_register(
        services.Service(
            name="test-worklist",
            sop_classes=[ModalityWorklistInformationFind],
            handlers=[(evt.EVT_C_FIND, _one_worklist_item)],
        )
    )


def test_a_registered_service_is_negotiated_and_served(worklist_service):
    with running_listener() as (host, port, ae_title):
        scu = AE(ae_title="CONSOLE")
        scu.add_requested_context(ModalityWorklistInformationFind)
        assoc = scu.associate(host, port, ae_title=ae_title)
        assert assoc.is_established
        query = Dataset()
        query.PatientName = "*"
        responses = list(assoc.send_c_find(query, ModalityWorklistInformationFind))
        assoc.release()
    pending = [identifier for status, identifier in responses if status.Status == 0xFF00]
    assert [str(item.PatientName) for item in pending] == ["Smith^Rex"]


def test_without_registration_the_worklist_is_not_offered(monkeypatch):
    monkeypatch.setattr(services, "_registry", {})
    with running_listener() as (host, port, ae_title):
        scu = AE(ae_title="CONSOLE")
        scu.add_requested_context(Verification)
        scu.add_requested_context(ModalityWorklistInformationFind)
        assoc = scu.associate(host, port, ae_title=ae_title)
        assert assoc.is_established  # Verification/storage are still there to negotiate
        assert not [
            c
            for c in assoc.accepted_contexts
            if c.abstract_syntax == ModalityWorklistInformationFind
        ]
        assoc.release()


def test_each_association_gets_its_own_copy_of_the_supported_contexts():
    import copy

    from imaging.dicom import listener

    contexts = listener._SharedContexts(
        listener.build_ae(ae_title="T", max_pdu=0).supported_contexts
    )
    copied = copy.deepcopy(contexts)
    assert len(copied) == len(contexts) > 100
    assert all(a is not b for a, b in zip(copied, contexts, strict=True))
    assert [c.abstract_syntax for c in copied] == [c.abstract_syntax for c in contexts]
    copied[0].scp_role = True  # a change to one association's copy leaves the server's alone
    assert contexts[0].scp_role is None


def _one_study(event):
    item = Dataset()
    item.QueryRetrieveLevel = "STUDY"
    item.StudyInstanceUID = "1.2.3"
    yield 0xFF00, item


def test_two_services_answer_c_find_each_for_its_own_sop_class(worklist_service):
    services.service_register(
        services.Service(
            name="test-study-root",
            sop_classes=[StudyRootQueryRetrieveInformationModelFind],
            handlers=[(evt.EVT_C_FIND, _one_study)],
        )
    )
    with running_listener() as (host, port, ae_title):
        scu = AE(ae_title="WORKSTATION")
        scu.add_requested_context(ModalityWorklistInformationFind)
        scu.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
        assoc = scu.associate(host, port, ae_title=ae_title)
        query = Dataset()
        query.PatientName = "*"
        worklist = list(assoc.send_c_find(query, ModalityWorklistInformationFind))
        query.QueryRetrieveLevel = "STUDY"
        studies = list(assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind))
        assoc.release()
    assert [str(i.PatientName) for s, i in worklist if s.Status == 0xFF00] == ["Smith^Rex"]
    assert [i.StudyInstanceUID for s, i in studies if s.Status == 0xFF00] == ["1.2.3"]
