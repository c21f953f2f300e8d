"""The job bodies: each takes (db, cfg, now), calls one or two services, and returns a one-line result."""
from __future__ import annotations

from datetime import datetime

from app.config import Config
from app.services import backup as backup_svc, notices, outbox as outbox_svc, reminders


def sweep(db, cfg: Config, now: datetime) -> str:
    """Fire the reminders that are due (and any missed while the server was off)."""
    return reminders.sweep(db, cfg, now).summary()


def outbox(db, cfg: Config, now: datetime) -> str:
    """Send what the outbox holds that is due (SMS gateway, file channel)."""
    return outbox_svc.deliver(db, cfg, now).summary()


def daily_notice(db, cfg: Config, now: datetime) -> str:
    """Generate today's county-wide overdue notice on a working day, once."""
    made = notices.run_daily(db, cfg, now)
    if made is None:
        return "今天无需生成（非工作日、未到时间或已生成）"
    return f"已生成 {made['doc_number']}：{made['unit_count']} 个单位 {made['ticket_count']} 件超期"


def backup(db, cfg: Config, now: datetime) -> str:
    """Take the nightly backup if it has not been taken since the last backup time."""
    made = backup_svc.nightly(cfg, now)
    if made is None:
        return "今天的备份已有"
    pruned = f"，清理旧备份 {len(made['pruned'])} 份" if made["pruned"] else ""
    return f"已备份到 {made['path'].name}（{made['size'] // 1024} KB，完整性正常）{pruned}"
