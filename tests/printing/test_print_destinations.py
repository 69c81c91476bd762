"""Printers as DICOM nodes: the address rules they share with destinations, and how the
network code reaches them."""

import pytest
from django.core.exceptions import ValidationError

from imaging.dicom import scu
from printing import jobs
from printing.models import PrintDestination
from tests.printing.conftest import printer_for

pytestmark = pytest.mark.django_db


def test_a_port_out_of_range_and_a_backslash_in_the_ae_title_are_refused():
    printer = PrintDestination(
        name="Film camera", ae_title="PRINT\\SCP", host="10.0.0.9", port=0,
        film_sizes=["14INX17IN"], default_film_size="14INX17IN",
    )  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        jobs.print_destination_validate(printer)
    assert caught.value.message_dict == {
        "port": ["The port must be between 1 and 65535."],
        "ae_title": ["An AE title cannot contain backslashes or control characters."],
    }


def test_a_tls_printer_is_reached_with_its_address_and_certificates():
    printer = printer_for(
        2762, host="printer.example.org", tls=True, tls_ca_file="/etc/portal/ca.pem",
        tls_cert_file="/etc/portal/portal.crt", tls_key_file="/etc/portal/portal.key",
    )  # fmt: skip
    target = jobs.print_destination_target(PrintDestination.objects.get(pk=printer.pk))
    assert target.peer == scu.Peer(
        ae_title="PRINTSCP", host="printer.example.org", port=2762, tls=True,
        tls_ca_file="/etc/portal/ca.pem", tls_cert_file="/etc/portal/portal.crt",
        tls_key_file="/etc/portal/portal.key",
    )  # fmt: skip
    assert target.name == "Film camera"
    assert target.film_sizes == ("8INX10IN", "10INX12IN", "14INX17IN")
    assert str(printer) == "Film camera (PRINTSCP@printer.example.org:2762)"
