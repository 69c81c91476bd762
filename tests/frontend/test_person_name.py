import pytest

from frontend.templatetags.portal import person_name


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Vet^Anna", "Anna Vet"),
        ("Vet^Anna^^Dr", "Dr Anna Vet"),
        ("Müller^Jens^Peter", "Jens Peter Müller"),
        ("Dr Smith", "Dr Smith"),
        ("", ""),
    ],
)
def test_dicom_person_names_read_as_people_write_them(raw, shown):
    assert person_name(raw) == shown
