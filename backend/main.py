"""The service as uvicorn and gunicorn run it: `uvicorn backend.main:app` from the repository
root, `uvicorn main:app` from inside `backend/`, `gunicorn backend.main:app` (`./start.sh web`).

Building `app` reads the settings (a bad one stops here, with a line that names it) and mounts
the routes; it opens no connection: the lifespan does, when the server starts it.
"""

import sys
from pathlib import Path

if __package__ in (None, ""):  # imported as `main`, from inside backend/: import it as the package
    _here = Path(__file__).resolve().parent
    # backend/ itself off the path, so its modules (logs, metrics, ...) never shadow others' of that name.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
    sys.path.insert(0, str(_here.parent))

from backend.app import create_app  # noqa: E402

app = create_app()
