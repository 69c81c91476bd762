"""DICOM destinations: adding them and testing the connection the way a clinic needs."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError

from imaging.dicom import scu
from imaging.models import Destination, DestinationKind


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str
    seconds: float | None = None


def destination_create(
    *,
    name: str,
    ae_title: str,
    host: str,
    port: int,
    kind: str = DestinationKind.PACS,
    storage_commitment: bool = False,
    query_retrieve: bool = False,
    max_associations: int = 2,
) -> Destination:
    """Add a destination after checking its fields (AE title: PS3.5 6.2, at most 16 characters)."""
    destination = Destination(
        name=name.strip(),
        ae_title=ae_title.strip(),
        host=host.strip(),
        port=port,
        kind=kind,
        storage_commitment=storage_commitment,
        query_retrieve=query_retrieve,
        max_associations=max_associations,
    )
    destination_validate(destination)
    destination.save()
    return destination


def destination_validate(destination: Destination) -> None:
    """Raise ValidationError with clinic-readable messages for a destination that cannot work."""
    destination.full_clean()
    errors = destination.address_errors()
    if destination.max_associations < 1:
        errors["max_associations"] = "Allow at least one connection at a time."
    if errors:
        raise ValidationError(errors)


def destination_test_connection(*, destination: Destination) -> ConnectionCheck:
    """C-ECHO the destination and say in words what works or what to fix."""
    try:
        seconds = scu.echo(destination.peer())
    except scu.TransportError as exc:
        return ConnectionCheck(ok=False, message=str(exc))
    return ConnectionCheck(
        ok=True,
        message=f"{destination.name} answered in {seconds * 1000:.0f} ms: the connection works.",
        seconds=seconds,
    )
