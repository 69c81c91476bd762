"""The ingest benchmark's table: figures per data set, the targets, and whether each is met."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bench.data import DataSet
from bench.ingest import FLAT_GROWTH_KIB, Figures

Results = dict[
    str, dict[str, Figures]
]  # receiver ("portal", "orthanc", "storescp") -> data set -> figures
FLAT_MIB = FLAT_GROWTH_KIB // 1024


def render(results: Results, datasets: list[DataSet], *, context: list[str]) -> str:
    portal, orthanc, storescp = (results.get(k, {}) for k in ("portal", "orthanc", "storescp"))
    names = [d.name for d in datasets]
    rows: list[list[str]] = [["", *[d.label for d in datasets], "target"]]

    def row(
        label: str, source: dict[str, Figures], cell: Callable[[Figures], str], target: str = ""
    ):
        if source:
            rows.append([label, *[cell(source[n]) if n in source else "—" for n in names], target])

    def ratio(name: str) -> float | None:
        ours, theirs = portal.get(name), orthanc.get(name)
        return ours.rate / theirs.rate if ours and theirs and ours.rate and theirs.rate else None

    row("portal: instances/s, stored + indexed", portal, lambda f: _number(f.rate))
    row("Orthanc: instances/s, stored + indexed", orthanc, lambda f: _number(f.rate))
    row("DCMTK storescp: instances/s (reference)", storescp, lambda f: _number(f.rate))
    if portal and orthanc:
        rows.append(["ratio portal / Orthanc", *[_number(ratio(n), 2) for n in names], ">= 1.0"])
    row(
        "complete in the API after release",
        portal,
        lambda f: _seconds(f.complete_after_release),
        "<= 1 s",
    )
    row(
        "first thumbnail after first instance",
        portal,
        lambda f: _seconds(f.first_thumbnail),
        "<= 2 s",
    )
    row("all thumbnails after release", portal, lambda f: _seconds(f.thumbnails_after_release))
    row("listener peak memory (VmHWM)", portal, lambda f: _mib(f.listener_hwm_kib))
    row(
        "listener growth, 10 % → 100 % of instances",
        portal,
        lambda f: (
            "—" if f.listener_growth_kib is None else f"{f.listener_growth_kib / 1024:+,.0f} MiB"
        ),
        f"< {FLAT_MIB} MiB (CT)",
    )
    row(
        "worker peak memory (VmHWM, largest process)",
        portal,
        lambda f: _mib(f.worker_hwm_kib) if f.worker_hwm_kib else "in listener",
    )
    row("Orthanc peak memory (VmHWM)", orthanc, lambda f: _mib(f.peer_hwm_kib))
    # Where the time goes: CPU-bound (CPU ≈ send time) or waiting on disk and network.
    row("listener CPU time / send time", portal, _cpu_share)
    row("Orthanc CPU time / send time", orthanc, _cpu_share)

    lines = [*context, "", *_table(rows)]
    verdicts: list[tuple[str, bool | None]] = []
    if portal and orthanc:
        ok = _all(None if r is None else r >= 1.0 for r in map(ratio, names))
        verdicts.append(("indexed ingest at least as fast as Orthanc (ratio >= 1.0)", ok))
    if portal:
        figures = [portal[n] for n in names if n in portal]
        ok = _all(_within(f.complete_after_release, 1.0) for f in figures)
        verdicts.append(("study complete in the API within 1 s of release", ok))
        ok = _all(_within(f.first_thumbnail, 2.0) for f in figures)
        verdicts.append(("first thumbnail within 2 s of the first instance", ok))
        growth = portal["ct"].listener_growth_kib if "ct" in portal else None
        ok = None if growth is None else growth < FLAT_GROWTH_KIB
        verdicts.append((f"listener memory flat (grows < {FLAT_MIB} MiB over the CT)", ok))
    if verdicts:
        verdict_words = {True: "met", False: "NOT met", None: "n/a"}
        lines += ["", "Targets:", *[f"  {verdict_words[ok]:8} {text}" for text, ok in verdicts]]
    lines += _problems(results)
    sources = {f.complete_source for f in portal.values() if f.complete_source} - {"REST API"}
    if sources:
        lines += ["", f"Note: 'complete' was read from the {', '.join(sorted(sources))}."]
    return "\n".join(lines)


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for index, cells in enumerate(rows):
        padded = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        lines.append("  ".join(padded).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def _problems(results: Results) -> list[str]:
    lines = []
    for who, per_dataset in results.items():
        for name, figures in per_dataset.items():
            if figures.thumbnails_failed:
                lines.append(
                    f"  {who} / {name}: {figures.thumbnails_failed} thumbnails could not be rendered"
                )
            if figures.error:
                lines.append(f"  {who} / {name}: {figures.error}")
    return ["", "Problems:", *lines] if lines else []


def _cpu_share(figures: Figures) -> str:
    if figures.cpu_seconds is None or not figures.send_seconds:
        return "—"
    return f"{figures.cpu_seconds:.1f} s / {figures.send_seconds:.1f} s"


def _number(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f} s"


def _mib(kib: int) -> str:
    return f"{kib / 1024:,.0f} MiB" if kib else "—"


def _within(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def _all(values: Iterable[bool | None]) -> bool | None:
    """True if every value is True, None if any is unknown (or there are none)."""
    values = list(values)
    if not values or any(v is None for v in values):
        return None
    return all(values)
