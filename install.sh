#!/usr/bin/env bash
# 安装或升级县级12345接诉即办系统。可以反复运行：已有的 config.toml 和数据不会被覆盖或丢失。
#   ./install.sh            安装/升级，并在没有管理员时创建第一个管理员
#   ./install.sh --demo     另外向空数据库载入演示县和演示账号
#   ./install.sh --dev      另外安装测试工具（pytest、playwright，以 root 运行时装 Debian 的 chromium）
#   ./install.sh --systemd  另外写一个 systemd 服务文件
# 环境变量：HOTLINE_CONFIG 指定配置文件（同一台机器装第二套时用）；
#           HOTLINE_ADMIN_PASSWORD 非交互地给第一个管理员设密码。
set -euo pipefail
cd "$(dirname "$0")"
HERE="$(pwd)"

DEMO=0; DEV=0; SYSTEMD=0
for arg in "$@"; do
  case "$arg" in
    --demo) DEMO=1 ;;
    --dev) DEV=1 ;;
    --systemd) SYSTEMD=1 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "不认识的参数：$arg（可用 --demo --dev --systemd）" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# 1. Python 3.11 或更新
PY=""
for cand in python3.13 python3.12 python3.11 python3; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    PY="$(command -v "$cand")"; break
  fi
done
if [ -z "$PY" ]; then
  echo "需要 Python 3.11 或更新版本，本机没有找到。" >&2
  echo "Debian 12 / Ubuntu 24.04 / 麒麟 / 统信：sudo apt-get install -y python3 python3-venv" >&2
  echo "Ubuntu 22.04：sudo apt-get install -y python3.11 python3.11-venv" >&2
  exit 1
fi
if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  v="$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
  echo "缺少 Python 的 venv 模块。请先运行：sudo apt-get install -y python${v}-venv" >&2
  exit 1
fi
say "使用 $("$PY" --version) （$PY）"

# 2. 虚拟环境与程序
if [ ! -x .venv/bin/python ]; then
  say "创建虚拟环境 .venv"
  "$PY" -m venv .venv
fi
EXTRA=""; [ "$DEV" = 1 ] && EXTRA="[dev]"
say "安装程序及依赖${EXTRA:+（含测试工具）}"
# pip's and setuptools' chatter goes to a log, shown in full only when something fails
PIPLOG="$(mktemp)"
if ! { .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip &&
       .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${EXTRA}"; } >"$PIPLOG" 2>&1; then
  cat "$PIPLOG" >&2
  echo "安装依赖失败（见上面的输出）。请检查本机能否访问 PyPI 或本单位的 PyPI 镜像（pip config list 查看）。" >&2
  rm -f "$PIPLOG"
  exit 1
fi
rm -f "$PIPLOG"

# 3. 浏览器测试需要的 Debian 软件包
if [ "$DEV" = 1 ]; then
  if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    say "chromium 已安装"
  elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "安装 chromium 和 chromium-driver（浏览器测试用）"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-noto-cjk >/dev/null
  else
    echo "提示：浏览器测试需要 chromium，请运行 sudo apt-get install -y chromium chromium-driver fonts-noto-cjk" >&2
  fi
fi

# 4. 配置文件（已有则绝不覆盖）
CONFIG="${HOTLINE_CONFIG:-$HERE/config.toml}"
export HOTLINE_CONFIG="$CONFIG"
if [ ! -f "$CONFIG" ]; then
  say "创建配置文件 $CONFIG"
  mkdir -p "$(dirname "$CONFIG")"
  if [ "$DEMO" = 1 ]; then
    sed -e 's/^name = "示例县"/name = "云岭县"/' -e 's/^code = "XX"/code = "YLX"/' config.example.toml > "$CONFIG"
  else
    cp config.example.toml "$CONFIG"
    echo "请编辑 $CONFIG，把 [county] 的 name 和 code 改成本县的。"
  fi
else
  say "保留已有配置文件 $CONFIG"
fi

# 5. 数据库：创建或就地升级（数据保留）
say "创建/升级数据库"
.venv/bin/hotline migrate

# 6. 演示数据或第一个管理员
if [ "$DEMO" = 1 ]; then
  say "载入演示县"
  .venv/bin/hotline demo
elif [ "$DEV" = 0 ]; then
  if [ -t 0 ] || [ -n "${HOTLINE_ADMIN_PASSWORD:-}" ]; then
    .venv/bin/hotline create-admin
  else
    .venv/bin/hotline create-admin || echo "稍后可运行：HOTLINE_ADMIN_PASSWORD=... .venv/bin/hotline create-admin" >&2
  fi
fi

# 7. systemd 服务
if [ "$SYSTEMD" = 1 ]; then
  NAME="hotline"
  [ "$CONFIG" != "$HERE/config.toml" ] && NAME="hotline-$(basename "$CONFIG" .toml)"
  UNIT="[Unit]
Description=县级12345接诉即办系统 ($CONFIG)
After=network.target

[Service]
Type=simple
WorkingDirectory=$HERE
Environment=HOTLINE_CONFIG=$CONFIG
ExecStart=$HERE/.venv/bin/hotline serve
Restart=on-failure
RestartSec=5

[Install]
WantedBy=multi-user.target
"
  if [ "$(id -u)" = 0 ] && [ -d /etc/systemd/system ]; then
    printf '%s' "$UNIT" > "/etc/systemd/system/$NAME.service"
    say "已写入 /etc/systemd/system/$NAME.service；启用：systemctl daemon-reload && systemctl enable --now $NAME"
  else
    printf '%s' "$UNIT" > "$HERE/$NAME.service"
    say "已写入 $HERE/$NAME.service；请用 root 复制到 /etc/systemd/system/ 后运行 systemctl daemon-reload && systemctl enable --now $NAME"
  fi
fi

say "完成。启动服务：.venv/bin/hotline serve（如果服务已经在运行，请重启它以使用新版本）"
