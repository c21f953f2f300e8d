"""The Flask application factory: config, one SQLite connection per request, blueprints, error pages."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import Flask, g
from flask_htmx import HTMX
from flask_wtf.csrf import CSRFProtect

from . import config as config_mod
from .config import ROOT, Config

csrf = CSRFProtect()
htmx = HTMX()


def _secret_key(cfg: Config) -> str:
    if cfg.security.secret_key:
        return cfg.security.secret_key
    path = cfg.data_path / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def create_app(cfg: Config | None = None, test_config: dict | None = None) -> Flask:
    """Build the app from a validated Config (loaded from file when not given)."""
    cfg = cfg or config_mod.load()
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    app.config.update(
        HOTLINE=cfg,
        SECRET_KEY=_secret_key(cfg),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=cfg.security.secure_cookie,
        REMEMBER_COOKIE_HTTPONLY=True,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=cfg.security.session_hours),
        MAX_CONTENT_LENGTH=(cfg.limits.attachment_max_mb * 5 + 2) * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # the session lifetime bounds the token; a long call must not expire the form
        JSON_AS_ASCII=False,
    )
    if test_config:
        app.config.update(test_config)
    app.json.ensure_ascii = False
    cfg.data_path.mkdir(parents=True, exist_ok=True)

    csrf.init_app(app)
    htmx.init_app(app)

    from .web import assets, auth, errors

    auth.init_app(app)
    errors.init_app(app)
    assets.init_app(app)
    from .web import admin, main, queues, tickets

    app.register_blueprint(main.bp)
    app.register_blueprint(tickets.bp, url_prefix="/tickets")
    app.register_blueprint(queues.bp, url_prefix="/queue")
    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp, url_prefix="/admin")
    from .web import tokens as admin_tokens

    app.register_blueprint(admin_tokens.bp, url_prefix="/admin/tokens")
    from .web import jobs as admin_jobs, notices, notifications

    app.register_blueprint(notifications.bp, url_prefix="/notifications")
    from .web import supervision

    app.register_blueprint(supervision.bp, url_prefix="/supervision")
    app.register_blueprint(notices.bp, url_prefix="/notices")
    app.register_blueprint(admin_jobs.bp, url_prefix="/admin")
    from . import api

    csrf.exempt(api.bp)  # bearer tokens, no cookies: CSRF does not apply
    app.register_blueprint(api.bp, url_prefix="/api/v1")

    app.teardown_appcontext(close_db)
    return app


def get_db():
    """The request's (or job's) database connection, opened on first use."""
    from flask import current_app

    from .store import connect

    if "db" not in g:
        g.db = connect(current_app.config["HOTLINE"].db_path)
    return g.db


def close_db(_exc=None) -> None:
    """Close the connection at the end of the request or app context."""
    db = g.pop("db", None)
    if db is not None:
        db.conn.close()


def now() -> datetime:
    """The current time in the configured timezone (views and jobs pass this to services)."""
    from flask import current_app

    return datetime.now(current_app.config["HOTLINE"].tz).replace(microsecond=0)
