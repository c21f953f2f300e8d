"""Load config.toml into a typed, validated Config; every error names the key and the file."""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ROOT = Path(__file__).resolve().parent.parent


class ConfigError(Exception):
    """The config file is missing, unreadable or holds a bad value."""


@dataclass
class Server:
    host: str = "127.0.0.1"
    port: int = 8080
    threads: int = 8


@dataclass
class Database:
    data_dir: str = "data"
    path: str = ""  # empty: <data_dir>/hotline.db


@dataclass
class County:
    name: str = "示例县"
    code: str = "XX"


@dataclass
class Urgency:
    sign_minutes: int = 1440
    complete_workdays: int = 0
    complete_hours: int = 0


@dataclass
class Deadlines:
    normal: Urgency = field(default_factory=lambda: Urgency(1440, 5, 0))
    urgent: Urgency = field(default_factory=lambda: Urgency(120, 0, 24))
    critical: Urgency = field(default_factory=lambda: Urgency(30, 0, 1))


@dataclass
class Limits:
    extension_max_count: int = 1
    extension_total_workdays: int = 10
    return_window_workdays: int = 2
    reopen_workdays: int = 5
    attachment_max_mb: int = 10
    keep_photo_location: bool = False


@dataclass
class Repeats:
    repeat_caller_threshold: int = 5
    repeat_caller_window_days: int = 30
    mass_event_threshold: int = 5
    mass_event_window_hours: int = 72
    similarity: float = 0.36  # chosen on the labelled set: docs/REPEATS.md


@dataclass
class Scheduler:
    enabled: bool = True
    sweep_seconds: int = 60
    sign_lead_minutes: int = 120
    due_lead_workdays: int = 1
    request_wait_hours: int = 8
    daily_notice_time: str = "08:30"
    due_remind_time: str = "08:30"
    callback_wait_hours: int = 24


@dataclass
class Backup:
    dir: str = ""  # empty: <data_dir>/backups
    keep: int = 14
    time: str = "02:30"


@dataclass
class Notify:
    sms_url: str = ""
    sms_method: str = "POST"
    sms_headers: dict = field(default_factory=dict)
    sms_body: str = ""
    file_path: str = ""
    max_attempts: int = 5
    retry_seconds: int = 60
    sms_ok: str = ""
    timeout_seconds: int = 10


@dataclass
class Security:
    lockout_attempts: int = 5
    lockout_minutes: int = 15
    session_hours: int = 12
    secure_cookie: bool = False
    secret_key: str = ""  # empty: generated once into <data_dir>/secret_key


@dataclass
class Measures:
    basically_satisfied_weight: float = 1.0


@dataclass
class Config:
    server: Server = field(default_factory=Server)
    database: Database = field(default_factory=Database)
    county: County = field(default_factory=County)
    timezone: str = "Asia/Shanghai"
    deadlines: Deadlines = field(default_factory=Deadlines)
    limits: Limits = field(default_factory=Limits)
    repeats: Repeats = field(default_factory=Repeats)
    scheduler: Scheduler = field(default_factory=Scheduler)
    backup: Backup = field(default_factory=Backup)
    notify: Notify = field(default_factory=Notify)
    security: Security = field(default_factory=Security)
    measures: Measures = field(default_factory=Measures)
    source: str = ""  # the file this came from, for messages

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def data_path(self) -> Path:
        base = Path(self.source).parent if self.source else ROOT
        return (base / self.database.data_dir).resolve()

    @property
    def db_path(self) -> Path:
        if self.database.path:
            base = Path(self.source).parent if self.source else ROOT
            return (base / self.database.path).resolve()
        return self.data_path / "hotline.db"

    @property
    def backup_path(self) -> Path:
        if self.backup.dir:
            base = Path(self.source).parent if self.source else ROOT
            return (base / self.backup.dir).resolve()
        return self.data_path / "backups"


_TYPE_NAMES = {int: "整数", float: "数字", str: "字符串", bool: "true/false", dict: "表"}


def _build(cls, raw: dict, prefix: str, source: str):
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)} - {"source"}
    for key in raw:
        if key not in known:
            raise ConfigError(f"配置文件 {source} 中有未知的配置项 “{prefix}{key}”，请检查拼写或删除它。")
    values = {}
    for name in known:
        if name not in raw:
            continue
        value, typ, key = raw[name], hints[name], f"{prefix}{name}"
        if is_dataclass(typ):
            if not isinstance(value, dict):
                raise ConfigError(f"配置文件 {source} 中 “{key}” 应当是一个 [{key}] 小节。")
            default = getattr(cls(), name)
            merged = {f.name: getattr(default, f.name) for f in fields(typ)}
            sub = _build(typ, value, key + ".", source)
            merged.update({k: getattr(sub, k) for k in value})
            values[name] = typ(**merged)
            continue
        ok = isinstance(value, typ) and not (typ in (int, float) and isinstance(value, bool))
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise ConfigError(
                f"配置文件 {source} 中 “{key}” 的值 {value!r} 类型不对，应当是{_TYPE_NAMES.get(typ, typ.__name__)}。"
            )
        values[name] = value
    return cls(**values)


def _check(cfg: Config) -> None:
    src = cfg.source

    def bad(key: str, why: str) -> None:
        raise ConfigError(f"配置文件 {src} 中 “{key}” 的值不可用：{why}")

    if not (1 <= cfg.server.port <= 65535):
        bad("server.port", "端口应在 1–65535 之间。")
    if not (1 <= cfg.server.threads <= 64):
        bad("server.threads", "线程数应在 1–64 之间。")
    if not cfg.server.host:
        bad("server.host", "不能为空。")
    if not re.fullmatch(r"[A-Za-z0-9]{1,12}", cfg.county.code):
        bad("county.code", "只能是 1–12 位字母或数字（用于工单编号）。")
    if not cfg.county.name.strip():
        bad("county.name", "不能为空。")
    try:
        ZoneInfo(cfg.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        bad("timezone", f"不认识的时区 {cfg.timezone!r}，例如 Asia/Shanghai。")
    for level in ("normal", "urgent", "critical"):
        u: Urgency = getattr(cfg.deadlines, level)
        key = f"deadlines.{level}"
        if u.sign_minutes <= 0:
            bad(f"{key}.sign_minutes", "签收时限必须大于 0 分钟。")
        if (u.complete_workdays > 0) == (u.complete_hours > 0):
            bad(f"{key}.complete_workdays", "complete_workdays 与 complete_hours 必须且只能设置一个大于 0。")
        if u.complete_workdays < 0 or u.complete_hours < 0:
            bad(f"{key}.complete_workdays", "不能为负数。")
    lim = cfg.limits
    if lim.extension_max_count < 0:
        bad("limits.extension_max_count", "不能为负数。")
    if lim.extension_total_workdays < 1:
        bad("limits.extension_total_workdays", "至少 1 个工作日。")
    if lim.return_window_workdays < 0:
        bad("limits.return_window_workdays", "不能为负数。")
    if lim.reopen_workdays < 1:
        bad("limits.reopen_workdays", "至少 1 个工作日。")
    if not (1 <= lim.attachment_max_mb <= 200):
        bad("limits.attachment_max_mb", "应在 1–200 MB 之间。")
    rep = cfg.repeats
    for key in ("repeat_caller_threshold", "mass_event_threshold"):
        if getattr(rep, key) < 2:
            bad(f"repeats.{key}", "阈值至少为 2 次。")
    if rep.repeat_caller_window_days < 1:
        bad("repeats.repeat_caller_window_days", "至少 1 天。")
    if rep.mass_event_window_hours < 1:
        bad("repeats.mass_event_window_hours", "至少 1 小时。")
    if not (0.0 < rep.similarity < 1.0):
        bad("repeats.similarity", "应在 0 与 1 之间。")
    sch = cfg.scheduler
    if not (10 <= sch.sweep_seconds <= 3600):
        bad("scheduler.sweep_seconds", "应在 10–3600 秒之间。")
    for key in ("sign_lead_minutes", "due_lead_workdays"):
        if getattr(sch, key) < 0:
            bad(f"scheduler.{key}", "提前量不能为负数。")
    if sch.request_wait_hours < 1:
        bad("scheduler.request_wait_hours", "等待时长至少 1 小时。")
    if sch.callback_wait_hours < 1:
        bad("scheduler.callback_wait_hours", "等待时长至少 1 小时。")
    for key, value in (("scheduler.daily_notice_time", sch.daily_notice_time), ("backup.time", cfg.backup.time),
                       ("scheduler.due_remind_time", sch.due_remind_time)):
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", value)
        if not m or int(m[1]) > 23 or int(m[2]) > 59:
            bad(key, "时间格式应为 HH:MM，例如 08:30。")
    if not (1 <= cfg.backup.keep <= 365):
        bad("backup.keep", "保留份数应在 1–365 之间。")
    if cfg.notify.sms_method.upper() not in ("GET", "POST", "PUT"):
        bad("notify.sms_method", "只支持 GET、POST、PUT。")
    if cfg.notify.sms_url and not re.match(r"https?://", cfg.notify.sms_url):
        bad("notify.sms_url", "应以 http:// 或 https:// 开头。")
    if not (1 <= cfg.notify.max_attempts <= 20):
        bad("notify.max_attempts", "应在 1–20 之间。")
    if not (5 <= cfg.notify.retry_seconds <= 3600):
        bad("notify.retry_seconds", "首次重试间隔应在 5–3600 秒之间。")
    if not (1 <= cfg.notify.timeout_seconds <= 120):
        bad("notify.timeout_seconds", "应在 1–120 秒之间。")
    if cfg.notify.sms_url and cfg.notify.sms_method.upper() == "GET" and cfg.notify.sms_body:
        bad("notify.sms_body", "GET 请求没有请求体：请把 {phone} {text} 写进 sms_url，或把 sms_method 改为 POST。")
    for k, v in cfg.notify.sms_headers.items():
        if not isinstance(v, str):
            bad(f"notify.sms_headers.{k}", "请求头的值必须是字符串。")
    sec = cfg.security
    if not (1 <= sec.lockout_attempts <= 100):
        bad("security.lockout_attempts", "应在 1–100 之间。")
    if not (1 <= sec.lockout_minutes <= 1440):
        bad("security.lockout_minutes", "应在 1–1440 分钟之间。")
    if not (1 <= sec.session_hours <= 24 * 30):
        bad("security.session_hours", "应在 1–720 小时之间。")
    if sec.secret_key and len(sec.secret_key) < 16:
        bad("security.secret_key", "至少 16 个字符；留空则自动生成。")
    if not (0.0 <= cfg.measures.basically_satisfied_weight <= 1.0):
        bad("measures.basically_satisfied_weight", "应在 0 与 1 之间。")


def parse(raw: dict, source: str = "") -> Config:
    """Build and validate a Config from an already-parsed TOML mapping."""
    cfg = _build(Config, raw, "", source or "(内置)")
    cfg.source = source
    _check(cfg)
    return cfg


def config_file(explicit: str | None = None) -> Path:
    """Which file to read: --config, then HOTLINE_CONFIG, then ./config.toml beside the code."""
    chosen = explicit or os.environ.get("HOTLINE_CONFIG")
    return Path(chosen).resolve() if chosen else ROOT / "config.toml"


def load(explicit: str | None = None) -> Config:
    """Read and validate the config file; raise ConfigError with a Chinese message."""
    path = config_file(explicit)
    if not path.exists():
        raise ConfigError(f"找不到配置文件 {path}。请先运行 ./install.sh，或用 --config / HOTLINE_CONFIG 指定。")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"配置文件 {path} 不是 UTF-8 编码，请用 UTF-8 保存。") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"配置文件 {path} 格式错误：{exc}") from None
    return parse(raw, str(path))
