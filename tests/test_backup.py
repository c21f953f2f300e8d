"""Online backups with the SQLite backup API, verification, pruning, the nightly catch-up, restore and its refusals."""
import sqlite3
from datetime import timedelta

import pytest
from click.testing import CliRunner
from conftest import at

from app.cli import main
from app.domain.roles import Actor
from app.services import backup, runlock
from app.services import tickets as svc
from app.store import connect, one, scalar

FORM = {"channel": "phone", "kind": "complaint", "urgency": "normal", "caller_name": "王秀英",
        "caller_phone": "13900001111", "territory": "539901102201", "category": "0101", "title": "路灯不亮",
        "content": "村口路灯坏了一个月。"}


def intake(cfg, title: str, when: str) -> str:
    db = connect(cfg.db_path)
    try:
        row = one(db, "SELECT id, display_name, role, unit_code FROM users WHERE username = 'operator'")
        return svc.intake(db, cfg, Actor(**{"id": row["id"], "name": row["display_name"], "role": row["role"]}),
                          {**FORM, "title": title}, at(when)).number
    finally:
        db.conn.close()


def count(path, sql="SELECT COUNT(*) FROM tickets"):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def test_a_backup_is_a_verified_self_contained_copy_taken_while_a_writer_holds_the_database(cfg, db):
    intake(cfg, "备份前", "2026-03-02 09:00")
    # an open connection with uncheckpointed WAL content: the backup API sees it, a file copy would not
    db.conn.execute("PRAGMA wal_autocheckpoint = 0")
    intake(cfg, "刚写入", "2026-03-02 09:01")
    made = backup.create(cfg, at("2026-03-02 09:05"))
    assert made["path"].name == "hotline-20260302-090500.db" and made["path"].parent == cfg.backup_path
    assert count(made["path"]) == scalar(db, "SELECT COUNT(*) FROM tickets")
    assert count(made["path"], "SELECT COUNT(*) FROM tickets WHERE title = '刚写入'") == 1
    assert count(made["path"], "PRAGMA integrity_check") == "ok"
    assert count(made["path"], "PRAGMA journal_mode") == "delete"
    assert not list(cfg.backup_path.glob("*.partial"))


def test_only_the_newest_n_are_kept(cfg):
    cfg.backup.keep = 3
    for day in range(1, 6):
        backup.create(cfg, at(f"2026-03-0{day} 02:30"))
    names = [b.path.name for b in backup.list_backups(cfg)]
    assert names == ["hotline-20260305-023000.db", "hotline-20260304-023000.db", "hotline-20260303-023000.db"]


@pytest.mark.parametrize("now, expect_new", [
    ("2026-03-03 02:30", True),   # the nightly time has come
    ("2026-03-03 02:29", False),  # yesterday's 02:30 backup exists
    ("2026-03-04 10:00", True),   # the server was off last night: caught up at once
])
def test_nightly_backup_is_taken_once_per_night_and_caught_up(cfg, now, expect_new):
    backup.create(cfg, at("2026-03-02 02:30"))
    made = backup.nightly(cfg, at(now))
    assert (made is not None) is expect_new
    if made:
        assert backup.nightly(cfg, at(now) + timedelta(minutes=1)) is None


def test_backup_then_restore_round_trip(cfg):
    kept = intake(cfg, "备份里有", "2026-03-02 09:00")
    made = backup.create(cfg, at("2026-03-02 10:00"))
    lost = intake(cfg, "备份后才有", "2026-03-02 11:00")
    done = backup.restore(cfg, made["path"], at("2026-03-02 12:00"))
    db = connect(cfg.db_path)
    try:
        numbers = {r[0] for r in db.conn.execute("SELECT number FROM tickets")}
        assert kept in numbers and lost not in numbers
        assert scalar(db, "PRAGMA integrity_check") == "ok"
        assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.conn.close()
    # what was there before the restore is kept beside the backups, so the restore can be undone
    assert done["saved"].name == "hotline-before-restore-20260302-120000.db"
    assert count(done["saved"], f"SELECT COUNT(*) FROM tickets WHERE number = '{lost}'") == 1
    assert done["saved"] not in [b.path for b in backup.list_backups(cfg)], "never pruned as a nightly backup"


def test_restore_refuses_garbage_a_foreign_database_and_a_corrupt_backup(cfg, tmp_path):
    before = count(cfg.db_path)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all" * 100)
    foreign = tmp_path / "other.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE notes (x)")
    conn.commit()
    conn.close()
    broken = backup.create(cfg, at("2026-03-02 10:00"))["path"]
    data = bytearray(broken.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    for p in range(2, len(data) // page_size):  # scribble over every b-tree page but the first
        data[p * page_size: p * page_size + 8] = b"\xff" * 8
    broken.write_bytes(bytes(data))
    for path, why in ((junk, "不是有效的 SQLite 数据库"), (foreign, "不是本系统的数据库"), (broken, "损坏"),
                      (tmp_path / "missing.db", "不存在")):
        with pytest.raises(backup.BackupError) as exc:
            backup.restore(cfg, path, at("2026-03-02 12:00"))
        assert why in exc.value.message, (path, exc.value.message)
    assert count(cfg.db_path) == before


def test_restore_is_refused_while_a_server_runs(cfg):
    made = backup.create(cfg, at("2026-03-02 10:00"))
    serving = runlock.hold_serving(cfg)  # what every `hotline serve` holds
    try:
        with pytest.raises(backup.BackupError) as exc:
            backup.restore(cfg, made["path"], at("2026-03-02 12:00"))
        assert "服务正在运行" in exc.value.message
    finally:
        runlock.release(serving)
    backup.restore(cfg, made["path"], at("2026-03-02 12:00"))


def test_restore_refuses_a_backup_from_a_newer_program(cfg, tmp_path):
    made = backup.create(cfg, at("2026-03-02 10:00"))["path"]
    conn = sqlite3.connect(made)
    conn.execute("INSERT INTO migrations (number, name, applied_at) VALUES (999, 'future', 'x')")
    conn.commit()
    conn.close()
    with pytest.raises(backup.BackupError) as exc:
        backup.restore(cfg, made, at("2026-03-02 12:00"))
    assert "更新版本" in exc.value.message


def test_cli_backup_and_restore(cfg):
    runner = CliRunner()
    first = intake(cfg, "命令行备份前", "2026-03-02 09:00")
    result = runner.invoke(main, ["--config", cfg.source, "backup"])
    assert result.exit_code == 0, result.output
    path = backup.list_backups(cfg)[0].path
    assert str(path) in result.output and "完整性检查正常" in result.output
    intake(cfg, "命令行备份后", "2026-03-02 11:00")
    result = runner.invoke(main, ["--config", cfg.source, "restore", str(path)], input="n\n")
    assert result.exit_code == 1 and "已取消" in result.output
    result = runner.invoke(main, ["--config", cfg.source, "restore", str(path), "--yes"])
    assert result.exit_code == 0, result.output
    assert "已恢复" in result.output and count(cfg.db_path, "SELECT COUNT(*) FROM tickets WHERE title = '命令行备份后'") == 0
    assert count(cfg.db_path, f"SELECT COUNT(*) FROM tickets WHERE number = '{first}'") == 1
    junk = cfg.data_path / "junk.db"
    junk.write_text("nope")
    result = runner.invoke(main, ["--config", cfg.source, "restore", str(junk), "--yes"])
    assert result.exit_code == 1 and "不是有效的 SQLite 数据库" in result.output
