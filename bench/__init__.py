"""Benchmarks of the portal on this machine: `python -m bench ingest` (also `make bench`).

They print figures against the targets of the project; they never fail on timing.
"""
