"""Two people acting on one ticket at once, and many calls taken at once: real threads on a real SQLite file.

Each thread opens its own connection and waits at a barrier, so the writes really meet; BEGIN IMMEDIATE
must serialise them: one wins, the other is told the ticket changed, and the trail holds one event.
"""
import threading

import pytest
from conftest import PASSWORD, at
from test_tickets import CALLBACK_OK, CALLBACK_REOPEN, FORM, Desk, user

from app.domain.errors import Conflict, InvalidTransition
from app.domain.roles import SYSTEM
from app.services import accounts
from app.services import tickets as svc
from app.store import connect, scalar

NOW = at("2026-03-02 09:00")


def race(cfg, n: int, work) -> list:
    """Run work(db, i) in n threads, each with its own connection, released together; results or exceptions."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        db = connect(cfg.db_path)
        try:
            barrier.wait(timeout=10)
            results[i] = work(db, i)
        except Exception as exc:  # kept for the assertions; an escaping exception would only warn
            results[i] = exc
        finally:
            db.conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results


def split(results) -> tuple[list[svc.Outcome], list[Exception]]:
    wins = [r for r in results if isinstance(r, svc.Outcome)]
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(wins) + len(errors) == len(results)
    return wins, errors


@pytest.fixture
def desk(db, cfg):
    accounts.create_user(db, SYSTEM, NOW, username="qingshi2", password=PASSWORD, role="handler", unit_code="QSZ",
                         display_name="青石镇经办人二", must_change=False)
    d = Desk(db, cfg)
    d.qsz2 = user(db, "qingshi2")
    return d


def events_of(db, number: str, action: str) -> int:
    return scalar(db, "SELECT COUNT(*) FROM events e JOIN tickets t ON t.id = e.ticket_id "
                      "WHERE t.number = ? AND e.action = ?", (number, action))


@pytest.mark.parametrize("with_version,loser", [(False, InvalidTransition), (True, Conflict)])
def test_two_handlers_of_one_unit_sign_at_once(desk, cfg, db, with_version, loser):
    n = desk.reach("dispatched", NOW)
    version = desk.ticket(n)["version"] if with_version else None
    people = [desk.qsz, desk.qsz2]
    results = race(cfg, 2, lambda conn, i: svc.act(conn, cfg, people[i], n, "sign", {}, at("2026-03-02 09:30"),
                                                    version=version))
    wins, errors = split(results)
    assert len(wins) == 1 and len(errors) == 1
    assert type(errors[0]) is loser and errors[0].status == 409
    assert events_of(db, n, "sign") == 1
    t = desk.ticket(n)
    winner = people[results.index(wins[0])]
    assert (t["state"], t["version"], t["events"][-1]["actor_id"]) == ("in_progress", 3, winner.id)


@pytest.mark.parametrize("with_version,loser", [(False, InvalidTransition), (True, Conflict)])
def test_center_dispatches_twice_at_once(desk, cfg, db, with_version, loser):
    n = desk.new(NOW)
    version = desk.ticket(n)["version"] if with_version else None
    leads = ["QSZ", "ZJJ"]
    results = race(cfg, 2, lambda conn, i: svc.act(conn, cfg, desk.center, n, "dispatch", {"lead_unit": leads[i]},
                                                    at("2026-03-02 09:30"), version=version))
    wins, errors = split(results)
    assert len(wins) == 1 and type(errors[0]) is loser
    assert events_of(db, n, "dispatch") == 1
    t = desk.ticket(n)
    lead = leads[results.index(wins[0])]
    assert (t["state"], t["lead_unit"]) == ("dispatched", lead)
    assert [(u["unit_code"], u["active"]) for u in t["units"]] == [(lead, 1)]


def test_two_callbacks_with_different_outcomes_at_once(desk, cfg, db):
    n = desk.reach("replied", NOW)
    calls = [(desk.operator, CALLBACK_OK), (desk.center, CALLBACK_REOPEN)]
    results = race(cfg, 2, lambda conn, i: svc.act(conn, cfg, calls[i][0], n, "callback", calls[i][1],
                                                    at("2026-03-03 10:00")))
    wins, errors = split(results)
    assert len(wins) == 1 and type(errors[0]) is InvalidTransition
    assert events_of(db, n, "callback") == 1
    t = desk.ticket(n)
    assert t["state"] == wins[0].state == ("closed" if results[0] is wins[0] else "in_progress")
    assert t["reopen_count"] == (0 if t["state"] == "closed" else 1)


def test_a_retry_racing_its_original_applies_once(desk, cfg, db):
    n = desk.reach("in_progress", NOW)
    results = race(cfg, 2, lambda conn, i: svc.act(conn, cfg, desk.qsz, n, "note", {"note": "已到现场"},
                                                    at("2026-03-02 10:00"), idempotency_key="phone-retry-1"))
    wins, errors = split(results)
    assert errors == [] and sorted(w.repeated for w in wins) == [False, True]
    assert wins[0].event_id == wins[1].event_id
    assert events_of(db, n, "note") == 1


@pytest.mark.parametrize("threads", [2, 8])
def test_concurrent_intake_gets_distinct_gap_free_numbers(desk, cfg, db, threads):
    desk.new(at("2026-03-01 23:00"))  # yesterday's counter must not interfere
    results = race(cfg, threads, lambda conn, i: svc.intake(conn, cfg, desk.operator,
                                                            {**FORM, "title": f"第{i}个来电"}, NOW))
    wins, errors = split(results)
    assert errors == []
    assert sorted(w.number for w in wins) == [f"TST-20260302-{k:04d}" for k in range(1, threads + 1)]
    assert scalar(db, "SELECT last FROM ticket_seq WHERE day = '20260302'") == threads
    assert scalar(db, "SELECT COUNT(*) FROM tickets WHERE number LIKE 'TST-20260302-%'") == threads
    assert scalar(db, "SELECT COUNT(*) FROM events WHERE action = 'intake'") == threads + 1
