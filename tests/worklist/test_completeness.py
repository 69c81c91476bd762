"""Which expected views of a booked procedure arrived: "2 of 3 views: Ventrodorsal missing"."""

import pytest
from pydicom.uid import generate_uid

from imaging.ingest import instance_receive_dataset
from imaging.models import Series
from imaging.synthetic import make_dataset
from tests.worklist import booking
from worklist.completeness import order_completeness, study_completeness
from worklist.matching import study_order_match
from worklist.models import Order

pytestmark = pytest.mark.django_db


def _series(**fields) -> Series:
    return Series(
        **{"view_position": "", "description": "", "protocol_name": "", **fields},
    )


def test_views_are_found_by_view_position_description_or_protocol():
    views = booking.procedure("THX3").views.all()
    found = study_completeness(
        views=views,
        series=[
            _series(view_position="RL"),
            _series(description="Thorax Lt Lat"),
        ],
    )
    assert str(found) == "2 of 3 views: Ventrodorsal missing"
    found = study_completeness(
        views=views,
        series=[
            _series(view_position="RL"),
            _series(protocol_name="THORAX L LAT"),
            _series(description="Chest VD"),
        ],
    )
    assert str(found) == "3 of 3 views" and found.complete


def test_one_view_taken_twice_counts_once_and_words_match_whole():
    views = booking.procedure("THX3").views.all()
    # "Thorax R LAT" contains "r lat" but not the word sequence "l lat".
    found = study_completeness(
        views=views,
        series=[_series(description="Thorax R LAT"), _series(description="Thorax R LAT")],
    )
    assert found.arrived == ["Right lateral"]
    assert found.missing == ["Left lateral", "Ventrodorsal"]


def test_a_procedure_without_expected_views_has_no_completeness():
    views = booking.procedure("THX3").views.none()
    assert study_completeness(views=views, series=[_series(view_position="RL")]) is None


def test_completeness_follows_the_series_as_they_arrive():
    rex = booking.patient()
    order = booking.book(patient=rex)
    series_fields = [("RL", "Thorax R LAT"), ("LL", "Thorax L LAT"), ("VD", "Thorax VD")]
    seen = []
    for number, (position, description) in enumerate(series_fields, 1):
        dataset = make_dataset(
            study_uid=order.study_instance_uid,
            series_uid=generate_uid(),
            series_number=number,
            view_position=position,
            series_description=description,
            patient_id="P-100",
        )
        study = instance_receive_dataset(dataset=dataset).instance.series.study
        study_order_match(study_id=study.pk)
        seen.append(str(order_completeness(Order.objects.get(pk=order.pk))))
    assert seen == [
        "1 of 3 views: Left lateral, Ventrodorsal missing",
        "2 of 3 views: Ventrodorsal missing",
        "3 of 3 views",
    ]


def test_an_order_not_yet_arrived_has_no_completeness():
    order = booking.book(patient=booking.patient())
    assert order_completeness(order) is None
