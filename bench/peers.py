"""Reference receivers for the same send: Orthanc (the target to match) and DCMTK storescp.

Both get TCP_NODELAY=1: Debian's DCMTK (which Orthanc links) leaves Nagle's algorithm on
otherwise, which costs about 40 ms per instance and would make any comparison meaningless.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

from bench.processes import Process, Processes, free_port

ORTHANC = "/usr/sbin/Orthanc"
ORTHANC_AE_TITLE = "ORTHANC"


def orthanc_available() -> bool:
    return Path(ORTHANC).exists() or shutil.which("Orthanc") is not None


def orthanc_version() -> str:
    executable = ORTHANC if Path(ORTHANC).exists() else "Orthanc"
    try:
        out = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except OSError:
        return "Orthanc"
    return out.splitlines()[0].strip() if out else "Orthanc"


class Orthanc:
    """Orthanc with a throw-away storage, fsync on (SyncStorageArea), no plugins, loopback only."""

    def __init__(self, procs: Processes, work_dir: Path, extra_config: dict | None = None) -> None:
        self.dicom_port = free_port()
        self.http_port = free_port()
        storage = work_dir / "orthanc-storage"
        storage.mkdir(parents=True)
        config = {
            "Name": "bench",
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "DicomAet": ORTHANC_AE_TITLE,
            "DicomPort": self.dicom_port,
            "HttpPort": self.http_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "Plugins": [],
            # Acknowledge a C-STORE only once the file is fsync'ed: the promise the portal makes.
            "SyncStorageArea": True,
            "StorageCompression": False,
        }
        config.update(extra_config or {})  # e.g. DicomModalities, DicomCheckCalledAet in tests
        config_path = work_dir / "orthanc.json"
        config_path.write_text(json.dumps(config, indent=2))
        executable = ORTHANC if Path(ORTHANC).exists() else "Orthanc"
        self.process: Process = procs.start(
            "orthanc", [executable, str(config_path)], env=dcmtk_env(procs.env)
        )
        wait_for_echo(self.process, self.dicom_port, ORTHANC_AE_TITLE)
        self.process.wait_for_port(self.http_port)

    def instance_count(self) -> int:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.http_port}/statistics", timeout=10
        ) as response:
            return int(json.load(response)["CountInstances"])


def start_storescp(procs: Processes, work_dir: Path) -> tuple[Process, int]:
    """DCMTK's storescp writing what it receives to a temporary folder: an upper bound."""
    port = free_port()
    out = work_dir / "storescp-out"
    out.mkdir(parents=True)
    process = procs.start(
        "storescp", ["storescp", "-od", str(out), str(port)], env=dcmtk_env(procs.env)
    )
    wait_for_echo(process, port, "STORESCP")
    return process, port


def dcmtk_env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "TCP_NODELAY": "1"}


def wait_for_echo(process: Process, port: int, called_ae: str, *, timeout: float = 90.0) -> None:
    """Return once the receiver answers a C-ECHO: it is up, and warmed up as in daily use.

    A C-ECHO rather than a bare TCP connect, which a DICOM server may hold open as an
    association that never started.
    """
    deadline = time.monotonic() + timeout
    argv = ["echoscu", "-to", "5", "-aec", called_ae, "127.0.0.1", str(port)]
    while time.monotonic() < deadline:
        if not process.alive():
            raise process.fail(f"exited with status {process.popen.returncode} during start-up")
        env = dcmtk_env(dict(os.environ))
        if subprocess.run(argv, env=env, capture_output=True, timeout=60).returncode == 0:
            return
        time.sleep(0.2)
    raise process.fail(f"no C-ECHO answer on port {port} within {timeout:.0f} s")


def storescu_send(
    procs: Processes, directory: Path, port: int, called_ae: str, *, tag: str
) -> tuple[float, float]:
    """Send every file under `directory` over one association; (started, released) wall-clock times.

    `-R` proposes only the SOP classes found in the files (by default storescu proposes 128
    presentation contexts for every storage class it knows).
    """
    argv = [
        "storescu",
        "-R",
        "-aet",
        "BENCHSCU",
        "-aec",
        called_ae,
        "+sd",
        "+r",
        "127.0.0.1",
        str(port),
        str(directory),
    ]
    started = time.time()
    process = procs.start(f"storescu-{tag}", argv, env=dcmtk_env(procs.env))
    try:
        status = process.popen.wait(1800)
    except subprocess.TimeoutExpired:
        raise process.fail("did not finish within 30 minutes") from None
    released = time.time()
    procs.stop(process)
    if status != 0 or "E:" in process.log.read_text(errors="replace"):
        raise process.fail(f"send failed (exit status {status})")
    return started, released
