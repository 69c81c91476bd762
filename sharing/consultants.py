"""The directory of outside specialists."""

from __future__ import annotations

from sharing.models import Consultant

_FIELDS = ("name", "practice", "specialty", "email", "phone", "destination", "active")


def consultant_create(**fields) -> Consultant:
    consultant = Consultant(**{k: v for k, v in fields.items() if k in _FIELDS})
    consultant.full_clean()
    consultant.save()
    return consultant


def consultant_update(*, consultant: Consultant, **fields) -> Consultant:
    for name, value in fields.items():
        if name in _FIELDS:
            setattr(consultant, name, value)
    consultant.full_clean()
    consultant.save()
    return consultant
