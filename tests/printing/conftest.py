"""A study of Rex as it arrives, and a printer the portal knows (see print_scp.py)."""

import pytest

from printing.models import PrintDestination
from tests.reports.conftest import image, ingest_study, length_annotation, rex, study  # noqa: F401


def printer_for(port: int, **fields) -> PrintDestination:
    values = {
        "name": "Film camera",
        "ae_title": "PRINTSCP",
        "host": "127.0.0.1",
        "port": port,
        "film_sizes": ["8INX10IN", "10INX12IN", "14INX17IN"],
        "default_film_size": "14INX17IN",
    }
    values.update(fields)
    return PrintDestination.objects.create(**values)


@pytest.fixture
def four_views(rex):  # noqa: F811
    views = [(1, "RL", "Thorax R LAT"), (2, "VD", "Thorax VD"), (3, "LL", "Thorax L LAT"),
             (4, "DV", "Thorax DV")]  # fmt: skip
    return ingest_study(views=views)
