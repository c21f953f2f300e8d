"""The `hotline` command: help on every command, version, check, migrate, demo, create-user, imports."""
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import FAST_HASH_METHOD, PASSWORD, at, write_config

from app import cli
from app.__version__ import __version__
from app.config import load
from app.services import accounts
from app.services.demo import DEMO_DIR
from app.store import connect, scalar
from app.store.migrations import latest_version, migrate


def walk(group: click.Group, path=()):
    """Every command and subcommand under a click group, with the words that invoke it."""
    for name, cmd in sorted(group.commands.items()):
        yield (*path, name), cmd
        if isinstance(cmd, click.Group):
            yield from walk(cmd, (*path, name))


COMMANDS = [((), cli.main), *walk(cli.main)]
DEMO_UNITS = DEMO_DIR / "units.csv"


@pytest.fixture
def run(monkeypatch):
    """Invoke the CLI in-process with a chosen config file (never the developer's own config.toml)."""
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.delenv("HOTLINE_ADMIN_PASSWORD", raising=False)

    def invoke(config, *args, input=None, env=None):
        return CliRunner().invoke(cli.main, ["--config", str(config), *args], input=input, env=env)

    return invoke


@pytest.fixture
def fast_cli_hashes(monkeypatch):
    """Cheap scrypt for accounts the CLI creates (conftest's fast_hashes needs the demo database)."""
    from werkzeug.security import generate_password_hash

    monkeypatch.setattr(accounts, "_hash", lambda pw: generate_password_hash(pw, method=FAST_HASH_METHOD))


@pytest.fixture
def new_config(tmp_path):
    """A config file whose data directory does not exist yet."""
    return write_config(tmp_path)


def _counts(db_path):
    db = connect(db_path)
    try:
        tables = [t for t in db.table_names() if t != "sqlite_sequence"]
        return {t: sorted((tuple(r) for r in db.conn.execute(f"SELECT * FROM {t}")), key=repr) for t in tables}
    finally:
        db.conn.close()


# ---- help --------------------------------------------------------------------------------------------


def test_commands_are_found():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"serve", "migrate", "check", "version", "demo", "create-user", "import-units"} <= names


@pytest.mark.parametrize("path,cmd", COMMANDS, ids=[" ".join(p) or "hotline" for p, _ in COMMANDS])
def test_every_command_has_help(run, cfg, path, cmd):
    result = run(cfg.source, *path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    assert cmd.help and cmd.help.strip(), f"{' '.join(path)} needs a docstring"
    squeeze = lambda text: "".join(text.split())  # noqa: E731 - click wraps long help lines
    assert squeeze(cmd.help.strip().splitlines()[0]) in squeeze(result.output)
    for param in cmd.params:
        if isinstance(param, click.Option):
            assert param.help, f"option {param.opts} of {' '.join(path) or 'hotline'} needs help text"
    if isinstance(cmd, click.Group):
        for name in cmd.commands:
            assert name in result.output


# `--help` of every command works without a usable config (the config is read when a command runs).
HELP_WITHOUT_CONFIG = [pytest.param(path, id=" ".join(path) or "hotline") for path, _ in COMMANDS]


@pytest.mark.parametrize("path", HELP_WITHOUT_CONFIG)
def test_help_needs_no_config(run, tmp_path, path):
    result = run(tmp_path / "missing.toml", *path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_short_help_flag():
    result = CliRunner().invoke(cli.main, ["-h"])
    assert result.exit_code == 0 and "县级12345接诉即办系统的命令行工具" in result.output


# ---- version ------------------------------------------------------------------------------------------


def test_version(run, tmp_path):
    result = run(tmp_path / "missing.toml", "version")
    assert result.exit_code == 0
    assert result.output == f"hotline {__version__}\n"


def test_version_from_the_console_script(tmp_path):
    hotline = Path(sys.executable).parent / "hotline"
    proc = subprocess.run([str(hotline), "version"], capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == f"hotline {__version__}"


# ---- check --------------------------------------------------------------------------------------------


def test_check_good_database(run, cfg, clock):
    result = run(cfg.source, "check")
    assert result.exit_code == 0, result.output
    assert f"配置文件：{cfg.source}（正常）" in result.output
    assert f"数据库：{cfg.db_path}（完整性正常）" in result.output
    assert "工作日历：已覆盖未来 60 天" in result.output
    assert result.output.rstrip().endswith("检查完成。")


@pytest.mark.parametrize("today,days,missing", [("2026-11-23 09:00", "60", "2027"),
                                                ("2026-03-02 09:00", "400", "2027")])
def test_check_warns_about_a_missing_year(run, cfg, clock, today, days, missing):
    clock.set(today)
    result = run(cfg.source, "check", "--days", days)
    assert result.exit_code == 0, result.output
    assert f"警告：工作日历缺少 {missing} 年的节假日安排" in result.output
    assert "hotline import-calendar" in result.output
    assert "检查完成（有警告）" in result.output


def test_check_without_database(run, new_config):
    result = run(new_config, "check")
    assert result.exit_code == 1
    assert "数据库文件不存在" in result.output and "hotline migrate" in result.output
    assert not load(str(new_config)).db_path.exists()


def test_check_old_database(run, new_config):
    cfg = load(str(new_config))
    cfg.data_path.mkdir(parents=True)
    db = connect(cfg.db_path)
    migrate(db, target=0)
    db.conn.close()
    result = run(new_config, "check")
    assert result.exit_code == 1
    assert f"程序需要第 {latest_version()} 版：请运行 hotline migrate" in result.output


# ---- migrate ------------------------------------------------------------------------------------------


def test_migrate_twice(run, new_config, clock):
    first = run(new_config, "migrate")
    assert first.exit_code == 0, first.output
    assert f"数据库已升级到第 {latest_version()} 版（本次应用：1" in first.output
    db_path = load(str(new_config)).db_path
    before = _counts(db_path)
    assert len(before["calendar_years"]) >= 23  # 2004–2026 from chinese-calendar
    second = run(new_config, "migrate")
    assert second.exit_code == 0, second.output
    assert f"数据库已是最新（第 {latest_version()} 版）" in second.output
    assert _counts(db_path) == before


# ---- demo ---------------------------------------------------------------------------------------------


def test_demo_on_a_non_empty_database_changes_nothing(run, cfg, clock):
    before = _counts(cfg.db_path)
    result = run(cfg.source, "demo")
    assert result.exit_code == 0, result.output
    units = before["units"]
    assert f"数据库已有数据（已有 {len(units)} 条承办单位），未载入演示数据。" in result.output
    assert "已载入演示县" not in result.output
    assert _counts(cfg.db_path) == before


def test_demo_on_an_empty_database_loads_the_county(run, new_config, clock, fast_cli_hashes):
    result = run(new_config, "demo")
    assert result.exit_code == 0, result.output
    units = len(DEMO_UNITS.read_text(encoding="utf-8").strip().splitlines()) - 1
    assert f"已载入演示县：{units} 个单位" in result.output
    assert f"演示账号（密码均为 {PASSWORD}）" in result.output
    db = connect(load(str(new_config)).db_path)
    try:
        assert scalar(db, "SELECT COUNT(*) FROM users") == 8
        assert accounts.authenticate(db, "qingshi", PASSWORD, at("2026-03-02 09:00"), 5, 15)["unit_code"] == "QSZ"
    finally:
        db.conn.close()
    again = run(new_config, "demo")
    assert "未载入演示数据" in again.output


# ---- users --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra,must_change", [([], 1), (["--no-change"], 0)])
def test_create_user_password_stdin(run, cfg, clock, fast_cli_hashes, extra, must_change):
    result = run(cfg.source, "create-user", "--username", "xiaoli", "--role", "handler", "--unit", "ZLS",
                 "--name", "小李", "--password-stdin", *extra, input="Start2026x\n")
    assert result.exit_code == 0, result.output
    assert "已创建用户 xiaoli（承办单位经办人）" in result.output
    assert "Start2026x" not in result.output
    db = connect(cfg.db_path)
    try:
        row = accounts.authenticate(db, "xiaoli", "Start2026x", at("2026-03-02 09:00"), 5, 15)
        assert (row["role"], row["unit_code"], row["display_name"], row["must_change"]) == \
            ("handler", "ZLS", "小李", must_change)
        assert scalar(db, "SELECT actor_name FROM audit_log WHERE action = 'user.create' AND target = 'xiaoli'") == "系统"
    finally:
        db.conn.close()


@pytest.mark.parametrize("args,password,message", [
    (["--role", "handler"], "Start2026x", "承办单位经办人必须属于一个单位"),
    (["--role", "handler", "--unit", "NOPE"], "Start2026x", "单位代码 NOPE 不存在"),
    (["--role", "operator"], "short", "密码至少 8 位"),
    (["--role", "operator", "--username", "admin"], "Start2026x", "用户名 admin 已被使用"),
])
def test_create_user_errors(run, cfg, args, password, message):
    before = _counts(cfg.db_path)["users"]
    if "--username" not in args:
        args = ["--username", "xiaoli", *args]
    result = run(cfg.source, "create-user", *args, "--password-stdin", input=password + "\n")
    assert result.exit_code == 1
    assert f"错误：{message}" in result.output
    assert _counts(cfg.db_path)["users"] == before


def test_create_user_unknown_role(run, cfg):
    result = run(cfg.source, "create-user", "--username", "x", "--role", "boss", "--password-stdin", input="a\n")
    assert result.exit_code == 2 and "boss" in result.output


def test_create_admin(run, new_config, clock, fast_cli_hashes):
    refused = run(new_config, "create-admin")
    assert refused.exit_code == 1 and "HOTLINE_ADMIN_PASSWORD" in refused.output
    made = run(new_config, "create-admin", env={"HOTLINE_ADMIN_PASSWORD": "Admin2026x"})
    assert made.exit_code == 0 and "已创建管理员 admin" in made.output
    again = run(new_config, "create-admin", env={"HOTLINE_ADMIN_PASSWORD": "Admin2026x"})
    assert again.exit_code == 0 and "已有管理员账号，跳过创建" in again.output
    db = connect(load(str(new_config)).db_path)
    try:
        assert scalar(db, "SELECT COUNT(*) FROM users WHERE role = 'admin'") == 1
        assert accounts.authenticate(db, "admin", "Admin2026x", at("2026-03-02 09:00"), 5, 15)["must_change"] == 0
    finally:
        db.conn.close()


# ---- imports --------------------------------------------------------------------------------------------


def test_import_units_bad_gbk_file(run, cfg, tmp_path, clock):
    path = tmp_path / "单位.csv"
    path.write_bytes("code,name,kind,phone,contact\nA1,县甲局,县直部门,,\nA1,县乙局,县直部门,,\nA3,县丙局,部门,,\n"
                     "A4,县自来水公司,企事业,,\n".encode("gbk"))
    before = _counts(cfg.db_path)
    result = run(cfg.source, "import-units", str(path))
    assert result.exit_code == 1
    assert "单位导入失败：单位文件有 3 行有问题，未导入任何数据。" in result.output
    lines = [line.strip() for line in result.output.splitlines() if line.strip().startswith("第 ")]
    assert [line.split("：")[0] for line in lines] == ["第 3 行", "第 4 行", "第 5 行"]
    assert "与第 2 行重复" in lines[0] and "类型应为" in lines[1] and "名称与单位 ZLS 重复" in lines[2]
    assert _counts(cfg.db_path) == before


@pytest.mark.parametrize("command,text,expected", [
    ("import-units", "code,name,kind\nTST,县测试局,县直部门\nQSZ,青石镇人民政府,乡镇\n", "单位导入成功：新增 1 条，更新 1 条。"),
    ("import-territories", "code,name,level,parent_code,unit_code\n539901102299,新村,村,539901102,\n",
     "属地导入成功：新增 1 条，更新 0 条。"),
    ("import-catalogue", "major_code,major_name,code,name,responsible,unit_code\n31,测试,3101,甲,固定单位,GDJ\n",
     "派单目录导入成功：新增 1 条，更新 0 条。"),
    ("import-calendar", "date,type,name\n2027-01-01,节假日,元旦\n2027-02-20,调休上班,春节调休\n",
     "工作日历导入成功：2027 年 2 天"),
])
@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_good_imports(run, cfg, tmp_path, clock, command, text, expected, encoding):
    path = tmp_path / "file.csv"
    path.write_bytes(text.encode(encoding))
    result = run(cfg.source, command, str(path))
    assert result.exit_code == 0, result.output
    assert expected in result.output


def test_import_missing_file(run, cfg, tmp_path):
    result = run(cfg.source, "import-units", str(tmp_path / "nope.csv"))
    assert result.exit_code == 2 and "nope.csv" in result.output
