"""The benchmark's database: SQLite in its temporary data folder, or a scratch PostgreSQL database.

With DATABASE_URL pointing at PostgreSQL the run uses the same server, in a database of its own
created for the run and dropped afterwards, so every run starts empty and nothing the clinic
keeps in the configured database is touched.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit


@contextmanager
def scratch_database(database_url: str | None) -> Iterator[str | None]:
    """Yield the DATABASE_URL for the run (None: SQLite in the data folder)."""
    if not database_url:
        yield None
        return
    parts = urlsplit(database_url)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit(
            f"The benchmark runs on SQLite (DATABASE_URL unset) or PostgreSQL, not {parts.scheme}."
        )
    import psycopg

    name = f"{(parts.path.lstrip('/') or 'portal')[:30]}_bench_{os.getpid()}"
    admin_url = urlunsplit(parts._replace(path="/postgres", query=""))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
