"""Login, logout, forced password change, and the role gate used by every view."""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user

from .. import get_db, now
from ..domain.errors import ValidationFailed
from ..domain.roles import ROLES, Actor
from ..services import accounts

bp = Blueprint("auth", __name__)
login_manager = LoginManager()


class User(UserMixin):
    """The logged-in user as Flask-Login sees it."""

    def __init__(self, row: dict):
        self.row = row
        self.id = row["id"]
        self.username = row["username"]
        self.display_name = row["display_name"] or row["username"]
        self.role = row["role"]
        self.unit_code = row["unit_code"]
        self.must_change = bool(row["must_change"])

    @property
    def role_label(self) -> str:
        return ROLES[self.role]

    @property
    def actor(self) -> Actor:
        return Actor(self.id, self.display_name, self.role, self.unit_code)

    @property
    def is_active(self) -> bool:
        return not self.row["disabled"]


@login_manager.user_loader
def _load(user_id: str):
    row = accounts.get(get_db(), int(user_id))
    return User(row) if row else None


def init_app(app) -> None:
    """Wire Flask-Login and the forced-password-change gate."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录。"
    login_manager.login_message_category = "info"

    @app.before_request
    def _force_password_change():
        if (
            current_user.is_authenticated
            and current_user.must_change
            and request.endpoint not in ("auth.change_password", "auth.logout", "static")
            and not (request.endpoint or "").startswith("api.")
        ):
            return redirect(url_for("auth.change_password"))


def roles_required(*roles: str):
    """Allow only these roles (login required); others get 403."""

    def wrap(view):
        @wraps(view)
        @login_required
        def inner(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return inner

    return wrap


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    error = None
    username = request.form.get("username", "")
    if request.method == "POST":
        cfg = current_app.config["HOTLINE"]
        try:
            row = accounts.authenticate(
                get_db(), username, request.form.get("password", ""), now(),
                cfg.security.lockout_attempts, cfg.security.lockout_minutes,
            )
        except accounts.LoginRefused as exc:
            error = exc.message
        else:
            session.permanent = True
            login_user(User(row))
            nxt = request.args.get("next", "")
            if not nxt.startswith("/") or nxt.startswith("//"):
                nxt = url_for("main.home")
            return redirect(nxt)
    return render_template("auth/login.html", error=error, username=username), (401 if error else 200)


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    flash("已退出登录。", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    errors = {}
    if request.method == "POST":
        new, again = request.form.get("new", ""), request.form.get("again", "")
        if new != again:
            errors["again"] = "两次输入的新密码不一致。"
        else:
            try:
                accounts.change_own_password(get_db(), current_user.id, request.form.get("old", ""), new, now())
            except ValidationFailed as exc:
                errors = exc.errors or {"new": exc.message}
            else:
                flash("密码已修改。", "success")
                return redirect(url_for("main.home"))
    return render_template("auth/password.html", errors=errors), (422 if errors else 200)
