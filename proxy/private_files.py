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
    """Create ``path`` empty and 0600 if missing; make an existing one 0600 without opening it.

    Never open (and close) a file SQLite may already have open in this process: closing any descriptor
    of a file drops every POSIX lock the process holds on it, so another process could then take the
    database for unused, checkpoint it and delete the -wal our connections still write to (the records
    would go to a deleted file). A missing file cannot be open yet; an existing one is only chmod-ed.
    """
    target = Path(path)
    if str(target) == ":memory:":
        return target
    target.parent.mkdir(parents=True, exist_ok=True)  # an existing parent keeps its mode: it may be shared
    try:
        os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
    except FileExistsError:
        os.chmod(target, FILE_MODE)
    return target
