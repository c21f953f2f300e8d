"""Migration 4 (reminders) with parallel branches: a later number applied first, the earlier one filled in later;
and the configuration keys the reminders added."""
import pytest

from app import config as config_mod
from app.store import connect, scalar
from app.store import migrations as m


def _named(*numbers):
    return [x for x in m.MIGRATIONS if x[0] in numbers]


def test_a_migration_that_lands_after_4_is_still_applied(tmp_path, monkeypatch):
    db = connect(tmp_path / "gap.db")
    try:
        monkeypatch.setattr(m, "MIGRATIONS", _named(1, 2, 4))
        assert m.migrate(db) == [1, 2, 4]
        assert "reminders" in db.table_names()

        def late_branch(db):
            db.conn.execute("CREATE TABLE late_branch (x)")

        monkeypatch.setattr(m, "MIGRATIONS", sorted([*_named(1, 2, 4), (3, "late branch", late_branch)]))
        # the gap makes the database look older than the code, so `serve` and `check` migrate it
        assert m.current_version(db) == 2 < m.latest_version()
        assert m.migrate(db) == [3]
        assert m.current_version(db) == 4 and "late_branch" in db.table_names()
        assert m.migrate(db) == []
    finally:
        db.conn.close()


def test_migration_4_keys_each_reminder_once(tmp_path):
    db = connect(tmp_path / "x.db")
    try:
        m.migrate(db)
        assert {"reminders", "notifications", "notification_reads", "outbox", "job_runs", "notices"} <= set(db.table_names())
        assert scalar(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'ticket_units_unsigned'") == 1
    finally:
        db.conn.close()


@pytest.mark.parametrize("raw, key", [
    ({"scheduler": {"due_remind_time": "25:00"}}, "scheduler.due_remind_time"),
    ({"scheduler": {"callback_wait_hours": 0}}, "scheduler.callback_wait_hours"),
    ({"notify": {"retry_seconds": 1}}, "notify.retry_seconds"),
    ({"notify": {"timeout_seconds": 0}}, "notify.timeout_seconds"),
    ({"notify": {"sms_url": "http://gw/send", "sms_method": "GET", "sms_body": "a={text}"}}, "notify.sms_body"),
])
def test_bad_reminder_settings_name_their_key(raw, key):
    with pytest.raises(config_mod.ConfigError) as exc:
        config_mod.parse(raw, "config.toml")
    assert f"“{key}”" in str(exc.value)


def test_the_example_config_documents_every_new_key():
    from app.config import ROOT

    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    for key in ("due_remind_time", "callback_wait_hours", "retry_seconds", "sms_ok", "timeout_seconds"):
        assert f"\n{key} = " in text, key
    cfg = config_mod.parse(__import__("tomllib").loads(text), "config.example.toml")
    assert cfg.notify.retry_seconds == 60 and cfg.scheduler.callback_wait_hours == 24
