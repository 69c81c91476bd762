"""Printing to DCMTK's print SCP (dcmprscp), a real film printer's stand-in: it keeps each
printed film as a Stored Print object with its Hardcopy Grayscale images, which the test reads."""

import socket
import subprocess
from pathlib import Path

import pydicom
import pytest

from bench.processes import free_port
from imaging.models import Instance
from printing import jobs
from printing.jobs import ImageChoice
from printing.models import PrintState
from tests.conftest import require_executable
from tests.printing.conftest import printer_for
from tests.send_peers import wait_for

pytestmark = [pytest.mark.peer, pytest.mark.django_db]

# A LOCALPRINTER entry of dcmpstat.cfg (see /etc/dcmtk/dcmpstat.cfg for every setting).
CONFIG = """[[GENERAL]]
[DATABASE]
Directory = {folder}/db
[PRINT]
Directory = {folder}/spool
DetailedLog = false
BinaryLog = false
[LUT]
Directory = /usr/share/dcmtk
[[COMMUNICATION]]
[PORTALTEST]
Aetitle = DCMPRSCP
Description = A film camera for the portal's tests
Hostname = localhost
Port = {port}
Type = LOCALPRINTER
DisplayFormat = 1,1\\1,2\\2,1\\2,2\\2,3\\3,3
FilmDestination = MAGAZINE\\PROCESSOR
FilmSizeID = 8INX10IN\\10INX12IN\\14INX17IN
MagnificationType = REPLICATE\\BILINEAR\\CUBIC\\NONE
MediumType = PAPER\\CLEAR FILM\\BLUE FILM
MaxDensity = 320
MinDensity = 20
MaxPDU = 32768
Supports12Bit = true
ImplicitOnly = false
DisableNewVRs = false
"""


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def dcmprscp(tmp_path: Path):
    """dcmprscp on a free port; yields (port, database folder)."""
    executable = require_executable("dcmprscp")
    port = free_port()
    (tmp_path / "db").mkdir()
    (tmp_path / "spool").mkdir()
    config = tmp_path / "dcmpstat.cfg"
    config.write_text(CONFIG.format(folder=tmp_path, port=port))
    log = tmp_path / "dcmprscp.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [executable, "-c", str(config), "-p", "PORTALTEST", "-v"], stdout=out, stderr=out
        )
    try:
        wait_for(lambda: _listening(port), timeout=30, what=log.read_text)
        yield port, tmp_path / "db"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_dcmprscp_prints_a_2x2_film(dcmprscp, four_views, tech):
    port, database = dcmprscp
    printer = printer_for(port, name="DCMTK camera", ae_title="DCMPRSCP")
    instances = Instance.objects.filter(series__study=four_views).order_by("series__series_number")
    job = jobs.print_job_create(
        study=four_views, destination=printer, layout="STANDARD\\2,2", film_size="10INX12IN",
        images=[ImageChoice(i.sop_instance_uid, 1) for i in instances[:3]], annotations=False,
        user=tech,
    )  # fmt: skip
    jobs.print_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == PrintState.DONE, job.error
    assert (job.films, job.printer_status) == (1, "NORMAL")

    (stored_print,) = [pydicom.dcmread(p) for p in database.glob("SP_*.dcm")]
    film_box = stored_print.FilmBoxContentSequence[0]
    assert film_box.ImageDisplayFormat == "STANDARD\\2,2"
    assert (film_box.FilmSizeID, film_box.FilmOrientation) == ("10INX12IN", "PORTRAIT")
    assert film_box.MagnificationType == "CUBIC"
    assert len(stored_print.ImageBoxContentSequence) == 3
    images = [pydicom.dcmread(p) for p in database.glob("HG_*.dcm")]
    assert len(images) == 3
    assert {(i.Rows, i.Columns, i.BitsStored) for i in images} == {(128, 128, 8)}
