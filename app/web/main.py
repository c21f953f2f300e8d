"""Home page per role, the about page, and the calendar-gap banner shown to admin and centre."""
from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, url_for
from flask_login import current_user, login_required

from .. import get_db, now
from ..__version__ import __version__
from ..services import calendar as calendar_svc

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
    return render_template("main/home.html")


@bp.route("/about")
def about():
    db = get_db()
    cov = calendar_svc.coverage(db, now().date())
    return render_template("main/about.html", coverage=cov)
