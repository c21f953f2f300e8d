"""Lock files beside the database: who is serving it, and which one process runs its background jobs.

`fcntl.flock` locks belong to an open file and vanish when the process dies (even by a power cut or
SIGKILL), so a stale lock file never blocks anything. Every `hotline serve` holds a *shared* serving
lock; `hotline restore` needs it *exclusively*, so it refuses while any server runs. The jobs lock is
exclusive and non-blocking: the first server on a database runs the jobs, a second one runs none.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from ..config import Config


class Locked(Exception):
    """Someone else holds the lock; `holder` is what the holder wrote into the file, if anything."""

    def __init__(self, path: Path, holder: str):
        super().__init__(f"{path} is locked by {holder or 'another process'}")
        self.path = path
        self.holder = holder


def lock_path(cfg: Config, name: str) -> Path:
    """<database file>.<name>.lock, in the data directory beside the database."""
    db = cfg.db_path
    return db.with_name(f"{db.name}.{name}.lock")


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def acquire(path: Path, *, shared: bool = False, note: str = "") -> IO:
    """Take the lock without waiting; return the open file that holds it, or raise Locked."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(fh.fileno(), (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise Locked(path, _holder(path)) from None
    if not shared:
        fh.seek(0)
        fh.truncate()
        fh.write(note or f"pid {os.getpid()}")
        fh.flush()
    return fh


def release(fh: IO | None) -> None:
    """Drop a lock taken by acquire()."""
    if fh is None or fh.closed:
        return
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    finally:
        fh.close()


def hold_serving(cfg: Config) -> IO:
    """The shared lock every serving process holds for its lifetime (raises Locked while a restore runs)."""
    return acquire(lock_path(cfg, "serve"), shared=True)


def hold_jobs(cfg: Config, note: str = "") -> IO:
    """The exclusive lock of the one process that runs the background jobs (raises Locked if taken)."""
    return acquire(lock_path(cfg, "jobs"), note=note)


def hold_exclusive(cfg: Config) -> IO:
    """The serving lock, exclusively: only possible while no server runs (raises Locked otherwise)."""
    return acquire(lock_path(cfg, "serve"), note=f"restore, pid {os.getpid()}")
