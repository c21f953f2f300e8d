"""Resident memory of a real `hotline serve` process: idle after start, and idle after a round of work.

    .venv/bin/python bench/memory.py [--db bench/data/100000.db]

Starts the console script with its own config on a free port, logs in as each demo role over HTTP,
visits the pages a working day touches, waits for the server to go idle, and reads VmRSS from
/proc/<pid>/status, and once more a minute later, after the scheduler's next job. Linux only; run on
demand (the target is < 80 MB idle).
"""
from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rss_kb(pid: int) -> int:
    """Resident set size of a process in kB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session(base: str, username: str) -> urllib.request.OpenerDirector:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"username": username, "password": "demo2026", "csrf_token": token}).encode()
    opener.open(base + "/login", data)
    return opener


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", type=Path, help="an existing database to serve (a copy is used); default: a fresh demo")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hotline-mem-"))
    port = free_port()
    conf = work / "config.toml"
    conf.write_text(f'[server]\nport = {port}\n[county]\nname = "云岭县"\ncode = "YLX"\n'
                    f'[database]\ndata_dir = "{work / "data"}"\n[scheduler]\nenabled = true\n', encoding="utf-8")
    env = {**os.environ, "HOTLINE_CONFIG": str(conf)}
    hotline = str(ROOT / ".venv" / "bin" / "hotline")
    if args.db:
        (work / "data").mkdir()
        shutil.copy(args.db, work / "data" / "hotline.db")
        subprocess.run([hotline, "migrate"], env=env, check=True, capture_output=True)
    else:
        subprocess.run([hotline, "demo"], env=env, check=True, capture_output=True)
    server = subprocess.Popen([hotline, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/login", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(2)
        idle_start = rss_kb(server.pid)
        pages = {"operator": ["/", "/tickets/new", "/queue/center", "/tickets/?q=自来水"],
                 "center": ["/", "/queue/center?tab=overdue", "/tickets/"],
                 "qingshi": ["/", "/queue/unit?tab=in_progress", "/queue/unit?tab=overdue"],
                 "leader": ["/"], "admin": ["/admin/users", "/admin/catalogue", "/admin/calendar"]}
        for _ in range(3):
            for user, urls in pages.items():
                s = session(base, user)
                for u in urls:
                    s.open(base + urllib.parse.quote(u, safe="/?=&")).read()
        time.sleep(3)
        after = rss_kb(server.pid)
        time.sleep(70)  # one reminder sweep later: each job ends by handing freed heap back to the OS
        settled = rss_kb(server.pid)
        print(f"idle after start: {idle_start / 1024:.1f} MB; right after a round of work: {after / 1024:.1f} MB; "
              f"idle a minute later: {settled / 1024:.1f} MB")
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
