"""Online backups of the SQLite database (the backup API, never a file copy), verification, pruning, restore.

A backup is written to a temporary name, checked with `PRAGMA integrity_check` and for being a hotline
database, and only then renamed to `hotline-YYYYMMDD-HHMMSS.db`; the newest `backup.keep` such files
are kept. The backup API copies a consistent snapshot while the server keeps writing (WAL content
included), which copying the file would not.

Restore refuses a file that is not an intact hotline database or that comes from a newer program
version, and refuses while any `hotline serve` runs on the database (the serving lock): replacing the
data under a running server would mix old pages into its cache and lose what it writes meanwhile. The
current database is first saved as `hotline-before-restore-….db`, so a restore can itself be undone.
"""
from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..config import Config
from ..domain import reminders as rules
from ..domain.errors import HotlineError
from ..store import connect
from ..store.migrations import current_version, latest_version, migrate
from . import runlock

NAME_RE = re.compile(r"^hotline-(\d{8})-(\d{6})\.db$")
REQUIRED_TABLES = {"migrations", "units", "users", "tickets"}


class BackupError(HotlineError):
    """A backup could not be made, or a file may not be restored; the message says why."""

    code = "backup_failed"
    status = 409


@dataclass(frozen=True)
class BackupFile:
    """One backup in the backup directory."""

    path: Path
    taken_at: datetime
    size: int


def _stamp(now: datetime) -> str:
    return now.strftime("%Y%m%d-%H%M%S")


def inspect(path: Path) -> dict:
    """Open a file read-only and check it is an intact hotline database; return its version and size, or raise."""
    if not path.is_file():
        raise BackupError(f"文件不存在：{path}")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(f"无法打开 {path}：{exc}") from None
    try:
        result = conn.execute("PRAGMA integrity_check").fetchall()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if [tuple(r) for r in result] != [("ok",)]:
            problems = "；".join(str(r[0]) for r in result[:3])
            raise BackupError(f"{path} 已损坏（完整性检查未通过：{problems}），不能使用。")
        missing = REQUIRED_TABLES - tables
        if missing:
            raise BackupError(f"{path} 不是本系统的数据库（缺少表 {'、'.join(sorted(missing))}），不能使用。")
        version = conn.execute("SELECT MAX(number) FROM migrations").fetchone()[0] or 0
        tickets = conn.execute("SELECT COUNT(*) FROM tickets").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        if "malformed" in str(exc):
            raise BackupError(f"{path} 已损坏（{exc}），不能使用。") from None
        raise BackupError(f"{path} 不是有效的 SQLite 数据库（{exc}），不能使用。") from None
    finally:
        conn.close()
    return {"path": path, "version": version, "tickets": tickets, "size": path.stat().st_size}


def _copy(src_path: Path, dest: Path) -> None:
    """SQLite's online backup from one file to another; the copy becomes a self-contained rollback-journal file."""
    src = sqlite3.connect(str(src_path), timeout=30)
    dst = sqlite3.connect(str(dest))
    try:
        src.backup(dst, pages=1024)  # in steps, so writers are not held up for the whole copy
        dst.execute("PRAGMA journal_mode=DELETE")
        dst.commit()
    finally:
        dst.close()
        src.close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def list_backups(cfg: Config) -> list[BackupFile]:
    """The regular backups, newest first."""
    out = []
    directory = cfg.backup_path
    if not directory.is_dir():
        return out
    for p in directory.iterdir():
        m = NAME_RE.match(p.name)
        if m and p.is_file():
            taken = datetime.strptime(m[1] + m[2], "%Y%m%d%H%M%S").replace(tzinfo=cfg.tz)
            out.append(BackupFile(p, taken, p.stat().st_size))
    return sorted(out, key=lambda b: b.path.name, reverse=True)


def prune(cfg: Config) -> list[Path]:
    """Delete all but the newest `backup.keep` regular backups; return what was deleted."""
    gone = []
    for b in list_backups(cfg)[cfg.backup.keep:]:
        b.path.unlink(missing_ok=True)
        gone.append(b.path)
    return gone


def create(cfg: Config, now: datetime, *, name: str | None = None, keep: bool = True) -> dict:
    """Back the database up now, verify the copy, and (unless keep=False) prune old ones; return what was made."""
    if not cfg.db_path.exists():
        raise BackupError(f"数据库文件不存在：{cfg.db_path}")
    directory = cfg.backup_path
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / (name or f"hotline-{_stamp(now)}.db")
    partial = final.with_name(final.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        _copy(cfg.db_path, partial)
        info = inspect(partial)
    except (sqlite3.Error, BackupError) as exc:
        partial.unlink(missing_ok=True)
        message = exc.message if isinstance(exc, BackupError) else str(exc)
        raise BackupError(f"备份失败：{message}") from None
    _fsync(partial)
    os.replace(partial, final)
    info["path"] = final
    info["pruned"] = prune(cfg) if keep else []
    return info


def nightly(cfg: Config, now: datetime) -> dict | None:
    """Make the nightly backup when none was taken since the latest backup time (catches up after downtime)."""
    slot = rules.latest_slot(now, rules.parse_hhmm(cfg.backup.time), cfg.tz)
    newest = next(iter(list_backups(cfg)), None)
    if newest is not None and newest.taken_at >= slot:
        return None
    return create(cfg, now)


def restore(cfg: Config, source: Path, now: datetime) -> dict:
    """Replace the database with a verified backup; refuse while a server runs. Returns what was done."""
    source = source.resolve()
    if cfg.db_path.exists() and source == cfg.db_path.resolve():
        raise BackupError("不能用数据库文件自身恢复。")
    info = inspect(source)
    if info["version"] > latest_version():
        raise BackupError(f"这份备份来自更新版本的程序（数据库第 {info['version']} 版，本程序最高第 {latest_version()} 版），"
                          "请先升级程序再恢复。")
    try:
        lock = runlock.hold_exclusive(cfg)
    except runlock.Locked as exc:
        raise BackupError("服务正在运行（hotline serve），不能恢复。请先停止服务（例如 sudo systemctl stop hotline），"
                          f"恢复后再启动。（锁文件：{exc.path}）") from None
    try:
        saved = None
        if cfg.db_path.exists():
            try:
                saved = create(cfg, now, name=f"hotline-before-restore-{_stamp(now)}.db", keep=False)["path"]
            except BackupError:
                saved = None  # the current file is itself broken: nothing worth keeping, restore anyway
        cfg.db_path.parent.mkdir(parents=True, exist_ok=True)
        # the backup API writes into the live file through SQLite's own locking, WAL included
        _copy(source, cfg.db_path)
        db = connect(cfg.db_path)
        try:
            applied = migrate(db)
            version = current_version(db)
            ok = db.conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            db.conn.close()
        if ok != "ok":
            raise BackupError(f"恢复后的数据库完整性检查未通过：{ok}")
    finally:
        runlock.release(lock)
    return {"source": source, "saved": saved, "version": version, "applied": applied, "tickets": info["tickets"]}
