"""Shared fixtures: people in each role, a clean storage folder, and real-peer requirements."""

import os
import shutil
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User

from clinic import roles

# CI sets PORTAL_REQUIRE_PEERS=1: a test that would skip for a missing DCMTK, Orthanc, Chromium
# or Redis fails instead, so "green" always means the real peers were exercised.
REQUIRE_PEERS = os.environ.get("PORTAL_REQUIRE_PEERS", "") == "1"


def require(condition: bool, reason: str) -> None:
    """Skip (or, under PORTAL_REQUIRE_PEERS=1, fail) when a real peer is unavailable."""
    if condition:
        return
    if REQUIRE_PEERS:
        pytest.fail(f"required peer unavailable: {reason}")
    pytest.skip(reason)


def require_executable(name: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"{name} is not installed")
    return path


@pytest.fixture(autouse=True)
def _isolated_storage(settings, tmp_path):
    """Every test stores DICOM and thumbnails in its own folder."""
    location = tmp_path / "files"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(location)},
        },
    }
    settings.DICOM_MIN_FREE_BYTES = 0
    # Password hashing is deliberately slow; tests create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    yield location


def _person(username: str, role: str | None) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username)
    if role:
        roles.roles_sync()
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def front_desk(db):
    return _person("frontdesk", roles.FRONT_DESK)


@pytest.fixture
def tech(db):
    return _person("tech", roles.TECHNICIAN)


@pytest.fixture
def vet(db):
    return _person("vet", roles.VETERINARIAN)


@pytest.fixture
def administrator(db):
    return _person("administrator", roles.ADMINISTRATOR)


@pytest.fixture
def outsider(db):
    """Logged in, but in no role: sees nothing of the clinic."""
    return _person("outsider", None)


@pytest.fixture
def dicom_dir(tmp_path) -> Path:
    path = tmp_path / "dicom-in"
    path.mkdir()
    return path
