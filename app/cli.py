"""The `hotline` command: a thin click layer over the services. Every command validates the config first."""
from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path

import click

from . import config as config_mod
from .__version__ import __version__
from .domain.errors import HotlineError, ImportFailed
from .domain.roles import ROLES, SYSTEM


class Ctx:
    """What every command gets: the validated config and lazily opened database."""

    def __init__(self, path: str | None):
        self.path = path
        self._cfg = None
        self._db = None

    @property
    def cfg(self) -> config_mod.Config:
        if self._cfg is None:
            try:
                self._cfg = config_mod.load(self.path)
            except config_mod.ConfigError as exc:
                click.echo(f"配置错误：{exc}", err=True)
                sys.exit(2)
        return self._cfg

    @property
    def db(self):
        if self._db is None:
            from .store import connect

            self.cfg.data_path.mkdir(parents=True, exist_ok=True)
            self.cfg.db_path.parent.mkdir(parents=True, exist_ok=True)
            self._db = connect(self.cfg.db_path)
        return self._db

    def now(self) -> datetime:
        return datetime.now(self.cfg.tz).replace(microsecond=0)

    def close(self) -> None:
        if self._db is not None:
            self._db.conn.close()
            self._db = None


pass_ctx = click.make_pass_decorator(Ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", help="配置文件路径（默认读 HOTLINE_CONFIG，再默认 ./config.toml）。")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """县级12345接诉即办系统的命令行工具。"""
    ctx.obj = Ctx(config_path)
    ctx.call_on_close(ctx.obj.close)
    # Every command reads `c.cfg` before doing anything, so a broken config stops it with status 2,
    # while `--help` of any command still works without a config.


def prepare(c: Ctx) -> list[int]:
    """Apply migrations and seed the calendar; safe to run again and again."""
    from .services import calendar as calendar_svc
    from .store.migrations import migrate

    applied = migrate(c.db)
    calendar_svc.seed_from_package(c.db, c.now())
    return applied


@main.command()
@click.option("--host", help="监听地址（默认取配置 server.host）。")
@click.option("--port", type=int, help="端口（默认取配置 server.port）。")
@pass_ctx
def serve(c: Ctx, host: str | None, port: int | None) -> None:
    """启动网页服务（waitress，单进程多线程），默认 http://127.0.0.1:8080 。"""
    from waitress import create_server

    from . import create_app
    from .store.migrations import current_version, latest_version

    if current_version(c.db) < latest_version():
        prepare(c)
    app = create_app(c.cfg)
    host = host or c.cfg.server.host
    port = port or c.cfg.server.port
    try:  # bind before anything else starts, so a busy port is reported plainly and nothing runs half-way
        server = create_server(app, host=host, port=port, threads=c.cfg.server.threads, ident="hotline")
    except OSError as exc:
        why = "端口已被占用（可能已经有一个服务在运行）" if exc.errno == 98 else f"无法监听（{exc.strerror}）"
        click.echo(f"启动失败：{host}:{port} {why}。请停止占用该端口的程序，或在配置文件 {c.cfg.source} 的 "
                   "[server] 中改用别的 port。", err=True)
        sys.exit(1)
    from scheduler import start_for_serve

    running = start_for_serve(app)
    click.echo("定时任务（提醒、通报、备份）：" + ("由本进程运行" if running else "本进程不运行（配置已关闭，或另一个进程在运行）"))
    click.echo(f"{c.cfg.county.name}12345接诉即办系统 v{__version__} 已启动：http://{host}:{port}/  （Ctrl+C 停止）")
    try:
        server.run()
    except KeyboardInterrupt:
        click.echo("已停止。")
    finally:
        server.close()


@main.command()
@pass_ctx
def migrate(c: Ctx) -> None:
    """创建或升级数据库（保留已有数据），并补全工作日历。"""
    applied = prepare(c)
    from .store.migrations import current_version

    if applied:
        click.echo(f"数据库已升级到第 {current_version(c.db)} 版（本次应用：{', '.join(map(str, applied))}）：{c.cfg.db_path}")
    else:
        click.echo(f"数据库已是最新（第 {current_version(c.db)} 版）：{c.cfg.db_path}")


def _read_password(password_stdin: bool, env_var: str | None = None) -> str:
    if env_var and os.environ.get(env_var):
        return os.environ[env_var]
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("密码", hide_input=True, confirmation_prompt="再输一次")


@main.command("create-user")
@click.option("--username", required=True, help="登录用户名。")
@click.option("--role", required=True, type=click.Choice(list(ROLES)), help="角色。")
@click.option("--unit", "unit_code", help="所属单位代码（handler 必填）。")
@click.option("--name", "display_name", default="", help="姓名。")
@click.option("--password-stdin", is_flag=True, help="从标准输入读一行作为密码（不提示）。")
@click.option("--no-change", is_flag=True, help="首次登录不强制修改密码。")
@pass_ctx
def create_user(c: Ctx, username, role, unit_code, display_name, password_stdin, no_change) -> None:
    """创建用户；密码从提示输入，或 --password-stdin。"""
    from .services import accounts

    prepare(c)
    password = _read_password(password_stdin)
    try:
        accounts.create_user(
            c.db, SYSTEM, c.now(), username=username, password=password, role=role, unit_code=unit_code,
            display_name=display_name, must_change=not no_change,
        )
    except HotlineError as exc:
        for msg in exc.errors.values() or [exc.message]:
            click.echo(f"错误：{msg}", err=True)
        sys.exit(1)
    click.echo(f"已创建用户 {username}（{ROLES[role]}）。")


@main.command("create-admin")
@click.option("--username", default="admin", show_default=True, help="管理员用户名。")
@pass_ctx
def create_admin(c: Ctx, username: str) -> None:
    """若还没有管理员则创建第一个管理员（密码取 HOTLINE_ADMIN_PASSWORD 或提示输入）。"""
    from .services import accounts
    from .store import scalar

    prepare(c)
    if scalar(c.db, "SELECT COUNT(*) FROM users WHERE role = 'admin'"):
        click.echo("已有管理员账号，跳过创建。")
        return
    if not os.environ.get("HOTLINE_ADMIN_PASSWORD") and not sys.stdin.isatty():
        click.echo("还没有管理员账号：请设置环境变量 HOTLINE_ADMIN_PASSWORD 后重新运行，或在终端里交互运行。", err=True)
        sys.exit(1)
    while True:
        password = _read_password(False, "HOTLINE_ADMIN_PASSWORD")
        try:
            accounts.create_user(c.db, SYSTEM, c.now(), username=username, password=password, role="admin",
                                 display_name="管理员", must_change=False)
        except HotlineError as exc:
            click.echo(f"错误：{'；'.join(exc.errors.values()) or exc.message}", err=True)
            if os.environ.get("HOTLINE_ADMIN_PASSWORD"):
                sys.exit(1)
            continue
        break
    click.echo(f"已创建管理员 {username}。")


def _run_import(c: Ctx, label: str, fn, path: Path) -> None:
    prepare(c)
    try:
        result = fn(c.db, SYSTEM, path.read_bytes(), c.now())
    except ImportFailed as exc:
        click.echo(f"{label}导入失败：{exc.message}", err=True)
        for line, why in exc.rows:
            click.echo(f"  第 {line} 行：{why}", err=True)
        sys.exit(1)
    if "added" in result:
        click.echo(f"{label}导入成功：新增 {result['added']} 条，更新 {result['updated']} 条。")
    else:
        click.echo(f"{label}导入成功：" + "；".join(f"{y} 年 {n} 天" for y, n in result.items()))


_file = click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))


@main.command("import-units")
@_file
@pass_ctx
def import_units(c: Ctx, file: Path) -> None:
    """导入承办单位 CSV（code,name,kind,phone,contact；UTF-8 或 GBK）。"""
    from .services import directory

    _run_import(c, "单位", directory.import_units, file)


@main.command("import-territories", short_help="导入属地（乡镇、村、社区）CSV（UTF-8 或 GBK）。")
@_file
@pass_ctx
def import_territories(c: Ctx, file: Path) -> None:
    """导入属地 CSV（code,name,level,parent_code,unit_code；UTF-8 或 GBK）。"""
    from .services import directory

    _run_import(c, "属地", directory.import_territories, file)


@main.command("import-catalogue", short_help="导入派单目录 CSV（UTF-8 或 GBK）。")
@_file
@pass_ctx
def import_catalogue(c: Ctx, file: Path) -> None:
    """导入派单目录 CSV（major_code,major_name,code,name,responsible,unit_code,co_units,keywords,urgency）。"""
    from .services import catalogue

    _run_import(c, "派单目录", catalogue.import_csv, file)


@main.command("import-calendar")
@_file
@pass_ctx
def import_calendar(c: Ctx, file: Path) -> None:
    """导入某年的节假日安排 CSV（date,type,name；type 为 节假日 或 调休上班）。"""
    from .services import calendar as calendar_svc

    _run_import(c, "工作日历", calendar_svc.import_csv, file)


@main.command()
@click.option("--days", default=60, show_default=True, help="检查未来多少天的日历覆盖。")
@pass_ctx
def check(c: Ctx, days: int) -> None:
    """检查配置、数据库完整性和工作日历覆盖；有问题时退出状态非 0。"""
    from .services import calendar as calendar_svc
    from .store import scalar
    from .store.migrations import current_version, latest_version

    problems, warnings = [], []
    click.echo(f"配置文件：{c.cfg.source}（正常）")
    if not c.cfg.db_path.exists():
        problems.append(f"数据库文件不存在：{c.cfg.db_path}（请运行 hotline migrate）")
    else:
        result = scalar(c.db, "PRAGMA integrity_check")
        if result != "ok":
            problems.append(f"数据库完整性检查失败：{result}")
        else:
            click.echo(f"数据库：{c.cfg.db_path}（完整性正常）")
        version = current_version(c.db)
        if version < latest_version():
            problems.append(f"数据库是第 {version} 版，程序需要第 {latest_version()} 版：请运行 hotline migrate")
        else:
            cov = calendar_svc.coverage(c.db, c.now().date(), days)
            if cov["missing"]:
                warnings.append(
                    f"工作日历缺少 {'、'.join(map(str, cov['missing']))} 年的节假日安排（未来 {days} 天会用到），"
                    "期限暂按周一至周五计算。请用 hotline import-calendar 导入。"
                )
            else:
                click.echo(f"工作日历：已覆盖未来 {days} 天")
    for w in warnings:
        click.echo(f"警告：{w}")
    for p in problems:
        click.echo(f"错误：{p}", err=True)
    if problems:
        sys.exit(1)
    click.echo("检查完成。" if not warnings else "检查完成（有警告）。")


@main.command()
def version() -> None:
    """显示版本号。"""
    click.echo(f"hotline {__version__}")


@main.command()
@pass_ctx
def demo(c: Ctx) -> None:
    """向空数据库载入演示县（云岭县）和演示账号；数据库已有数据时不做任何改动。"""
    from .services import demo as demo_svc

    prepare(c)
    result = demo_svc.load(c.db, c.cfg, c.now())
    if not result["loaded"]:
        click.echo(f"数据库已有数据（{result['reason']}），未载入演示数据。")
    else:
        click.echo(f"已载入演示县：{result['summary']}")
    click.echo("演示账号（密码均为 " + demo_svc.DEMO_PASSWORD + "）：")
    for username, role, unit in demo_svc.ACCOUNTS:
        click.echo(f"  {username:<12} {ROLES[role]}{'（' + unit + '）' if unit else ''}")
    click.echo(f"打开 http://{c.cfg.server.host}:{c.cfg.server.port}/ 登录。")


@main.command("create-token")
@click.option("--role", required=True, type=click.Choice(list(ROLES)), help="令牌代表的角色。")
@click.option("--unit", "unit_code", help="所属单位代码（handler 必填，其他角色不填）。")
@click.option("--name", required=True, help="令牌名称，说明给谁用，例如“微信公众号”。")
@pass_ctx
def create_token(c: Ctx, role: str, unit_code: str | None, name: str) -> None:
    """创建接口（/api/v1）令牌；令牌只显示这一次，库里只存它的哈希。"""
    from .services import tokens

    prepare(c)
    try:
        token_id, plain = tokens.create(c.db, SYSTEM, name, role, unit_code, c.now())
    except HotlineError as exc:
        for msg in exc.errors.values() or [exc.message]:
            click.echo(f"错误：{msg}", err=True)
        sys.exit(1)
    # the explanation goes to stderr so that TOKEN=$(hotline create-token ...) captures the token alone
    click.echo(f"已创建令牌 #{token_id}（{name}，{ROLES[role]}{'，' + unit_code.upper() if unit_code else ''}）。"
               "令牌只显示这一次，请立即妥善保存：", err=True)
    click.echo(plain)


@main.command("list-tokens")
@pass_ctx
def list_tokens(c: Ctx) -> None:
    """列出全部接口令牌（不显示令牌本身）。"""
    from .services import tokens

    prepare(c)
    rows = tokens.list_tokens(c.db)
    if not rows:
        click.echo("还没有接口令牌。用 hotline create-token 创建。")
        return
    for r in rows:
        status = f"已撤销 {r['revoked_at'][:16].replace('T', ' ')}" if r["revoked_at"] else "有效"
        used = (r["last_used_at"] or "从未使用")[:16].replace("T", " ")
        unit = f"（{r['unit_code']} {r['unit_name']}）" if r["unit_code"] else ""
        click.echo(f"#{r['id']:<4} {r['name']}  {ROLES[r['role']]}{unit}  创建 {r['created_at'][:16].replace('T', ' ')}"
                   f"  最近使用 {used}  {status}")


@main.command("revoke-token")
@click.argument("token_id", metavar="ID", type=int)
@pass_ctx
def revoke_token(c: Ctx, token_id: int) -> None:
    """撤销一个接口令牌（ID 见 hotline list-tokens），立即失效。"""
    from .services import tokens

    prepare(c)
    try:
        row = tokens.revoke(c.db, SYSTEM, token_id, c.now())
    except HotlineError as exc:
        click.echo(f"错误：{exc.message}", err=True)
        sys.exit(1)
    click.echo(f"已撤销令牌 #{token_id}（{row['name']}）。")


@main.command()
@pass_ctx
def backup(c: Ctx) -> None:
    """立即在线备份数据库到备份目录（服务运行中也可以），做完整性检查，只保留最近 N 份。"""
    from .services import backup as backup_svc

    try:
        made = backup_svc.create(c.cfg, c.now())
    except backup_svc.BackupError as exc:
        click.echo(f"错误：{exc.message}", err=True)
        sys.exit(1)
    click.echo(f"已备份到 {made['path']}（{made['size'] // 1024} KB，{made['tickets']} 张工单，完整性检查正常）。")
    if made["pruned"]:
        click.echo(f"按 backup.keep = {c.cfg.backup.keep} 删除了 {len(made['pruned'])} 份旧备份。")


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="不再询问，直接恢复。")
@pass_ctx
def restore(c: Ctx, file: Path, yes: bool) -> None:
    """用备份文件恢复数据库：须先停止服务；损坏的或不是本系统的文件会被拒绝；当前数据库先另存一份。"""
    from .services import backup as backup_svc

    try:
        info = backup_svc.inspect(file)
    except backup_svc.BackupError as exc:
        click.echo(f"错误：{exc.message}", err=True)
        sys.exit(1)
    click.echo(f"备份文件：{file}（{info['size'] // 1024} KB，{info['tickets']} 张工单，完整性检查正常）")
    if not yes and not click.confirm(f"将用它替换当前数据库 {c.cfg.db_path}（当前数据库会先另存到备份目录）。继续吗？"):
        click.echo("已取消，未做任何改动。")
        sys.exit(1)
    try:
        done = backup_svc.restore(c.cfg, file, c.now())
    except backup_svc.BackupError as exc:
        click.echo(f"错误：{exc.message}", err=True)
        sys.exit(1)
    if done["saved"]:
        click.echo(f"恢复前的数据库已另存为 {done['saved']}")
    click.echo(f"已恢复：数据库第 {done['version']} 版，{done['tickets']} 张工单。现在可以启动服务。")


@main.group()
def repeats() -> None:
    """重复诉求（一人多次、一事多人）与重点督办。"""


@repeats.command("rescan")
@click.option("--since", required=True, metavar="DATE", help="从这一天（YYYY-MM-DD，本地时间 0 点）起受理的工单重新判定。")
@pass_ctx
def repeats_rescan(c: Ctx, since: str) -> None:
    """按现行阈值重新判定历史工单（改阈值或导入上级转办工单后运行）；重复运行不会重复纳入。"""
    from .services import repeats as repeats_svc

    try:
        start = datetime.fromisoformat(since).replace(tzinfo=c.cfg.tz)
    except ValueError:
        click.echo(f"错误：日期格式应为 2026-11-23，收到 {since!r}。", err=True)
        sys.exit(2)
    prepare(c)
    result = repeats_svc.rescan(c.db, c.cfg, start, c.now())
    labels = {"created": "新纳入重点督办", "grew": "追加工单", "reopened": "重新督办", "merged": "合并",
              "removed": "移出工单", "dissolved": "不再满足条件而结束"}
    done = "，".join(f"{labels.get(k, k)} {v} 项" for k, v in sorted(result["changes"].items()))
    click.echo(f"已重新判定 {start:%Y-%m-%d} 以来的 {result['tickets']} 张工单：" + (done or "没有变化（已是最新）") + "。")
    if result["below_threshold"]:
        click.echo(f"提示：有 {result['below_threshold']} 个督办中的事项按现行阈值已不足条件，未自动结束，请中心核实。")
