"""Home page per role, the about page, and the calendar-gap banner shown to admin and centre."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, url_for
from flask_login import current_user, login_required

from .. import get_db, now
from ..__version__ import __version__
from ..services import calendar as calendar_svc, directory, lists

bp = Blueprint("main", __name__)


@bp.app_context_processor
def _globals():
    cfg = current_app.config["HOTLINE"]
    banner = None
    if current_user.is_authenticated and current_user.role in ("admin", "center"):
        missing = calendar_svc.coverage(get_db(), now().date())["missing"]
        if missing:
            banner = (
                f"工作日历缺少 {'、'.join(map(str, missing))} 年的节假日安排，相关期限暂按“周一至周五上班”计算。"
                "请管理员在“工作日历”中导入或录入国务院办公厅公布的安排。"
            )
    return {"county_name": cfg.county.name, "calendar_banner": banner, "version": __version__}


@bp.route("/")
@login_required
def home():
    db, role, t = get_db(), current_user.role, now()
    ctx: dict = {"unit": None}
    if role in ("operator", "center"):
        ctx.update(counts=lists.center_counts(db, t), center_tabs=lists.CENTER_TABS)
    elif role == "handler":
        ctx.update(counts=lists.unit_counts(db, current_user.unit_code, t), unit_tabs=lists.UNIT_TABS,
                   unit=directory.get_unit(db, current_user.unit_code))
    elif role == "leader":
        ctx.update(figures=_leader_figures(db, t), overdue=lists.center_queue(db, "overdue", t, per_page=10))
    return render_template("main/home.html", **ctx)


def _leader_figures(db, t) -> list[tuple[str, int, str]]:
    """The county's key numbers on one screen, each linking to its list."""
    fig = lists.county_figures(db, t)
    return [
        ("今日受理", fig["today"], url_for("tickets.search", **{"from": t.date().isoformat()})),
        ("在办工单", fig["open"], url_for("tickets.search")),
        ("已超期", fig["overdue"], url_for("queues.center", tab="overdue")),
        ("超时未签收", fig["sign_overdue"], url_for("queues.center", tab="sign_overdue")),
        ("待回访", fig["replies"], url_for("queues.center", tab="replies")),
        ("上报协调", fig["escalated"], url_for("queues.center", tab="escalated")),
    ]


@bp.route("/about")
def about():
    db = get_db()
    cov = calendar_svc.coverage(db, now().date())
    return render_template("main/about.html", coverage=cov)
