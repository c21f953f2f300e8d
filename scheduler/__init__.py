"""In-process background jobs (APScheduler 3), started by `hotline serve` only — never on import, never twice.

Jobs: the reminder sweep and the outbox (every `sweep_seconds`), the county-wide overdue notice (daily at
`daily_notice_time`; the service itself skips holidays and weekends and keeps make-up Saturdays, so an
admin's calendar edit counts at once) and the nightly backup. Each job pushes an app context and calls
the same services as the views, with `app.now()`. All of them decide from the database what is due, so
every job also runs once right at start: whatever fell due while the server was off is caught up.

Only one process per database runs jobs: the first to take the jobs lock (an fcntl lock file beside the
database). Any other server on the same database serves pages and runs nothing. Under Werkzeug's
reloader only the child process (WERKZEUG_RUN_MAIN=true) starts jobs.
"""
from __future__ import annotations

import atexit
import ctypes
import logging
import os
import socket
import threading
import traceback
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from scheduler import jobs as job_functions

log = logging.getLogger("hotline.scheduler")
EXTENSION = "hotline_scheduler"
_guard = threading.Lock()


class Running:
    """A started scheduler with the locks it holds; `stop()` shuts it down and lets go of them."""

    def __init__(self, app, scheduler: BackgroundScheduler | None, jobs_lock, serving_lock):
        self.app = app
        self.scheduler = scheduler
        self.jobs_lock = jobs_lock
        self.serving_lock = serving_lock

    def job_ids(self) -> list[str]:
        """The ids of the scheduled jobs (empty when this process runs none)."""
        return [j.id for j in self.scheduler.get_jobs()] if self.scheduler else []

    def stop(self, wait: bool = True) -> None:
        """Shut the scheduler down and release both locks (safe to call twice)."""
        from app.services import runlock

        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
        runlock.release(self.jobs_lock)
        runlock.release(self.serving_lock)
        self.app.extensions.pop(EXTENSION, None)


def _holder() -> str:
    return f"由服务进程 {os.getpid()}（主机 {socket.gethostname()}）运行"


def build(app) -> BackgroundScheduler:
    """A BackgroundScheduler with the four jobs (not started)."""
    cfg = app.config["HOTLINE"]
    tz = cfg.tz
    now = datetime.now(tz)
    sched = BackgroundScheduler(
        timezone=tz,
        # one run at a time per job; runs missed while busy collapse into one; a late run still happens
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    interval = IntervalTrigger(seconds=cfg.scheduler.sweep_seconds, timezone=tz)
    notice_h, notice_m = (int(x) for x in cfg.scheduler.daily_notice_time.split(":"))
    backup_h, backup_m = (int(x) for x in cfg.backup.time.split(":"))
    specs = [
        ("sweep", job_functions.sweep, interval),
        ("outbox", job_functions.outbox, IntervalTrigger(seconds=cfg.scheduler.sweep_seconds, timezone=tz)),
        ("daily_notice", job_functions.daily_notice, CronTrigger(hour=notice_h, minute=notice_m, timezone=tz)),
        ("backup", job_functions.backup, CronTrigger(hour=backup_h, minute=backup_m, timezone=tz)),
    ]
    for job_id, fn, trigger in specs:
        sched.add_job(_runner(app, job_id, fn), trigger, id=job_id, name=job_id, next_run_time=now,
                      replace_existing=True)
    return sched


def _trim_memory() -> None:
    """Hand freed heap back to the OS after each job, so an idle server stays small on a cheap box.

    With many threads glibc keeps per-thread arenas full of freed blocks; malloc_trim(0) releases them.
    Elsewhere (no glibc) this does nothing.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _runner(app, job_id: str, fn):
    """The job as APScheduler calls it: app context, the service call, and its record in job_runs."""

    def run() -> None:
        from app import get_db, now
        from app.services import jobs

        with app.app_context():
            db = get_db()
            cfg = app.config["HOTLINE"]
            jobs.started(db, job_id, now())
            try:
                result = fn(db, cfg, now())
            except Exception:  # a failing job is recorded and shown to the admin, and runs again next time
                log.exception("job %s failed", job_id)
                if db.conn.in_transaction:
                    db.conn.rollback()
                jobs.finished(db, job_id, now(), error=traceback.format_exc(limit=5), next_run=_next(app, job_id))
            else:
                jobs.finished(db, job_id, now(), result=result, next_run=_next(app, job_id))
        _trim_memory()

    run.__name__ = f"hotline_{job_id}"
    return run


def _next(app, job_id: str) -> datetime | None:
    """The job's next run after this one, from its trigger (the scheduler may not have updated it yet)."""
    running = app.extensions.get(EXTENSION)
    job = running.scheduler.get_job(job_id) if running is not None and running.scheduler is not None else None
    if job is None:
        return None
    after = datetime.now(app.config["HOTLINE"].tz) + timedelta(seconds=1)
    return job.trigger.get_next_fire_time(None, after)


def _in_reloader_parent(app) -> bool:
    # Werkzeug's reloader runs the app twice; only the child (WERKZEUG_RUN_MAIN=true) serves requests
    return app.debug and os.environ.get("WERKZEUG_RUN_MAIN") != "true"


def start_for_serve(app, *, paused: bool = False) -> Running | None:
    """Start the jobs for a serving process; None when disabled, in a reloader parent, or another process has them.

    Also takes the shared serving lock (so `hotline restore` refuses while this process runs) and
    raises SystemExit when a restore holds the database. `paused=True` schedules without running (tests).
    """
    from app import get_db
    from app.services import jobs, runlock

    cfg = app.config["HOTLINE"]
    with _guard:
        existing = app.extensions.get(EXTENSION)
        if existing is not None:
            return existing if existing.scheduler is not None else None
        try:
            serving = runlock.hold_serving(cfg)
        except runlock.Locked as exc:
            raise SystemExit(f"数据库正在恢复（{exc.holder}），请等恢复完成后再启动服务。") from None
        if not cfg.scheduler.enabled:
            log.info("scheduler disabled in config ([scheduler] enabled = false)")
            app.extensions[EXTENSION] = Running(app, None, None, serving)
            return None
        if _in_reloader_parent(app):
            runlock.release(serving)
            return None
        try:
            jobs_lock = runlock.hold_jobs(cfg, note=_holder())
        except runlock.Locked as exc:
            log.warning("另一个进程（%s）已在运行 %s 的定时任务，本进程不运行定时任务", exc.holder, cfg.db_path)
            app.extensions[EXTENSION] = Running(app, None, None, serving)
            return None
        sched = build(app)
        running = Running(app, sched, jobs_lock, serving)
        app.extensions[EXTENSION] = running
        sched.start(paused=paused)
        with app.app_context():
            db = get_db()
            for job in sched.get_jobs():
                jobs.registered(db, job.id, job.next_run_time, _holder())
        atexit.register(running.stop, False)
        log.info("scheduler started: %s", ", ".join(running.job_ids()))
        return running
