"""Bearer-token authentication for the API: every route but the OpenAPI document needs a live token."""
from __future__ import annotations

from flask import g, request

from .. import get_db, now
from ..domain.errors import HotlineError
from ..domain.roles import Actor
from ..services import tokens
from ..web.errors import error_response
from . import bp

PUBLIC_ENDPOINTS = {"api.openapi_document"}


class Unauthorized(HotlineError):
    """No token, an unknown token or a revoked one."""

    code = "unauthorized"
    status = 401


def _bearer() -> str:
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


@bp.before_request
def _authenticate():
    """Turn the Authorization header into g.actor (and g.token), or refuse with 401."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    plain = _bearer()
    if not plain:
        raise Unauthorized("缺少接口令牌：请在请求头加上 Authorization: Bearer <令牌>。")
    row = tokens.authenticate(get_db(), plain, now())
    if row is None:
        raise Unauthorized("接口令牌无效或已撤销。")
    g.token = row
    g.actor = tokens.actor_for(row)


@bp.errorhandler(Unauthorized)
def _unauthorized(exc: Unauthorized):
    body, status = error_response(exc.status, exc.code, exc.message)
    body.headers["WWW-Authenticate"] = 'Bearer realm="hotline"'
    return body, status


def actor() -> Actor:
    """The token's actor for this request."""
    return g.actor
