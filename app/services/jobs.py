"""The record of background job runs (last run, next run, last error) that the admin's jobs page shows.

Kept in the database, not in the scheduler's memory, so any server process (and the page after a
restart) shows the same truth.
"""
from __future__ import annotations

from datetime import datetime

from ..store import all_rows, write
from ..store import iso as _iso

JOBS = {
    "sweep": "提醒扫描（签收、办结、申请、回访）",
    "outbox": "短信与文件通道发送",
    "daily_notice": "超时全县通报（工作日）",
    "backup": "数据库在线备份（每晚）",
}
ERROR_CHARS = 2000


def _ensure(db, job_id: str) -> None:
    db.conn.execute("INSERT OR IGNORE INTO job_runs (job_id, name) VALUES (?, ?)", (job_id, JOBS.get(job_id, job_id)))


def registered(db, job_id: str, next_run: datetime | None, holder: str) -> None:
    """A job was scheduled by the process `holder`; note when it runs next."""
    with write(db):
        _ensure(db, job_id)
        db.conn.execute("UPDATE job_runs SET next_run_at = ?, holder = ? WHERE job_id = ?", (_iso(next_run), holder, job_id))


def started(db, job_id: str, now: datetime) -> None:
    """A run began."""
    with write(db):
        _ensure(db, job_id)
        db.conn.execute("UPDATE job_runs SET last_started_at = ?, runs = runs + 1 WHERE job_id = ?", (_iso(now), job_id))


def finished(db, job_id: str, now: datetime, *, result: str = "", error: str = "", next_run: datetime | None = None) -> None:
    """A run ended, with a short result or the error that stopped it."""
    with write(db):
        _ensure(db, job_id)
        if error:
            db.conn.execute(
                "UPDATE job_runs SET last_finished_at = ?, last_error = ?, last_error_at = ?, failures = failures + 1,"
                " next_run_at = COALESCE(?, next_run_at) WHERE job_id = ?",
                (_iso(now), error[-ERROR_CHARS:], _iso(now), _iso(next_run), job_id),
            )
        else:
            db.conn.execute(
                "UPDATE job_runs SET last_finished_at = ?, last_ok_at = ?, last_result = ?,"
                " next_run_at = COALESCE(?, next_run_at) WHERE job_id = ?",
                (_iso(now), _iso(now), result, _iso(next_run), job_id),
            )


def listing(db) -> list[dict]:
    """Every known job in a fixed order, with its record (empty fields when it never ran)."""
    rows = {r["job_id"]: r for r in all_rows(db, "SELECT * FROM job_runs")}
    out = []
    for job_id, name in JOBS.items():
        row = rows.pop(job_id, None) or {"job_id": job_id, "runs": 0, "failures": 0}
        row["name"] = name
        out.append(row)
    return out + list(rows.values())
