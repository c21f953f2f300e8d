"""The reminder sweep: read from the database what may be due, let the domain decide, notify each thing once.

Nothing is kept in memory between sweeps. Each reminder is recorded under the unique key
(ticket, kind, deadline) in the same transaction as its notifications, so a restart, a second sweep or
a second process never repeats one. The time of the previous sweep is kept in `meta`; a reminder whose
moment fell after it and more than a grace period ago fell due while the server was off, and is sent
marked late (【补发】). A "soon" reminder whose deadline has already passed by then is recorded as
superseded and not sent: its "overdue" reminder says more.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..config import Config
from ..domain import reminders as rules
from ..store import all_rows, scalar, write
from ..store import iso as _iso, from_iso as _dt
from . import calendar as calendar_svc
from .notify import notify

SWEPT_KEY = "reminders_swept_at"


def policy(cfg: Config) -> rules.Policy:
    """The domain's view of the [scheduler] settings."""
    s = cfg.scheduler
    return rules.Policy(
        tz=cfg.tz,
        sign_lead=timedelta(minutes=s.sign_lead_minutes),
        due_lead_workdays=s.due_lead_workdays,
        due_remind_time=rules.parse_hhmm(s.due_remind_time),
        request_wait=timedelta(hours=s.request_wait_hours),
        callback_wait=timedelta(hours=s.callback_wait_hours),
        # one missed sweep is not downtime; anything older than two intervals (or 5 minutes) is
        grace=max(timedelta(seconds=2 * s.sweep_seconds), timedelta(minutes=5)),
    )


@dataclass
class SweepResult:
    """What one sweep did: reminders fired (kind, ticket number, late), superseded ones, notifications written."""

    fired: list[tuple[str, str, bool]] = field(default_factory=list)
    superseded: int = 0
    notifications: int = 0

    @property
    def late(self) -> int:
        return sum(1 for _, _, late in self.fired if late)

    def summary(self) -> str:
        text = f"提醒 {len(self.fired)} 条（补发 {self.late}），通知 {self.notifications} 条"
        return text + (f"，已过期不再提醒 {self.superseded} 条" if self.superseded else "")


def _done(row: dict, soon: str) -> frozenset[str]:
    return frozenset({soon}) if row["soon_done"] else frozenset()


def _grouped(rows: list[dict], family: str, deadline_col: str, soon: str) -> list[tuple[rules.Candidate, str]]:
    """Rows (one per ticket and unit) → one candidate per ticket, with the deadline exactly as stored."""
    out: dict[int, tuple[rules.Candidate, str]] = {}
    for r in rows:
        unit = ((r["unit_code"], r["unit_name"]),) if r["unit_code"] else ()
        if r["id"] in out:
            c, raw = out[r["id"]]
            out[r["id"]] = (rules.Candidate(**{**c.__dict__, "units": c.units + unit}), raw)
            continue
        c = rules.Candidate(family, r["id"], r["number"], r["title"], _dt(r[deadline_col]), _dt(r["dispatched_at"]),
                            unit, _done(r, soon))
        out[r["id"]] = (c, r[deadline_col])
    return list(out.values())


def candidates(db, now: datetime, pol: rules.Policy, cal) -> list[tuple[rules.Candidate, str]]:
    """Everything that may have a reminder due, through indexes, minus what is already fully recorded."""
    found: list[tuple[rules.Candidate, str]] = []
    # sign: driven by the partial index of unsigned assignments, so signed work is never read
    rows = all_rows(
        db,
        "SELECT t.id, t.number, t.title, t.sign_deadline, t.dispatched_at, tu.unit_code, u.name AS unit_name, "
        " EXISTS (SELECT 1 FROM reminders r WHERE r.ticket_id = t.id AND r.kind = 'sign_soon'"
        "         AND r.deadline = t.sign_deadline) AS soon_done "
        # CROSS JOIN keeps SQLite from starting at every open ticket: the unsigned assignments are the few
        "FROM ticket_units tu CROSS JOIN tickets t ON t.id = tu.ticket_id JOIN units u ON u.code = tu.unit_code "
        "WHERE tu.active = 1 AND tu.signed_at IS NULL AND t.state IN ('dispatched','in_progress') "
        " AND t.sign_deadline <= ? "
        " AND NOT EXISTS (SELECT 1 FROM reminders r WHERE r.ticket_id = t.id AND r.kind = 'sign_overdue'"
        "                 AND r.deadline = t.sign_deadline) "
        "ORDER BY t.id, tu.role DESC, tu.unit_code",
        (_iso(rules.sign_horizon(now, pol)),),
    )
    found += _grouped(rows, "sign", "sign_deadline", "sign_soon")
    rows = all_rows(
        db,
        "SELECT t.id, t.number, t.title, t.due_at, t.dispatched_at, t.lead_unit AS unit_code, u.name AS unit_name, "
        " EXISTS (SELECT 1 FROM reminders r WHERE r.ticket_id = t.id AND r.kind = 'due_soon'"
        "         AND r.deadline = t.due_at) AS soon_done "
        "FROM tickets t LEFT JOIN units u ON u.code = t.lead_unit "
        "WHERE t.state IN ('dispatched','in_progress') AND t.due_at <= ? "
        " AND NOT EXISTS (SELECT 1 FROM reminders r WHERE r.ticket_id = t.id AND r.kind = 'due_overdue'"
        "                 AND r.deadline = t.due_at) "
        "ORDER BY t.id",
        (_iso(rules.due_horizon(now, pol, cal)),),
    )
    found += _grouped(rows, "due", "due_at", "due_soon")
    for kind in ("extension", "return"):
        rows = all_rows(
            db,
            "SELECT t.id, t.number, t.title, q.requested_at, NULL AS dispatched_at, q.unit_code, u.name AS unit_name, "
            " 0 AS soon_done "
            "FROM requests q JOIN tickets t ON t.id = q.ticket_id JOIN units u ON u.code = q.unit_code "
            "WHERE q.status = 'pending' AND q.kind = ? AND q.requested_at <= ? "
            " AND NOT EXISTS (SELECT 1 FROM reminders r WHERE r.ticket_id = t.id AND r.kind = ?"
            "                 AND r.deadline = q.requested_at) "
            "ORDER BY q.id",
            (kind, _iso(now - pol.request_wait), f"{kind}_waiting"),
        )
        found += _grouped(rows, kind, "requested_at", "")
    rows = all_rows(
        db,
        "SELECT t.id, t.number, t.title, t.replied_at, NULL AS dispatched_at, t.lead_unit AS unit_code, "
        " u.name AS unit_name, 0 AS soon_done "
        "FROM tickets t LEFT JOIN units u ON u.code = t.lead_unit "
        "WHERE t.state = 'replied' AND t.replied_at <= ? "
        " AND NOT EXISTS (SELECT 1 FROM reminders r WHERE r.ticket_id = t.id AND r.kind = 'callback_due'"
        "                 AND r.deadline = t.replied_at) "
        "ORDER BY t.id",
        (_iso(now - pol.callback_wait),),
    )
    found += _grouped(rows, "callback", "replied_at", "")
    return found


def last_sweep(db) -> datetime | None:
    """When the previous sweep ran (None before the first)."""
    return _dt(scalar(db, "SELECT value FROM meta WHERE key = ?", (SWEPT_KEY,)))


def sweep(db, cfg: Config, now: datetime) -> SweepResult:
    """Fire every reminder due at `now` exactly once, in one transaction; catch up after downtime (marked late)."""
    pol = policy(cfg)
    cal = calendar_svc.load(db)
    result = SweepResult()
    with write(db):
        previous = last_sweep(db)
        if previous is not None and previous > now:
            previous = None  # the clock went back: do not trust it for "late"
        for c, raw in candidates(db, now, pol, cal):
            for r in rules.due(c, now, previous, pol, cal):
                cur = db.conn.execute(
                    "INSERT OR IGNORE INTO reminders (ticket_id, kind, deadline, due_at, fired_at, late, superseded)"
                    " VALUES (?,?,?,?,?,?,?)",
                    (c.ticket_id, r.kind, raw, _iso(r.due_at), _iso(now), int(r.late), int(r.superseded)),
                )
                if cur.rowcount == 0:
                    continue
                if r.superseded:
                    result.superseded += 1
                    continue
                deadline = c.deadline if c.family in ("sign", "due") else r.due_at
                for m in rules.messages(r, c, pol):
                    notify(db, kind=r.kind, ticket_id=c.ticket_id, text=m.text, now=now, deadline=deadline,
                           late=r.late, reminder_id=cur.lastrowid,
                           **({"unit_code": m.to} if m.target == "unit" else {"role": m.to}))
                    result.notifications += 1
                result.fired.append((r.kind, c.number, r.late))
        db.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (SWEPT_KEY, _iso(now)),
        )
    return result


def recent(db, limit: int = 50) -> list[dict]:
    """The latest recorded reminders, for the admin."""
    return all_rows(
        db,
        "SELECT r.*, t.number FROM reminders r JOIN tickets t ON t.id = r.ticket_id ORDER BY r.id DESC LIMIT ?",
        (limit,),
    )
