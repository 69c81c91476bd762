import pytest
from django.core.exceptions import ImproperlyConfigured

from clinic.env import env_ae_title, env_bool, env_int


def test_bad_boolean_names_the_variable(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG"):
        env_bool("DEBUG")


def test_port_out_of_range_is_refused(monkeypatch):
    monkeypatch.setenv("DICOM_PORT", "70000")
    with pytest.raises(ImproperlyConfigured, match="DICOM_PORT"):
        env_int("DICOM_PORT", 11112, minimum=1, maximum=65535)


def test_ae_title_longer_than_16_is_refused(monkeypatch):
    monkeypatch.setenv("DICOM_AE_TITLE", "A" * 17)
    with pytest.raises(ImproperlyConfigured, match="AE title"):
        env_ae_title("DICOM_AE_TITLE", "VETPORTAL")


def test_secret_from_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("PORT_FILE", str(secret))
    from clinic.env import env_str

    assert env_str("PORT") == "from-a-file"
