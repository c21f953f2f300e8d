"""Error pages in Chinese (HTML) and JSON error bodies (API), decided in one place."""
from __future__ import annotations

from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from ..domain.errors import HotlineError

MESSAGES = {
    400: "请求有误。",
    401: "请先登录。",
    403: "您没有权限访问这个页面。",
    404: "页面不存在，或者您无权查看。",
    405: "不支持这种操作方式。",
    409: "操作与当前状态冲突。",
    413: "上传的文件太大。",
    422: "提交的内容有误。",
    500: "服务器内部错误，请稍后再试；如果一直出现，请联系县信息中心。",
}


def wants_json() -> bool:
    """API requests get JSON errors."""
    return request.path.startswith("/api/")


def error_response(status: int, code: str, message: str, **extra):
    """One error as JSON (API) or as the Chinese error page."""
    if wants_json():
        body = {"error": {"code": code, "message": message, **extra}}
        return jsonify(body), status
    return render_template("errors/error.html", status=status, message=message), status


def init_app(app) -> None:
    """Register the handlers."""

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return error_response(400, "csrf", "页面已过期或来源不明（CSRF 校验失败），请刷新页面后重新提交。")

    @app.errorhandler(HotlineError)
    def _domain(exc: HotlineError):
        extra = {"errors": exc.errors} if exc.errors else {}
        return error_response(exc.status, exc.code, exc.message, **extra)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        status = exc.code or 500
        return error_response(status, exc.name.lower().replace(" ", "_"), MESSAGES.get(status, exc.description))

    @app.errorhandler(Exception)
    def _unexpected(exc):
        app.logger.exception("unhandled error")
        return error_response(500, "internal", MESSAGES[500])
