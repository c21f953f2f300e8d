"""The integration API /api/v1 for the web and WeChat channels, scripts and tests: bearer tokens, JSON in and out."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__)

from . import auth, supervision, v1  # noqa: E402,F401  (they register their hooks and routes on bp)
