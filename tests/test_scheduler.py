"""The scheduler: started by serve only, once per database (reloader guard, lock file), jobs registered and recorded."""
import subprocess
import sys
import threading

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from conftest import at, page

import scheduler
from app import create_app
from app.config import ROOT
from app.services import runlock
from app.store import all_rows, connect

JOB_IDS = {"sweep", "outbox", "daily_notice", "backup"}


@pytest.fixture
def started():
    """Start schedulers through start_for_serve and always stop them."""
    made = []

    def start(app, **kw):
        running = scheduler.start_for_serve(app, **kw)
        made.append(app)
        return running

    yield start
    for app in made:
        running = app.extensions.get(scheduler.EXTENSION)
        if running is not None:
            running.stop()


def runs(cfg) -> dict[str, dict]:
    db = connect(cfg.db_path)
    try:
        return {r["job_id"]: r for r in all_rows(db, "SELECT * FROM job_runs")}
    finally:
        db.conn.close()


def test_nothing_starts_on_import_or_with_the_app(app):
    assert scheduler.EXTENSION not in app.extensions
    assert not [t for t in threading.enumerate() if "APScheduler" in t.name]


def test_serve_registers_the_four_jobs(app, cfg, started):
    running = started(app, paused=True)
    jobs = {j.id: j for j in running.scheduler.get_jobs()}
    assert set(jobs) == JOB_IDS
    assert isinstance(jobs["sweep"].trigger, IntervalTrigger)
    assert jobs["sweep"].trigger.interval.total_seconds() == cfg.scheduler.sweep_seconds
    assert isinstance(jobs["daily_notice"].trigger, CronTrigger) and isinstance(jobs["backup"].trigger, CronTrigger)
    fields = {f.name: str(f) for f in jobs["daily_notice"].trigger.fields}
    assert (fields["hour"], fields["minute"]) == ("8", "30")
    fields = {f.name: str(f) for f in jobs["backup"].trigger.fields}
    assert (fields["hour"], fields["minute"]) == ("2", "30")
    assert str(running.scheduler.timezone) == "Asia/Shanghai"
    # every job also runs once at start, to catch up on what fell due while the server was off
    assert all(j.next_run_time is not None for j in jobs.values())
    recorded = runs(cfg)
    assert set(recorded) == JOB_IDS and all(r["next_run_at"] and r["holder"] for r in recorded.values())
    assert started(app) is running, "a second call in the same process starts nothing new"
    running.stop()
    assert not running.scheduler.running
    runlock.release(runlock.hold_jobs(cfg))  # the lock was let go


def test_disabled_in_config_runs_no_jobs(cfg, started):
    cfg.scheduler.enabled = False
    assert started(create_app(cfg, {"TESTING": True})) is None


def test_the_reloader_parent_runs_no_jobs(cfg, started, monkeypatch):
    monkeypatch.delenv("WERKZEUG_RUN_MAIN", raising=False)
    app = create_app(cfg, {"TESTING": True})
    app.debug = True
    assert started(app) is None
    monkeypatch.setenv("WERKZEUG_RUN_MAIN", "true")
    child = create_app(cfg, {"TESTING": True})
    child.debug = True
    assert started(child, paused=True) is not None


def test_a_second_server_on_the_same_database_runs_no_jobs(cfg, started):
    first = create_app(cfg, {"TESTING": True})
    second = create_app(cfg, {"TESTING": True})
    running = started(first, paused=True)
    assert running is not None
    assert started(second, paused=True) is None
    running.stop()
    third = create_app(cfg, {"TESTING": True})
    assert started(third, paused=True) is not None, "once the first stops, the next server takes over"


def test_the_lock_held_by_another_process_keeps_this_one_idle(cfg, started):
    code = ("import sys; from app import config; from app.services import runlock;"
            "cfg = config.load(sys.argv[1]); fh = runlock.hold_jobs(cfg, 'other server');"
            "print('locked', flush=True); sys.stdin.read()")
    proc = subprocess.Popen([sys.executable, "-c", code, cfg.source], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        assert started(create_app(cfg, {"TESTING": True}), paused=True) is None
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
        proc.stdout.close()
    # the other process is gone (as after a crash or power cut): its lock went with it
    assert started(create_app(cfg, {"TESTING": True}), paused=True) is not None


def test_restore_waits_for_the_server_to_stop(app, cfg, started):
    from app.services import backup

    running = started(app, paused=True)
    made = backup.create(cfg, at("2026-03-02 10:00"))
    with pytest.raises(backup.BackupError):
        backup.restore(cfg, made["path"], at("2026-03-02 10:01"))
    running.stop()
    backup.restore(cfg, made["path"], at("2026-03-02 10:02"))


def test_a_job_run_is_recorded_with_its_result_or_its_error(app, cfg, clock):
    def boom(db, cfg, now):
        raise RuntimeError("网关配置有误")

    scheduler._runner(app, "outbox", boom)()
    row = runs(cfg)["outbox"]
    assert "RuntimeError: 网关配置有误" in row["last_error"] and row["failures"] == 1 and row["last_ok_at"] is None
    scheduler._runner(app, "outbox", lambda db, cfg, now: f"发送 0（{now:%H:%M}）")()
    row = runs(cfg)["outbox"]
    assert row["last_result"] == "发送 0（09:00）" and row["runs"] == 2 and row["last_ok_at"] == "2026-03-02T09:00:00+08:00"


def test_the_jobs_really_run_in_the_background_and_are_recorded(app, cfg, started):
    running = started(app, paused=True)
    done = threading.Event()
    finished: set[str] = set()

    def listener(event):
        finished.add(event.job_id)
        if finished >= JOB_IDS:
            done.set()

    running.scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    running.scheduler.resume()
    assert done.wait(timeout=60), f"only {finished} ran"
    running.stop()
    recorded = runs(cfg)
    assert all(recorded[j]["runs"] >= 1 and not recorded[j]["last_error"] for j in JOB_IDS), recorded
    assert recorded["backup"]["last_result"].startswith("已备份到")


def test_the_admin_jobs_page_lists_the_jobs(app, cfg, client, auth, started, fast_hashes):
    started(app, paused=True)
    auth.login("admin")
    html = page(client.get("/admin/jobs"))
    assert {r.get("id") for r in html.xpath("//table[@id='job-list']/tbody/tr")} == {f"job-{j}" for j in JOB_IDS}
    assert "下一个工作日" in html.xpath("string(//tr[@id='job-daily_notice'])")
    assert "本页所在进程正在运行定时任务" in html.text_content()
    auth.logout()
    auth.login("center")
    assert client.get("/admin/jobs").status_code == 403
