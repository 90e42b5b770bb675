"""Append-only local spool of usage records (JSON lines, fsync'd per batch), one file per process.

The owner holds an exclusive flock on its file for its lifetime; a file whose lock can be taken was
left by a dead process and is adopted (replayed, then deleted) by the next recorder that starts.
"""

from __future__ import annotations

import fcntl
import logging
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from proxy.private_files import FILE_MODE, private_dir
from proxy.usage.store.base import UsageRecord

log = logging.getLogger("llm_gateway.usage")


class Spool:
    def __init__(self, path: Path, fh: BinaryIO, *, orphan: bool) -> None:
        self.path = path
        self.orphan = orphan
        self.offset = 0  # bytes already replayed into the store
        self._fh = fh

    @classmethod
    def create(cls, directory: str) -> Spool:
        folder = private_dir(directory)
        name = f"usage-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        tmp = folder / f"{name}.tmp"
        # Held open (and locked) for the process lifetime; created 0600 (proxy/private_files.py).
        fh = os.fdopen(os.open(tmp, os.O_CREAT | os.O_APPEND | os.O_WRONLY, FILE_MODE), "ab")
        fcntl.flock(fh, fcntl.LOCK_EX)
        # Renamed only once locked, so no starting process can mistake it for an orphan.
        final = folder / f"{name}.jsonl"
        os.rename(tmp, final)
        return cls(final, fh, orphan=False)

    @classmethod
    def adopt_orphans(cls, directory: str) -> list[Spool]:
        folder = Path(directory)
        if not folder.is_dir():
            return []
        orphans = []
        for path in sorted(folder.glob("usage-*.jsonl"), key=lambda p: p.stat().st_mtime):
            fh = open(path, "ab")  # noqa: SIM115
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()  # a live process owns it
                continue
            orphans.append(cls(path, fh, orphan=True))
        return orphans

    def append(self, records: Sequence[UsageRecord]) -> None:
        self._fh.write(b"".join(rec.to_json() + b"\n" for rec in records))
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def read(self, limit: int) -> tuple[list[UsageRecord], int]:
        """Up to ``limit`` records after ``offset`` and the offset just past them."""
        records: list[UsageRecord] = []
        offset = self.offset
        with open(self.path, "rb") as fh:
            fh.seek(offset)
            while len(records) < limit:
                line = fh.readline()
                if not line:
                    break
                offset += len(line)
                if not line.endswith(b"\n"):
                    # Torn by a crash mid-write: this record never completed its fsync.
                    log.error("usage spool %s: skipping a torn last line (%d bytes)", self.path, len(line))
                    continue
                try:
                    records.append(UsageRecord.from_json(line))
                except (ValueError, TypeError, KeyError):
                    log.error("usage spool %s: skipping an unreadable line at byte %d", self.path, offset)
        return records, offset

    def size(self) -> int:
        return os.fstat(self._fh.fileno()).st_size

    def reset(self) -> None:
        """Everything was replayed: start the file over."""
        self._fh.truncate(0)
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.offset = 0

    def release(self, *, delete: bool) -> None:
        if delete:
            self.path.unlink(missing_ok=True)
        self._fh.close()
