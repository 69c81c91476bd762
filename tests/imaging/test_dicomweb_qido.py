"""QIDO-RS through dicomweb-client against the live portal: filters, fields, pages, names."""

import pytest

from tests.imaging.dicomweb_support import client_for, session_for, store_series

pytestmark = pytest.mark.django_db(transaction=True)


def _uids(results, tag="0020000D"):
    return {item[tag]["Value"][0] for item in results}


@pytest.fixture
def clinic_studies():
    """Three animals' studies: Rex's thorax (DX) and abdomen (CT), Mia's heart (US)."""
    rex_thorax = store_series(
        count=2, modality="DX", patient_id="P-1", patient_name="Smith^Rex",
        species="Canine", breed="Labrador Retriever", responsible_person="Smith^John",
        accession="A-100", header={"StudyDate": "20260110"},
    )  # fmt: skip
    rex_ct = store_series(
        count=3, modality="CT", patient_id="P-1", patient_name="Smith^Rex",
        accession="A-101", header={"StudyDate": "20260305"},
    )  # fmt: skip
    mia_us = store_series(
        count=1, modality="US", patient_id="P-2", patient_name="Jones^Mia", species="Feline",
        breed="Maine Coon", responsible_person="Jones^Ann", accession="A-200", frames=3,
        header={"StudyDate": "20260620"},
    )  # fmt: skip
    return {"rex_thorax": rex_thorax, "rex_ct": rex_ct, "mia_us": mia_us}


def test_search_studies_by_patient_and_accession(live_server, vet, clinic_studies):
    client = client_for(live_server, vet)

    everything = client.search_for_studies()
    by_id = client.search_for_studies(search_filters={"PatientID": "P-1"})
    by_accession = client.search_for_studies(search_filters={"AccessionNumber": "A-200"})
    by_tag = client.search_for_studies(search_filters={"00080050": "A-10*"})

    assert len(everything) == 3
    assert _uids(by_id) == {
        clinic_studies["rex_thorax"].study_uid,
        clinic_studies["rex_ct"].study_uid,
    }
    [mia] = by_accession
    assert mia["00100010"]["Value"][0]["Alphabetic"] == "Jones^Mia"
    assert mia["00102201"]["Value"] == ["Feline"]
    assert mia["00102292"]["Value"] == ["Maine Coon"]
    assert mia["00201208"]["Value"] == [1]  # Number of Study Related Instances
    assert mia["00081190"]["Value"][0].endswith(
        f"/dicomweb/studies/{clinic_studies['mia_us'].study_uid}"
    )
    assert len(by_tag) == 2


def test_patient_name_wildcards_and_fuzzy_matching(live_server, vet, clinic_studies):
    client = client_for(live_server, vet)

    exact = client.search_for_studies(search_filters={"PatientName": "Jones^Mia"})
    wildcard = client.search_for_studies(search_filters={"PatientName": "smi*"})
    inner = client.search_for_studies(search_filters={"PatientName": "*^M?a"})
    fuzzy = client.search_for_studies(fuzzymatching=True, search_filters={"PatientName": "rex"})
    not_fuzzy = client.search_for_studies(search_filters={"PatientName": "rex"})

    assert _uids(exact) == {clinic_studies["mia_us"].study_uid}
    assert len(wildcard) == 2
    assert _uids(inner) == {clinic_studies["mia_us"].study_uid}
    assert len(fuzzy) == 2
    assert not_fuzzy == []


def test_study_date_ranges_and_modalities(live_server, vet, clinic_studies):
    client = client_for(live_server, vet)

    spring = client.search_for_studies(search_filters={"StudyDate": "20260301-20260630"})
    before = client.search_for_studies(search_filters={"StudyDate": "-20260301"})
    one_day = client.search_for_studies(search_filters={"StudyDate": "20260305"})
    ct_or_us = client.search_for_studies(search_filters={"ModalitiesInStudy": "CT,US"})
    ct = client.search_for_studies(search_filters={"ModalitiesInStudy": "CT"})

    assert _uids(spring) == {clinic_studies["rex_ct"].study_uid, clinic_studies["mia_us"].study_uid}
    assert _uids(before) == {clinic_studies["rex_thorax"].study_uid}
    assert _uids(one_day) == {clinic_studies["rex_ct"].study_uid}
    assert len(ct_or_us) == 2
    assert _uids(ct) == {clinic_studies["rex_ct"].study_uid}


def test_veterinary_attributes_are_searchable(live_server, vet, clinic_studies):
    client = client_for(live_server, vet)

    cats = client.search_for_studies(search_filters={"PatientSpeciesDescription": "feline"})
    labradors = client.search_for_studies(search_filters={"PatientBreedDescription": "Labrador*"})
    owner = client.search_for_studies(search_filters={"ResponsiblePerson": "Jones*"})

    assert _uids(cats) == {clinic_studies["mia_us"].study_uid}
    assert len(labradors) == 2  # the same animal: its breed is the patient's
    assert _uids(owner) == {clinic_studies["mia_us"].study_uid}


def test_study_instance_uid_lists(live_server, vet, clinic_studies):
    client = client_for(live_server, vet)
    wanted = [clinic_studies["rex_ct"].study_uid, clinic_studies["mia_us"].study_uid]

    found = client.search_for_studies(search_filters={"StudyInstanceUID": wanted})

    assert _uids(found) == set(wanted)


def test_includefield_and_default_fields(live_server, vet, clinic_studies):
    client = client_for(live_server, vet)

    default = client.search_for_studies(search_filters={"AccessionNumber": "A-100"})
    more = client.search_for_studies(
        search_filters={"AccessionNumber": "A-100"}, fields=["InstitutionName", "00100021"]
    )
    everything = client.search_for_studies(
        search_filters={"AccessionNumber": "A-100"}, fields=["all"]
    )

    assert "00080080" not in default[0]  # Institution Name is not returned unless asked
    assert "00080080" in more[0] and "00100021" in more[0]
    assert "00102297" in everything[0] and "00080080" in everything[0]
    assert set(default[0]) < set(everything[0])


def test_limit_and_offset_page_through_results(live_server, vet, clinic_studies):
    client = client_for(live_server, vet)

    first = client.search_for_studies(limit=2)
    rest = client.search_for_studies(limit=2, offset=2)

    assert len(first) == 2 and len(rest) == 1
    assert _uids(first) | _uids(rest) == {s.study_uid for s in clinic_studies.values()}


def test_search_series_and_instances(live_server, vet, clinic_studies):
    client = client_for(live_server, vet)
    rex_ct = clinic_studies["rex_ct"]

    series_in_study = client.search_for_series(rex_ct.study_uid)
    ct_series = client.search_for_series(search_filters={"Modality": "CT"})
    by_series_uid = client.search_for_series(
        search_filters={"SeriesInstanceUID": rex_ct.series_uid}
    )
    instances = client.search_for_instances(rex_ct.study_uid, rex_ct.series_uid)
    in_study = client.search_for_instances(rex_ct.study_uid)
    one = client.search_for_instances(search_filters={"SOPInstanceUID": rex_ct.sop_uids[1]})
    numbered = client.search_for_instances(
        rex_ct.study_uid, rex_ct.series_uid, search_filters={"InstanceNumber": "3"}
    )
    us = client.search_for_instances(search_filters={"Modality": "US"})

    assert _uids(series_in_study, "0020000E") == {rex_ct.series_uid}
    assert series_in_study[0]["00201209"]["Value"] == [3]  # instances in the series
    assert _uids(ct_series, "0020000E") == {rex_ct.series_uid}
    assert len(by_series_uid) == 1
    assert [i["00200013"]["Value"][0] for i in instances] == [1, 2, 3]
    assert _uids(in_study, "00080018") == set(rex_ct.sop_uids)
    assert _uids(one, "00080018") == {rex_ct.sop_uids[1]}
    assert _uids(numbered, "00080018") == {rex_ct.sop_uids[2]}
    [cine] = us
    assert cine["00280008"]["Value"] == [3]  # Number of Frames


@pytest.mark.parametrize(
    ("query", "complaint"),
    [
        ("NoSuchAttribute=1", "NoSuchAttribute"),
        ("PatientName=Rex&PatientName=Mia", "more than once"),
        ("StudyDate=2026-13-45", "not a date"),
        ("limit=ten", "limit"),
        ("fuzzymatching=maybe", "fuzzymatching"),
        ("includefield=Nonsense", "includefield"),
        ("SOPInstanceUID=1.2.3", "cannot be searched on at the study level"),
        ("StudyInstanceUID=not-a-uid", "not a UID"),
    ],
)
def test_bad_query_parameters_are_answered_400(live_server, vet, query, complaint):
    response = session_for(vet).get(f"{live_server.url}/dicomweb/studies?{query}")

    assert response.status_code == 400
    assert complaint in response.json()["detail"]
