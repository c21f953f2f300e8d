"""Delivery of queued notifications: an SMS gateway over HTTP and a plain file, with retries and backoff.

The SMS gateway is described in the config the way most Chinese SMS platforms' HTTP APIs look: a URL,
a method, headers and a body template with {phone} and {text}. Each placeholder is escaped for where
it stands: URL-encoded in the URL and in form bodies, JSON-escaped in JSON bodies. A failed send is
retried after retry_seconds, then twice that, and so on, up to max_attempts; then it is marked failed
and shown on the admin's outbox page, where it can be sent again. A channel that is not configured
marks its rows "skipped": nothing fails and nothing piles up.

Delivery runs in the one process that holds the jobs lock, so a row is never sent by two senders. A
crash between the gateway accepting a message and the row being marked sent would send it once more
after the restart; that is the only repeat possible.
"""
from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from ..config import Config, Notify
from ..store import all_rows, one, scalar, write
from ..store import iso as _iso

STATUS = {"pending": "待发送", "sent": "已发送", "failed": "发送失败", "skipped": "未发送（通道未配置）"}
CHANNELS = {"sms": "短信", "file": "文件"}
BATCH = 100
ERROR_CHARS = 300
PLACEHOLDER = re.compile(r"\{(phone|text)\}")


class SendFailed(Exception):
    """The channel did not accept the message; the text says why (shown to the admin)."""


# ---- the SMS gateway -------------------------------------------------------------------------------


def _escape(value: str, mode: str) -> str:
    if mode == "url":
        return urllib.parse.quote(value, safe="")
    if mode == "form":
        return urllib.parse.quote_plus(value)
    if mode == "json":
        return json.dumps(value, ensure_ascii=False)[1:-1]  # the inside of a JSON string literal
    return value


def fill(template: str, phone: str, text: str, mode: str) -> str:
    """Put phone and text into a template in one pass (so a text containing '{phone}' stays as it is)."""
    return PLACEHOLDER.sub(lambda m: _escape(phone if m[1] == "phone" else text, mode), template)


def _headers(n: Notify) -> dict[str, str]:
    return {str(k): str(v) for k, v in n.sms_headers.items()}


def body_mode(n: Notify) -> tuple[str, dict[str, str]]:
    """How to escape the body ('json', 'form' or 'raw') and the headers to send, from the Content-Type."""
    headers = _headers(n)
    ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    if ctype is None:
        # no Content-Type given: a body that looks like JSON is JSON, anything else a form
        if n.sms_body.lstrip().startswith(("{", "[")):
            ctype = "application/json; charset=utf-8"
        else:
            ctype = "application/x-www-form-urlencoded; charset=utf-8"
        headers["Content-Type"] = ctype
    low = ctype.lower()
    mode = "json" if "json" in low else "form" if "x-www-form-urlencoded" in low else "raw"
    return mode, headers


def build_request(n: Notify, phone: str, text: str) -> urllib.request.Request:
    """The HTTP request for one SMS, from the config's URL, method, headers and body templates."""
    method = n.sms_method.upper()
    url = fill(n.sms_url, phone, text, "url")
    data = None
    headers = _headers(n)
    if method != "GET" and n.sms_body:
        mode, headers = body_mode(n)
        data = fill(n.sms_body, phone, text, mode).encode("utf-8")
    return urllib.request.Request(url, data=data, headers=headers, method=method)


# the gateway is on the county network: ignore *_proxy variables meant for the internet
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def send_sms(n: Notify, phone: str, text: str) -> None:
    """Send one SMS through the configured gateway, or raise SendFailed with the reason."""
    req = build_request(n, phone, text)
    try:
        with _opener.open(req, timeout=n.timeout_seconds) as resp:
            body = resp.read(64 * 1024).decode("utf-8", "replace")
            status = resp.status
    except urllib.error.HTTPError as exc:
        with exc:  # the error carries the open response; close it
            detail = exc.read(2000).decode("utf-8", "replace").strip()
        raise SendFailed(f"短信网关返回 HTTP {exc.code}：{detail[:200]}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SendFailed(f"无法连接短信网关：{reason}") from None
    if not 200 <= status < 300:
        raise SendFailed(f"短信网关返回 HTTP {status}：{body[:200]}")
    if n.sms_ok and n.sms_ok not in body:
        raise SendFailed(f"短信网关未确认发送（响应中没有“{n.sms_ok}”）：{body[:200]}")


# ---- the file channel --------------------------------------------------------------------------------


def file_line(row: dict) -> str:
    """One tab-separated line: created, kind, ticket, to whom, phones, late, text (no tabs or newlines inside)."""
    target = row["unit_code"] or (f"user:{row['user_id']}" if row["user_id"] else f"role:{row['role']}")
    fields = [row["created_at"], row["kind"], row["number"] or "", target, row["phones"] or "",
              "late" if row["late"] else "", row["text"]]
    return "\t".join(re.sub(r"[\t\r\n]+", " ", str(f)) for f in fields) + "\n"


def append_line(path: Path, line: str) -> None:
    """Append and fsync, so a line the outbox marked sent is on disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


def file_path(cfg: Config) -> Path | None:
    """The configured file channel path (relative to the config file), or None."""
    if not cfg.notify.file_path:
        return None
    base = Path(cfg.source).parent if cfg.source else Path.cwd()
    return (base / cfg.notify.file_path).resolve()


# ---- delivery --------------------------------------------------------------------------------------


@dataclass
class Delivery:
    """What one delivery round did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"发送 {self.sent}"]
        if self.retrying:
            parts.append(f"待重试 {self.retrying}")
        if self.failed:
            parts.append(f"放弃 {self.failed}")
        if self.skipped:
            parts.append(f"未配置通道 {self.skipped}")
        return "，".join(parts)


def backoff(cfg: Config, attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failure: retry_seconds, then doubling."""
    return timedelta(seconds=cfg.notify.retry_seconds * 2 ** max(0, attempts - 1))


def _due(db, now: datetime, limit: int) -> list[dict]:
    return all_rows(
        db,
        "SELECT o.*, n.kind, n.unit_code, n.user_id, n.role, n.late, n.created_at AS n_created, t.number, "
        "(SELECT group_concat(o2.recipient, ',') FROM outbox o2 WHERE o2.notification_id = o.notification_id "
        " AND o2.channel = 'sms') AS phones "
        "FROM outbox o JOIN notifications n ON n.id = o.notification_id LEFT JOIN tickets t ON t.id = n.ticket_id "
        "WHERE o.status = 'pending' AND o.next_attempt_at <= ? ORDER BY o.id LIMIT ?",
        (_iso(now), limit),
    )


def deliver(db, cfg: Config, now: datetime, *, limit: int = BATCH, send=None) -> Delivery:
    """Send the outbox rows that are due; record each result in its own short transaction."""
    send = send or send_sms
    result = Delivery()
    path = file_path(cfg)
    for row in _due(db, now, limit):
        if (row["channel"] == "sms" and not cfg.notify.sms_url) or (row["channel"] == "file" and path is None):
            _finish(db, row["id"], "skipped", now, error="")
            result.skipped += 1
            continue
        try:
            if row["channel"] == "sms":
                send(cfg.notify, row["recipient"], row["text"])
            else:
                append_line(path, file_line({**row, "created_at": row["n_created"]}))
        except (SendFailed, OSError) as exc:
            attempts = row["attempts"] + 1
            error = str(exc)[:ERROR_CHARS]
            result.errors.append(error)
            if attempts >= cfg.notify.max_attempts:
                _finish(db, row["id"], "failed", now, error=error, attempts=attempts)
                result.failed += 1
            else:
                with write(db):
                    db.conn.execute(
                        "UPDATE outbox SET attempts = ?, last_error = ?, next_attempt_at = ? WHERE id = ?",
                        (attempts, error, _iso(now + backoff(cfg, attempts)), row["id"]),
                    )
                result.retrying += 1
        else:
            _finish(db, row["id"], "sent", now, error="", attempts=row["attempts"] + 1)
            result.sent += 1
    return result


def _finish(db, row_id: int, status: str, now: datetime, *, error: str, attempts: int | None = None) -> None:
    with write(db):
        db.conn.execute(
            "UPDATE outbox SET status = ?, last_error = ?, attempts = COALESCE(?, attempts), "
            "sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END WHERE id = ?",
            (status, error, attempts, status, _iso(now), row_id),
        )


# ---- the admin's view ------------------------------------------------------------------------------


def counts(db) -> dict[str, int]:
    """Rows per status."""
    found = {r["status"]: r["n"] for r in all_rows(db, "SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")}
    return {s: found.get(s, 0) for s in STATUS}


def listing(db, status: str | None = None, limit: int = 100) -> list[dict]:
    """The newest outbox rows (of one status, or all), with their notification and ticket."""
    where, params = ("WHERE o.status = ?", [status]) if status else ("", [])
    return all_rows(
        db,
        "SELECT o.*, n.kind, n.unit_code, n.role, n.user_id, t.number FROM outbox o "
        "JOIN notifications n ON n.id = o.notification_id LEFT JOIN tickets t ON t.id = n.ticket_id "
        f"{where} ORDER BY o.id DESC LIMIT ?",
        (*params, limit),
    )


def retry(db, row_id: int | None, now: datetime) -> int:
    """Put a failed row (or, with None, every failed row) back in the queue with fresh attempts."""
    where, params = ("AND id = ?", [row_id]) if row_id is not None else ("", [])
    with write(db):
        cur = db.conn.execute(
            f"UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ? WHERE status = 'failed' {where}",
            (_iso(now), *params),
        )
        return cur.rowcount


def pending_count(db) -> int:
    """Rows still waiting to be sent."""
    return scalar(db, "SELECT COUNT(*) FROM outbox WHERE status = 'pending'") or 0


def get(db, row_id: int) -> dict | None:
    """One outbox row."""
    return one(db, "SELECT * FROM outbox WHERE id = ?", (row_id,))
