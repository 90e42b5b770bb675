"""Files that hold keys' hashes, usage and spend are the owner's alone (0600; folders 0700).

The SQLite store and the usage spool were created with the process umask (often world-readable).
SQLite creates its -wal and -shm files with the permissions of the database file, so making the
database file private first covers them too.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: str | Path) -> Path:
    folder = Path(path)
    folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    return folder


def private_file(path: str | Path) -> Path:
    """Create ``path`` empty if missing, and make it (and an existing one) 0600."""
    target = Path(path)
    if str(target) == ":memory:":
        return target
    target.parent.mkdir(parents=True, exist_ok=True)  # an existing parent keeps its mode: it may be shared
    os.close(os.open(target, os.O_CREAT | os.O_WRONLY, FILE_MODE))
    os.chmod(target, FILE_MODE)
    return target
