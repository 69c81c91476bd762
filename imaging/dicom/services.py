"""DICOM services that higher apps add to the portal's listener.

The listener lives in `imaging`, but the Modality Worklist and MPPS belong to `worklist` and
storage commitment reports to sends: those apps register their SOP classes and handlers
here from their `AppConfig.ready()`, and the listener offers whatever is registered. This
keeps the dependency arrow pointing down (DESIGN.md).
"""

from dataclasses import dataclass, field

from pydicom import uid

DEFAULT_TRANSFER_SYNTAXES = [uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian]


@dataclass(frozen=True)
class Service:
    """SOP classes to accept (as SCP, or as SCU for role-reversed N-EVENT-REPORT) and the
    event handlers that serve them: `(evt.EVT_X, handler)` or `(evt.EVT_X, handler, [args])`."""

    name: str
    sop_classes: list[str]
    handlers: list[tuple]
    transfer_syntaxes: list[str] = field(default_factory=lambda: list(DEFAULT_TRANSFER_SYNTAXES))
    # Accept the SCU role for these SOP classes too (e.g. Storage Commitment reports sent
    # to the portal by a destination on an association the destination opens).
    scu_role: bool = False


_registry: dict[str, Service] = {}


def service_register(service: Service) -> None:
    """Add (or replace, by name) a service the listener offers."""
    _registry[service.name] = service


def registered_services() -> list[Service]:
    return list(_registry.values())
