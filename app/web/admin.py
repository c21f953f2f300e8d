"""Admin pages: users, units, territories, dispatch catalogue, working-day calendar, audit log, imports."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from .. import get_db, now
from ..domain.calendar import month_grid
from ..domain.errors import ImportFailed, NotFound, ValidationFailed
from ..domain.roles import ROLES, TERRITORY_LEVELS, UNIT_KINDS, URGENCY_LABELS
from ..services import accounts, audit, calendar as calendar_svc, catalogue, directory
from .auth import roles_required

bp = Blueprint("admin", __name__)


@bp.before_request
@roles_required("admin")
def _gate():
    """Every admin route is for the admin role only."""


def _actor():
    return current_user.actor


@bp.get("/")
def index():
    return redirect(url_for("admin.users"))


# ---- users ---------------------------------------------------------------


@bp.get("/users")
def users():
    return render_template("admin/users.html", users=accounts.list_users(get_db()), roles=ROLES)


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    db = get_db()
    form, errors = request.form, {}
    if request.method == "POST":
        try:
            accounts.create_user(
                db, _actor(), now(), username=form.get("username", ""), password=form.get("password", ""),
                role=form.get("role", ""), unit_code=form.get("unit_code"), display_name=form.get("display_name", ""),
                phone=form.get("phone", ""),
            )
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            flash(f"已创建用户 {form.get('username')}，首次登录须修改密码。", "success")
            return redirect(url_for("admin.users"))
    return render_template(
        "admin/user_form.html", form=form, errors=errors, user=None, roles=ROLES, units=directory.list_units(db, False)
    ), (422 if errors else 200)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user_edit(user_id: int):
    db = get_db()
    user = accounts.get(db, user_id) or abort(404)
    form, errors = (request.form if request.method == "POST" else user), {}
    if request.method == "POST":
        try:
            accounts.update_user(
                db, _actor(), user_id, now(), role=form.get("role", ""), unit_code=form.get("unit_code"),
                display_name=form.get("display_name", ""), phone=form.get("phone", ""),
                disabled=form.get("disabled") == "1",
            )
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            flash("已保存。", "success")
            return redirect(url_for("admin.users"))
    return render_template(
        "admin/user_form.html", form=form, errors=errors, user=user, roles=ROLES, units=directory.list_units(db, False)
    ), (422 if errors else 200)


@bp.post("/users/<int:user_id>/password")
def user_password(user_id: int):
    try:
        accounts.reset_password(get_db(), _actor(), user_id, request.form.get("password", ""), now())
    except ValidationFailed as exc:
        flash(f"重置失败：{exc.message}", "error")
    except NotFound:
        abort(404)
    else:
        flash("已重置密码并解除锁定，该用户下次登录须修改密码。", "success")
    return redirect(url_for("admin.user_edit", user_id=user_id))


# ---- imports shared by units, territories, catalogue, calendar -------------


def _import(kind: str, fn, back: str):
    upload = request.files.get("file")
    if not upload or not upload.filename:
        flash("请选择要导入的 CSV 文件。", "error")
        return redirect(url_for(back))
    try:
        result = fn(get_db(), _actor(), upload.read(), now())
    except ImportFailed as exc:
        return render_template("admin/import_failed.html", kind=kind, error=exc, back=back), 422
    flash(f"{kind}导入成功：{_describe(result)}", "success")
    return redirect(url_for(back))


def _describe(result: dict) -> str:
    if "added" in result:
        return f"新增 {result['added']} 条，更新 {result['updated']} 条。"
    return "；".join(f"{year} 年 {n} 天" for year, n in result.items())


# ---- units ---------------------------------------------------------------


@bp.get("/units")
def units():
    return render_template("admin/units.html", units=directory.list_units(get_db()), kinds=UNIT_KINDS)


@bp.route("/units/new", methods=["GET", "POST"])
@bp.route("/units/<code>", methods=["GET", "POST"])
def unit_form(code: str | None = None):
    db = get_db()
    unit = directory.get_unit(db, code) if code else None
    form, errors = (request.form if request.method == "POST" else (unit or {})), {}
    if request.method == "POST":
        try:
            directory.save_unit(db, _actor(), form, now(), existing_code=code)
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            flash("单位已保存。", "success")
            return redirect(url_for("admin.units"))
    return render_template("admin/unit_form.html", form=form, errors=errors, unit=unit, kinds=UNIT_KINDS), (
        422 if errors else 200
    )


@bp.post("/units/import")
def units_import():
    return _import("单位", directory.import_units, "admin.units")


# ---- territories -----------------------------------------------------------


@bp.get("/territories")
def territories():
    return render_template("admin/territories.html", rows=directory.list_territories(get_db()), levels=TERRITORY_LEVELS)


@bp.route("/territories/new", methods=["GET", "POST"])
@bp.route("/territories/<code>", methods=["GET", "POST"])
def territory_form(code: str | None = None):
    db = get_db()
    terr = directory.get_territory(db, code) if code else None
    form, errors = (request.form if request.method == "POST" else (terr or {})), {}
    if request.method == "POST":
        try:
            directory.save_territory(db, _actor(), form, now(), existing_code=code)
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            flash("属地已保存。", "success")
            return redirect(url_for("admin.territories"))
    return render_template(
        "admin/territory_form.html", form=form, errors=errors, terr=terr, levels=TERRITORY_LEVELS,
        townships=directory.townships(db), units=directory.list_units(db, False),
    ), (422 if errors else 200)


@bp.post("/territories/import")
def territories_import():
    return _import("属地", directory.import_territories, "admin.territories")


# ---- catalogue -------------------------------------------------------------


@bp.get("/catalogue")
def catalogue_tree():
    return render_template("admin/catalogue.html", tree=catalogue.tree(get_db()), urgencies=URGENCY_LABELS)


@bp.route("/catalogue/new", methods=["GET", "POST"])
@bp.route("/catalogue/<code>", methods=["GET", "POST"])
def category_form(code: str | None = None):
    db = get_db()
    leaf = catalogue.get_leaf(db, code) if code else None
    if request.method == "POST":
        form = request.form
    elif leaf:
        import json

        form = {**leaf, "major_code": leaf["parent_code"], "co_units": ";".join(json.loads(leaf["co_units"])),
                "keywords": ";".join(json.loads(leaf["keywords"]))}
    else:
        form = {}
    errors = {}
    if request.method == "POST":
        try:
            catalogue.save_leaf(db, _actor(), form, now(), existing_code=code)
        except ValidationFailed as exc:
            errors = exc.errors
        else:
            flash("派单目录已保存。", "success")
            return redirect(url_for("admin.catalogue_tree"))
    return render_template(
        "admin/category_form.html", form=form, errors=errors, leaf=leaf, urgencies=URGENCY_LABELS,
        units=directory.list_units(db, False), majors=catalogue.tree(db),
    ), (422 if errors else 200)


@bp.post("/catalogue/import")
def catalogue_import():
    return _import("派单目录", catalogue.import_csv, "admin.catalogue_tree")


# ---- calendar --------------------------------------------------------------


@bp.get("/calendar")
def calendar_view():
    db = get_db()
    today = now().date()
    try:
        year = int(request.args.get("year", today.year))
        month = int(request.args.get("month", today.month))
        date(year, month, 1)
    except ValueError:
        abort(404)
    if not 1900 <= year <= 2100:  # the month grid and its prev/next links need the neighbouring months to exist
        abort(404)
    cal = calendar_svc.load(db)
    prev = (year - (month == 1), 12 if month == 1 else month - 1)
    nxt = (year + (month == 12), 1 if month == 12 else month + 1)
    return render_template(
        "admin/calendar.html", weeks=month_grid(cal, year, month), year=year, month=month, prev=prev, nxt=nxt,
        coverage=calendar_svc.coverage(db, today), known=year in cal.years, today=today,
    )


@bp.post("/calendar/day")
def calendar_day():
    try:
        day = date.fromisoformat(request.form.get("date", ""))
    except ValueError:
        flash("日期格式不对。", "error")
        return redirect(url_for("admin.calendar_view"))
    try:
        calendar_svc.set_day(get_db(), _actor(), day, request.form.get("kind", ""), request.form.get("name", ""), now())
    except ValidationFailed as exc:
        flash(exc.message, "error")
    else:
        flash(f"{day} 已设为“{ {'holiday': '节假日', 'workday': '调休上班', 'normal': '正常'}[request.form['kind']] }”。", "success")
    return redirect(url_for("admin.calendar_view", year=day.year, month=day.month))


@bp.post("/calendar/year")
def calendar_year():
    try:
        year = int(request.form.get("year", ""))
    except ValueError:
        abort(400)
    calendar_svc.mark_year_entered(get_db(), _actor(), year, now())
    flash(f"{year} 年已标记为已录入。", "success")
    return redirect(url_for("admin.calendar_view", year=year, month=1))


@bp.post("/calendar/import")
def calendar_import():
    return _import("工作日历", calendar_svc.import_csv, "admin.calendar_view")


# ---- audit -----------------------------------------------------------------


@bp.get("/audit")
def audit_log():
    page = max(1, request.args.get("page", 1, type=int))
    rows = audit.recent(get_db(), 100, (page - 1) * 100)
    return render_template("admin/audit.html", rows=rows, page=page)
