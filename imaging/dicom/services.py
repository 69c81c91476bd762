"""DICOM services that higher apps add to the portal's listener.

The listener lives in `imaging`, but the Modality Worklist and MPPS belong to `worklist` and
storage commitment reports to sends: those apps register their SOP classes and handlers
here from their `AppConfig.ready()`, and the listener offers whatever is registered. This
keeps the dependency arrow pointing down (DESIGN.md).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from pydicom import uid
from pynetdicom import evt

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


# Events pynetdicom gives one handler per association, which several services may serve for
# their own SOP classes (the worklist and Query/Retrieve both answer C-FIND).
DISPATCHED_BY_SOP_CLASS = (evt.EVT_C_FIND, evt.EVT_C_GET, evt.EVT_C_MOVE)
# PS3.7 C.5: the request names a SOP class no registered service answers.
SOP_CLASS_NOT_SUPPORTED = 0x0122


def registered_handlers() -> list[tuple]:
    """Every registered service's handlers, those of the shared events behind one dispatcher."""
    bound: list[tuple] = []
    served: dict = {event: {} for event in DISPATCHED_BY_SOP_CLASS}
    for service in registered_services():
        for handler in service.handlers:
            event, function = handler[0], handler[1]
            args = list(handler[2]) if len(handler) > 2 else []
            if event not in served:
                bound.append(handler)
                continue
            for sop_class in service.sop_classes:
                served[event][sop_class] = (function, args)
    for event, by_sop_class in served.items():
        if by_sop_class:
            bound.append((event, _dispatcher(by_sop_class)))
    return bound


def _dispatcher(by_sop_class: dict[str, tuple[Callable, list]]) -> Callable:
    def dispatch(event):
        found = by_sop_class.get(event.request.AffectedSOPClassUID)
        if found is None:
            yield SOP_CLASS_NOT_SUPPORTED, None
            return
        function, args = found
        yield from function(event, *args)

    return dispatch
