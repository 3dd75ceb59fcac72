"""The service as uvicorn and gunicorn run it: `uvicorn backend.main:app` from the repository
root, `uvicorn main:app` from inside `backend/`, `gunicorn backend.main:app` (`./start.sh web`).

Building `app` reads the settings (a bad one stops here, with a line that names it) and mounts
the routes; then the database is migrated, before any server starts, so that a table our
migrations did not make stops here too, with one line and exit status 2 (from the lifespan,
uvicorn would print it inside a traceback). Everything else is opened by the lifespan.
"""

import sys
from pathlib import Path

if __package__ in (None, ""):  # imported as `main`, from inside backend/: import it as the package
    _here = Path(__file__).resolve().parent
    # backend/ itself off the path, so its modules (logs, metrics, ...) never shadow others' of that name.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    sys.path.insert(0, str(_here.parent))

from backend.app import create_app  # noqa: E402
from backend.config import load_settings  # noqa: E402
from backend.store.preflight import migrate_before_start  # noqa: E402

_settings = load_settings()
app = create_app(_settings)  # configures logging: the migration's lines then look like the service's
migrate_before_start(_settings.database_url)
