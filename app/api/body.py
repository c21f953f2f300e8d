"""Reading request bodies for the API: JSON objects (or multipart forms with files), values checked for type."""
from __future__ import annotations

import json

from flask import request

from ..domain.errors import HotlineError, ValidationFailed
from ..services.tickets import Upload

# the only fields that may be true/false; every other field is text (numbers are accepted and read as text)
BOOL_FIELDS = {"approve", "resolved", "anonymous", "confidential"}
LIST_FIELDS = {"co_units"}
FILE_ACTIONS = ("reply", "contact", "note", "co_reply")  # the actions whose body may be multipart/form-data with files


class BadJSON(HotlineError):
    """A body that is not a JSON object."""

    code = "bad_json"
    status = 400


def _text(key: str, value, errors: dict):
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        if key in BOOL_FIELDS:
            return value
        errors[key] = "应为文本，不是 true/false。"
        return None
    if isinstance(value, (int, float)):
        return str(value)
    errors[key] = "格式不对：应为文本或数字。"
    return None


def clean(raw: dict) -> dict:
    """Values as the services expect them: text, true/false where allowed, a list of codes for co_units."""
    out, errors = {}, {}
    for key, value in raw.items():
        if key in LIST_FIELDS and isinstance(value, list):
            out[key] = [_text(key, v, errors) for v in value]
        else:
            out[key] = _text(key, value, errors)
    if errors:
        raise ValidationFailed("请改正标出的内容。", errors=errors)
    return out


def read(allow_files: bool = False) -> tuple[dict, list[Upload]]:
    """The body as a cleaned dict, and the uploaded files when this action takes them."""
    if allow_files and request.mimetype == "multipart/form-data":
        form = {k: (vs if k in LIST_FIELDS else vs[-1]) for k, vs in request.form.lists()}
        files = [Upload(f.read(), f.filename or "") for f in request.files.getlist("files") if f]
        return clean(form), files
    data = request.get_data(cache=True)
    if not data.strip():
        return {}, []
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise BadJSON("请求体不是有效的 JSON。") from None
    if not isinstance(raw, dict):
        raise BadJSON("请求体应为 JSON 对象（{...}）。")
    return clean(raw), []


def version(data: dict) -> int | None:
    """Pop the optional `version` for optimistic concurrency; it must be a whole number."""
    value = data.pop("version", None)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise ValidationFailed("版本号应为整数。", errors={"version": "版本号应为整数。"}) from None
