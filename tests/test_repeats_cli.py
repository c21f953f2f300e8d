"""`hotline repeats rescan --since DATE`: finds groups after a threshold change, and a second run changes nothing."""
from datetime import timedelta

from click.testing import CliRunner
from conftest import at

from app import cli
from app import config as config_mod
from app.domain.roles import Actor
from app.services import tickets as svc
from app.store import connect, one, scalar

PIPE = ["村委会门口的自来水管爆了，水一直往外冒，路都淹了。", "村委会门口水管爆裂了，水不停地往外冒，路面全是水。",
        "我们村委会旁边的自来水管子爆开了，一直在冒水，整条路成了河。"]


def test_rescan_after_lowering_the_threshold_is_idempotent(cfg, monkeypatch):
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    db = connect(cfg.db_path)
    row = one(db, "SELECT id, display_name, role FROM users WHERE username = 'operator'")
    operator = Actor(row["id"], row["display_name"], row["role"])
    for i, text in enumerate(PIPE):
        svc.intake(db, cfg, operator, {"channel": "phone", "kind": "complaint", "urgency": "normal", "caller_name": "村民",
                                       "caller_phone": f"1398888000{i}", "territory": "539901102201", "category": "0202",
                                       "title": "水管爆裂", "content": text}, at("2026-03-02 09:00") + timedelta(hours=i))
    assert scalar(db, "SELECT COUNT(*) FROM supervision_items") == 0
    path = config_mod.config_file(cfg.source)
    path.write_text(path.read_text(encoding="utf-8") + "[repeats]\nmass_event_threshold = 3\n", encoding="utf-8")
    run = lambda: CliRunner().invoke(cli.main, ["--config", str(path), "repeats", "rescan", "--since", "2026-03-01"])  # noqa: E731
    first = run()
    assert first.exit_code == 0, first.output
    assert "新纳入重点督办 1 项" in first.output
    events = scalar(db, "SELECT COUNT(*) FROM events")
    second = run()
    assert second.exit_code == 0 and "没有变化" in second.output
    assert scalar(db, "SELECT COUNT(*) FROM supervision_items") == 1 and scalar(db, "SELECT COUNT(*) FROM events") == events
    db.conn.close()


def test_rescan_refuses_a_bad_date(cfg, monkeypatch):
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    result = CliRunner().invoke(cli.main, ["--config", cfg.source, "repeats", "rescan", "--since", "昨天"])
    assert result.exit_code == 2 and "日期格式" in result.output
