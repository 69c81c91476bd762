"""Email settings come from the environment: console by default, named backends, bad values
stop the process with a message naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _settings(tmp_path, **env) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PORTAL_DATA_DIR": str(tmp_path), **env}
    for name in ("EMAIL_BACKEND", "DEFAULT_FROM_EMAIL", "PORTAL_CLINIC_EMAIL"):
        if name not in env:
            environment.pop(name, None)
    code = "import clinic.settings as s; print(s.EMAIL_BACKEND); print(s.DEFAULT_FROM_EMAIL)"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True
    )


def test_console_by_default_and_the_sender_from_the_clinic(tmp_path):
    result = _settings(tmp_path, PORTAL_CLINIC_EMAIL="imaging@riverside.example")
    assert result.returncode == 0, result.stderr
    backend, sender = result.stdout.split()
    assert backend == "django.core.mail.backends.console.EmailBackend"
    assert sender == "imaging@riverside.example"


def test_smtp_by_name(tmp_path):
    result = _settings(tmp_path, EMAIL_BACKEND="smtp", DEFAULT_FROM_EMAIL="x@clinic.example")
    assert result.stdout.split() == [
        "django.core.mail.backends.smtp.EmailBackend",
        "x@clinic.example",
    ]


@pytest.mark.parametrize(
    ("env", "named"),
    [({"EMAIL_BACKEND": "pigeon"}, "EMAIL_BACKEND"), ({"EMAIL_PORT": "0"}, "EMAIL_PORT"),
     ({"EMAIL_USE_TLS": "1", "EMAIL_USE_SSL": "1"}, "EMAIL_USE_TLS")],
)  # fmt: skip
def test_bad_values_name_the_variable(tmp_path, env, named):
    result = _settings(tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and named in result.stderr
