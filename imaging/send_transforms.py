"""Changes a send makes to each instance on its way out, registered by the apps that own them.

A share pushed to a consultant's DICOM node may have to be anonymized: `sharing` registers a
transform and names it on the send job (`SendJob.transform`, "name:argument"); the worker
applies it to every data set it sends. Receipt confirmation speaks the destination's UIDs, so
the transform also says what each UID became (`uid`), and receipts map them back.
"""

from collections.abc import Callable
from typing import Protocol

from pydicom import Dataset


class SendTransform(Protocol):
    def dataset(self, ds: Dataset) -> Dataset:
        """The data set as it goes out (changed in place or anew)."""

    def uid(self, value: str) -> str:
        """What a study, series or instance UID becomes at the destination."""


_factories: dict[str, Callable[[str], SendTransform]] = {}


class UnknownTransform(LookupError):
    pass


def send_transform_register(name: str, factory: Callable[[str], SendTransform]) -> None:
    """`factory(argument)` builds the transform for one job (e.g. argument = a share's id)."""
    _factories[name] = factory


def send_transform_for(spec: str) -> SendTransform | None:
    """The transform a job names, or None for a job sending files as stored."""
    if not spec:
        return None
    name, _, argument = spec.partition(":")
    factory = _factories.get(name)
    if factory is None:
        raise UnknownTransform(f"This send needs the {name!r} change, which is not available.")
    return factory(argument)
