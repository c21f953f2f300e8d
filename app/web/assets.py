"""Static files with content-hashed URLs, cached for a year; gzip for text responses."""
from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache
from pathlib import Path

from flask import request, url_for

YEAR = 365 * 24 * 3600
COMPRESSIBLE = ("text/", "application/json", "application/javascript", "image/svg+xml")


@lru_cache(maxsize=256)
def _digest(path: str, mtime: float) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def init_app(app) -> None:
    """Add `asset()` to templates, long caching for hashed URLs, and gzip."""
    folder = Path(app.static_folder)

    def asset(filename: str) -> str:
        path = folder / filename
        return url_for("static", filename=filename, v=_digest(str(path), path.stat().st_mtime))

    app.jinja_env.globals["asset"] = asset

    @app.after_request
    def _cache_and_compress(resp):
        if request.endpoint == "static":
            if request.args.get("v"):
                resp.cache_control.no_cache = None  # send_file's default; a hashed URL never changes
                resp.cache_control.public = True
                resp.cache_control.max_age = YEAR
                resp.cache_control.immutable = True
            return _gzip_static(resp)
        if (
            "gzip" in request.headers.get("Accept-Encoding", "")
            and resp.status_code == 200
            and not resp.direct_passthrough
            and resp.mimetype.startswith(COMPRESSIBLE)
            and "Content-Encoding" not in resp.headers
        ):
            data = resp.get_data()
            if len(data) > 500:
                resp.set_data(gzip.compress(data, compresslevel=6))
                resp.headers["Content-Encoding"] = "gzip"
                resp.headers["Content-Length"] = str(len(resp.get_data()))
            resp.vary.add("Accept-Encoding")
        return resp


@lru_cache(maxsize=64)
def _gzipped(path: str, mtime: float) -> bytes:
    return gzip.compress(Path(path).read_bytes(), compresslevel=9)


def _gzip_static(resp):
    """Static text files go out gzip-compressed (compressed once per file version, kept in memory)."""
    resp.vary.add("Accept-Encoding")
    if (
        resp.status_code != 200
        or "gzip" not in request.headers.get("Accept-Encoding", "")
        or not resp.mimetype.startswith(COMPRESSIBLE)
    ):
        return resp
    from flask import current_app

    path = Path(current_app.static_folder) / (request.view_args or {}).get("filename", "")
    if not path.is_file():
        return resp
    data = _gzipped(str(path), path.stat().st_mtime)
    opened = resp.response  # send_file's open file: close it, or a real server leaks one per request
    resp.direct_passthrough = False
    resp.set_data(data)
    if hasattr(opened, "close"):
        opened.close()
    resp.headers["Content-Encoding"] = "gzip"
    resp.headers["Content-Length"] = str(len(data))
    return resp
