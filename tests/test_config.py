"""config.toml: defaults, validation that names the key and the file, and the CLI stopping with status 2."""
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from app import cli
from app.config import ROOT, Config, ConfigError, config_file, load, parse

HOTLINE = Path(sys.executable).parent / "hotline"


def test_empty_file_gives_the_defaults(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("", encoding="utf-8")
    cfg = load(str(path))
    assert cfg.source == str(path.resolve())
    assert (cfg.server.host, cfg.server.port, cfg.timezone) == ("127.0.0.1", 8080, "Asia/Shanghai")
    assert (cfg.deadlines.normal.sign_minutes, cfg.deadlines.normal.complete_workdays) == (1440, 5)
    assert (cfg.security.lockout_attempts, cfg.security.lockout_minutes) == (5, 15)
    assert cfg.data_path == tmp_path.resolve() / "data"
    assert cfg.db_path == tmp_path.resolve() / "data" / "hotline.db"
    assert cfg.backup_path == tmp_path.resolve() / "data" / "backups"
    assert str(cfg.tz) == "Asia/Shanghai"


def test_example_file_documents_the_defaults():
    """config.example.toml (copied by install.sh) holds exactly the code's defaults."""
    raw = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    example = parse(raw, "config.example.toml")
    example.source = ""
    assert example == Config()


def test_partial_section_keeps_the_other_defaults(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[server]\nport = 9090\n[deadlines.urgent]\nsign_minutes = 60\n[repeats]\nsimilarity = 0.8\n',
                    encoding="utf-8")
    cfg = load(str(path))
    assert (cfg.server.port, cfg.server.host, cfg.server.threads) == (9090, "127.0.0.1", 8)
    assert (cfg.deadlines.urgent.sign_minutes, cfg.deadlines.urgent.complete_hours) == (60, 24)
    assert cfg.deadlines.normal.complete_workdays == 5
    assert cfg.repeats.similarity == 0.8 and cfg.repeats.mass_event_threshold == 5


def test_int_for_float_is_accepted(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[measures]\nbasically_satisfied_weight = 1\n", encoding="utf-8")
    cfg = load(str(path))
    assert cfg.measures.basically_satisfied_weight == 1.0 and isinstance(cfg.measures.basically_satisfied_weight, float)


def test_relative_paths_are_relative_to_the_file(tmp_path):
    path = tmp_path / "sub" / "c.toml"
    path.parent.mkdir()
    path.write_text('[database]\ndata_dir = "d"\npath = "other/x.db"\n[backup]\ndir = "/srv/bk"\n', encoding="utf-8")
    cfg = load(str(path))
    assert cfg.data_path == path.parent.resolve() / "d"
    assert cfg.db_path == path.parent.resolve() / "other" / "x.db"
    assert cfg.backup_path == Path("/srv/bk")


BAD = [
    # (toml text, the key the message must name)
    ("colour = 1\n", "colour"),
    ("[server]\nprot = 8080\n", "server.prot"),
    ("[deadlines.normal]\nsign_hours = 2\n", "deadlines.normal.sign_hours"),
    ("[server]\nport = \"8080\"\n", "server.port"),
    ("[server]\nport = 80.5\n", "server.port"),
    ("[server]\nport = true\n", "server.port"),
    ("[scheduler]\nenabled = \"yes\"\n", "scheduler.enabled"),
    ("server = 8080\n", "server"),
    ("timezone = 8\n", "timezone"),
    ("[server]\nport = 0\n", "server.port"),
    ("[server]\nport = 70000\n", "server.port"),
    ("[county]\ncode = \"YL X\"\n", "county.code"),
    ("[county]\ncode = \"\"\n", "county.code"),
    ("[county]\nname = \"  \"\n", "county.name"),
    ("[deadlines.normal]\ncomplete_workdays = 5\ncomplete_hours = 24\n", "deadlines.normal.complete_workdays"),
    ("[deadlines.urgent]\ncomplete_hours = 0\n", "deadlines.urgent.complete_workdays"),
    ("[deadlines.critical]\nsign_minutes = 0\n", "deadlines.critical.sign_minutes"),
    ("timezone = \"Asia/Beijing\"\n", "timezone"),
    ("timezone = \"../etc/passwd\"\n", "timezone"),
    ("[scheduler]\ndaily_notice_time = \"8.30\"\n", "scheduler.daily_notice_time"),
    ("[scheduler]\ndaily_notice_time = \"24:00\"\n", "scheduler.daily_notice_time"),
    ("[backup]\ntime = \"02:60\"\n", "backup.time"),
    ("[backup]\ntime = \"02:30:00\"\n", "backup.time"),
    ("[scheduler]\nsign_lead_minutes = -1\n", "scheduler.sign_lead_minutes"),
    ("[scheduler]\ndue_lead_workdays = -1\n", "scheduler.due_lead_workdays"),
    ("[scheduler]\nrequest_wait_hours = 0\n", "scheduler.request_wait_hours"),
    ("[repeats]\nsimilarity = 1.5\n", "repeats.similarity"),
    ("[repeats]\nmass_event_threshold = 1\n", "repeats.mass_event_threshold"),
    ("[security]\nsecret_key = \"short\"\n", "security.secret_key"),
    ("[security]\nlockout_attempts = 0\n", "security.lockout_attempts"),
    ("[notify]\nsms_url = \"ftp://x\"\n", "notify.sms_url"),
    ("[notify]\nsms_headers = { X-Token = 1 }\n", "notify.sms_headers.X-Token"),
    ("[limits]\nextension_total_workdays = 0\n", "limits.extension_total_workdays"),
]


@pytest.mark.parametrize("text,key", BAD, ids=[k for _, k in BAD])
def test_bad_value_names_key_and_file(tmp_path, text, key):
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load(str(path))
    message = str(exc.value)
    assert f"“{key}”" in message, message
    assert str(path.resolve()) in message, message


@pytest.mark.parametrize("content,why", [
    ("[server\nport = 1\n".encode(), "格式错误"),
    ("[county]\nname = \"云岭县\"\n".encode("gbk"), "UTF-8"),
])
def test_unreadable_file_names_the_file(tmp_path, content, why):
    path = tmp_path / "bad.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as exc:
        load(str(path))
    assert why in str(exc.value) and str(path.resolve()) in str(exc.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as exc:
        load(str(tmp_path / "nope.toml"))
    assert "找不到配置文件" in str(exc.value) and "nope.toml" in str(exc.value)


def test_which_file_is_read(tmp_path, monkeypatch):
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    assert config_file() == ROOT / "config.toml"
    monkeypatch.setenv("HOTLINE_CONFIG", str(tmp_path / "env.toml"))
    assert config_file() == (tmp_path / "env.toml").resolve()
    assert config_file(str(tmp_path / "flag.toml")) == (tmp_path / "flag.toml").resolve()


# ---- the CLI stops with status 2 and names the key ----------------------------------------


@pytest.fixture
def bad_config(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[server]\nport = 0\n", encoding="utf-8")
    return path


def _subprocess_env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "HOTLINE_CONFIG"}
    return {**env, **extra}


@pytest.mark.parametrize("how", ["flag", "env"])
@pytest.mark.parametrize("command", ["serve", "check", "migrate"])
def test_console_script_exits_2(bad_config, tmp_path, how, command):
    args = [str(HOTLINE)] + (["--config", str(bad_config)] if how == "flag" else []) + [command]
    env = _subprocess_env(HOTLINE_CONFIG=str(bad_config)) if how == "env" else _subprocess_env()
    proc = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "server.port" in proc.stderr and str(bad_config) in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "data").exists(), "nothing is created before the config is valid"


@pytest.mark.parametrize("how", ["flag", "env"])
@pytest.mark.parametrize("command", [["serve"], ["check"], ["create-user", "--username", "x", "--role", "operator"],
                                     ["demo"], ["import-units", __file__]])
def test_every_command_validates_the_config_first(bad_config, monkeypatch, how, command):
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    if how == "env":
        monkeypatch.setenv("HOTLINE_CONFIG", str(bad_config))
        args = command
    else:
        args = ["--config", str(bad_config), *command]
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 2, result.output
    assert "server.port" in result.output and "配置错误" in result.output


def test_version_needs_no_config(tmp_path):
    result = CliRunner().invoke(cli.main, ["--config", str(tmp_path / "nope.toml"), "version"])
    assert result.exit_code == 0 and result.output.startswith("hotline ")
