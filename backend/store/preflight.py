"""The schema migrated before a server starts, by the entry points that can do it (`backend.main`,
gunicorn's master), so that a table our migrations did not make stops the process with one line.

Raised later, in the app's lifespan, the same SchemaError reaches the operator inside a traceback
(uvicorn and Starlette log the lifespan's failure with it), and under gunicorn a worker that cannot
start is only replaced by another. The lifespan still migrates: after this, it finds nothing to do.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from backend.store.schema import stop_on_schema_error
from backend.store.search_cache import SearchCache


def migrate_before_start(database_url: str) -> None:
    """Brings the database at `database_url` to this release's schema; a foreign table ends the process
    with one line on stderr and exit status 2, the table untouched."""
    with stop_on_schema_error(), ThreadPoolExecutor(1, thread_name_prefix="migrate") as pool:
        # A thread with an event loop of its own: the caller may be inside a running one
        # (uvicorn --reload imports the app from within its loop).
        pool.submit(asyncio.run, _migrate(database_url)).result()


async def _migrate(database_url: str) -> None:
    store = SearchCache.from_url(database_url)
    try:
        await store.migrate()  # SQLite: the migration's lock file creates the database's folder
    finally:
        await store.close()
