"""Starting, watching and stopping the processes a benchmark runs.

Every process is started in its own session, so stopping it also stops the children it forked
(gunicorn and Celery workers); `Processes` stops all of them on exit, errors and Ctrl-C included.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ProcessFailed(RuntimeError):
    """A process of the benchmark exited or never became ready; the message has its log tail."""


class Process:
    """One started process, its log file, and its memory figures from /proc."""

    def __init__(
        self, name: str, argv: Sequence[str], *, env: dict[str, str], cwd: Path, log: Path
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self._log_file = log.open("ab")
        self.popen = subprocess.Popen(
            self.argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join("    " + line for line in text[-lines:])

    def fail(self, reason: str) -> ProcessFailed:
        return ProcessFailed(
            f"{self.name}: {reason}\n  {' '.join(self.argv)}\n  log {self.log}:\n{self.log_tail()}"
        )

    def wait_for_port(self, port: int, *, timeout: float = 90.0) -> None:
        """Return once `port` accepts connections; fail if the process exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise self.fail(
                    f"exited with status {self.popen.returncode} before port {port} accepted"
                )
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise self.fail(f"port {port} did not accept connections within {timeout:.0f} s")

    def tree(self) -> list[int]:
        """This process and all its descendants."""
        found, pending = [], [self.pid]
        while pending:
            pid = pending.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                try:
                    pending.extend(int(child) for child in task.read_text().split())
                except OSError:
                    pass
        return found

    def memory_kib(self, field: str = "VmHWM") -> int:
        """`field` of /proc/<pid>/status in KiB, largest over the process tree (0 if gone)."""
        return max((_status_kib(pid, field) for pid in self.tree()), default=0)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process, all its threads (not its children)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return 0.0
        # proc(5): utime and stime are fields 14 and 15, i.e. 11 and 12 after "(comm) state".
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to the process's session, SIGKILL if it lingers."""
        if self.alive():
            self._signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.popen.wait(5)
        self._signal(signal.SIGKILL)  # children that outlived their parent, if any
        self._log_file.close()

    def _signal(self, signum: int) -> None:
        try:
            os.killpg(self.pid, signum)  # the session we created: this process and its children
        except (ProcessLookupError, PermissionError):
            pass


def _status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class Processes:
    """Everything a run started; `with Processes(...) as procs:` stops them all on the way out."""

    def __init__(self, log_dir: Path, env: dict[str, str], cwd: Path) -> None:
        self.log_dir = log_dir
        self.env = env
        self.cwd = cwd
        self._started: list[Process] = []

    def start(
        self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None
    ) -> Process:
        process = Process(
            name, argv, env=env or self.env, cwd=self.cwd, log=self.log_dir / f"{name}.log"
        )
        self._started.append(process)
        return process

    def run(self, name: str, argv: Sequence[str], *, timeout: float = 600) -> None:
        """Run a command to completion (output to its log); fail with the log tail on error."""
        process = self.start(name, argv)
        try:
            status = process.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise process.fail(f"did not finish within {timeout:.0f} s") from None
        finally:
            self.stop(process)
        if status != 0:
            raise process.fail(f"exited with status {status}")

    def stop(self, process: Process) -> None:
        process.stop()
        if process in self._started:
            self._started.remove(process)

    def stop_all(self) -> None:
        for process in reversed(self._started):
            process.stop()
        self._started.clear()

    def __enter__(self) -> Processes:
        # SIGTERM (e.g. from `timeout` or a CI runner) unwinds like Ctrl-C, so cleanup runs.
        self._previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.stop_all()
        finally:
            signal.signal(signal.SIGTERM, self._previous)


def _raise_keyboard_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
