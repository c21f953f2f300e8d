"""Admin pages for background work: the jobs (last run, next run, last error), backups, and the outbox."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from .. import get_db, now
from ..domain.reminders import KINDS
from ..services import backup, jobs, notices, outbox, reminders
from .auth import roles_required

bp = Blueprint("admin_jobs", __name__)


@bp.before_request
@roles_required("admin")
def _gate():
    """These pages are for the admin role only."""


def _cfg():
    return current_app.config["HOTLINE"]


@bp.get("/jobs")
def index():
    db, cfg = get_db(), _cfg()
    running = current_app.extensions.get("hotline_scheduler")
    return render_template(
        "admin/jobs.html", jobs=jobs.listing(db), cfg=cfg, backups=backup.list_backups(cfg),
        in_this_process=bool(running and running.scheduler), next_notice=notices.next_run(db, cfg, now()),
        last_sweep=reminders.last_sweep(db), recent=reminders.recent(db, 20), kinds=KINDS,
        outbox_counts=outbox.counts(db),
    )


@bp.post("/jobs/backup")
def backup_now():
    try:
        made = backup.create(_cfg(), now())
    except backup.BackupError as exc:
        flash(exc.message, "error")
    else:
        flash(f"已备份到 {made['path'].name}（{made['size'] // 1024} KB，完整性检查正常）。", "success")
    return redirect(url_for("admin_jobs.index"))


@bp.get("/outbox")
def outbox_page():
    db = get_db()
    status = request.args.get("status") or None
    if status not in outbox.STATUS:
        status = None
    return render_template("admin/outbox.html", rows=outbox.listing(db, status), counts=outbox.counts(db),
                           status=status, statuses=outbox.STATUS, channels=outbox.CHANNELS, kinds=KINDS,
                           sms_configured=bool(_cfg().notify.sms_url), file_path=outbox.file_path(_cfg()))


@bp.post("/outbox/retry")
def outbox_retry():
    row_id = request.form.get("id", type=int)
    n = outbox.retry(get_db(), row_id, now())
    flash(f"已重新排队 {n} 条，稍后自动发送。" if n else "没有需要重发的。", "success" if n else "info")
    return redirect(url_for("admin_jobs.outbox_page", status="failed"))
