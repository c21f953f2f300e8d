"""Benchmark the ticket loop's hot pages at several database sizes and write docs/PERFORMANCE.md's table.

    .venv/bin/python bench/run.py --sizes 10000,100000,1000000 [--repeat 200] [--write]

For each size a database is seeded once into bench/data/ (reused when it already has that many
tickets), then the real Flask app answers real requests through its test client (routing, login,
SQL, templates, gzip): intake (phone history lookup + unit suggestion + the POST that saves),
the handler's queue page, the ticket page, and search (Chinese substring through FTS5, and by phone).
We report p50/p95 in milliseconds and the 100k → 1M growth ratio; wall times depend on the machine,
the ratios are what the targets are about.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.seed import seed  # noqa: E402

from app.demo.callers import SAMPLE_APPEALS  # noqa: E402

from app import config as config_mod, create_app  # noqa: E402
from app.store import connect, scalar  # noqa: E402
from app.store.migrations import migrate  # noqa: E402

DATA = ROOT / "bench" / "data"
NOW = "2026-11-23T10:00:00+08:00"


def _db_for(n: int) -> Path:
    path = DATA / f"{n}.db"
    if path.exists():
        db = connect(path)
        have = scalar(db, "SELECT COUNT(*) FROM tickets")
        migrate(db)  # a database seeded by an older version gets the newer tables, as `hotline serve` would
        db.conn.close()
        if have >= n:
            return path
    from datetime import datetime

    print(f"seeding {n} tickets …", file=sys.stderr, flush=True)
    print(seed(path, n, datetime.fromisoformat(NOW)), file=sys.stderr, flush=True)
    return path


def _client(path: Path, username: str):
    cfg = config_mod.parse(
        {"county": {"name": "云岭县", "code": "YLX"}, "database": {"path": str(path), "data_dir": str(path.parent)},
         "security": {"secret_key": "bench-secret-key-0123456789"}},
        str(path.parent / "bench.toml"),
    )
    app = create_app(cfg, {"WTF_CSRF_ENABLED": False})
    c = app.test_client()
    r = c.post("/login", data={"username": username, "password": "demo2026"})
    assert r.status_code == 302, r.status_code
    return c


def _timed(fn, repeat: int, warmup: int = 20) -> list[float]:
    for i in range(warmup):  # warm SQLite's and the OS page cache: we measure steady state, not a cold disk
        fn(i)
    out = []
    for i in range(repeat):
        t = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t) * 1000)
    return out


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) >= 2 else values[0]


def measure(n: int, repeat: int) -> dict[str, list[float]]:
    path = _db_for(n)
    db = connect(path)
    rnd = random.Random(1)
    numbers = [r[0] for r in db.conn.execute("SELECT number FROM tickets ORDER BY random() LIMIT ?", (repeat,))]
    phones = [r[0] for r in db.conn.execute("SELECT phone_norm FROM tickets ORDER BY random() LIMIT ?", (repeat,))]
    db.conn.close()
    op, center, handler = _client(path, "operator"), _client(path, "center"), _client(path, "qingshi")
    words = ["太阳能路灯", "拖欠工资", "自来水", "通组路", "养老保险", "噪音扰民"]  # 3+ characters: FTS5 trigram

    def ok(resp):
        assert resp.status_code in (200, 302), resp.status_code
        return resp

    # each call is a different caller from a different village about a different matter, as in a real day
    db = connect(path)
    villages = [r[0] for r in db.conn.execute("SELECT code FROM territories WHERE level != 'township'")]
    db.conn.close()
    calls = []
    for i in range(repeat + 20):
        a = SAMPLE_APPEALS[rnd.randrange(len(SAMPLE_APPEALS))]
        calls.append({"channel": "phone", "kind": a["kind"], "urgency": "normal", "caller_name": "压测",
                      "caller_phone": phones[i % len(phones)], "territory": rnd.choice(villages),
                      "category": a["category"], "title": a["title"], "content": a["content"].replace("{village}", "本村"),
                      "then": "save"})

    def save(i):
        ok(op.post("/tickets/new", data=calls[i]))
        with op.session_transaction() as sess:  # a browser shows the flash on the next page; the bench drops it
            sess.pop("_flashes", None)

    results = {
        "intake: history lookup": _timed(lambda i: ok(op.get(f"/tickets/new/history?caller_phone={phones[i % len(phones)]}")), repeat),
        "intake: unit suggestion": _timed(lambda i: ok(op.get(
            f"/tickets/new/suggest?category={calls[i]['category']}&territory={calls[i]['territory']}")), repeat),
        "intake: save (POST)": _timed(save, repeat),
        "handler queue page": _timed(lambda i: ok(handler.get("/queue/unit?tab=" + ("in_progress", "to_sign", "overdue")[i % 3])), repeat),
        "ticket page": _timed(lambda i: ok(center.get(f"/tickets/{numbers[i % len(numbers)]}")), repeat),
        "search: Chinese substring": _timed(lambda i: ok(center.get(f"/tickets/?q={words[rnd.randrange(len(words))]}")), repeat),
        "search: 2-character word (scan)": _timed(lambda i: ok(center.get(f"/tickets/?q={('低保', '停电', '工资')[i % 3]}")), repeat),
        "search: phone": _timed(lambda i: ok(center.get(f"/tickets/?phone={phones[i % len(phones)]}")), repeat),
    }
    full = [a + b + c for a, b, c in zip(results["intake: history lookup"], results["intake: unit suggestion"],
                                          results["intake: save (POST)"])]
    results = {"intake (lookup + suggestion + save)": full, **results}
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--repeat", type=int, default=200)
    p.add_argument("--write", action="store_true", help="replace the ticket-loop table in docs/PERFORMANCE.md")
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    table: dict[str, dict[int, tuple[float, float]]] = {}
    for n in sizes:
        for name, values in measure(n, args.repeat).items():
            table.setdefault(name, {})[n] = (statistics.median(values), _p(values, 95))
        print(f"done {n}", file=sys.stderr, flush=True)
    head = "| request | " + " | ".join(f"p50 / p95 @ {n:,}" for n in sizes) + " | p95 growth " + \
        (f"{sizes[-2]:,} → {sizes[-1]:,}" if len(sizes) > 1 else "") + " |"
    lines = [head, "|---" * (len(sizes) + 2) + "|"]
    for name, by_n in table.items():
        cells = " | ".join(f"{by_n[n][0]:.1f} / {by_n[n][1]:.1f} ms" for n in sizes)
        growth = f"{by_n[sizes[-1]][1] / by_n[sizes[-2]][1]:.2f}×" if len(sizes) > 1 else ""
        lines.append(f"| {name} | {cells} | {growth} |")
    text = "\n".join(lines)
    print(text)
    if args.write:
        _write(text, args)


def _write(text: str, args) -> None:
    doc = ROOT / "docs" / "PERFORMANCE.md"
    start, end = "<!-- ticket-loop:start -->", "<!-- ticket-loop:end -->"
    body = doc.read_text(encoding="utf-8") if doc.exists() else "# Performance\n"
    block = (
        f"{start}\nIssue 3's targets on this 2-core machine at 1M tickets: p95 intake < 50 ms, queue page < 50 ms,\n"
        "search < 100 ms, and 100k → 1M costing less than 2×. Databases from `bench/seed.py` (one county at 150\n"
        "calls a day, so 1M tickets is a long history with the same amount of open work); every request goes\n"
        "through the real app (routing, session, SQL, templates, gzip) with SQLite's `synchronous=FULL`, after\n"
        "20 warm-up requests. Each intake is a different caller, village and matter; \"intake\" is the sum of the\n"
        "three requests one call makes. Single wall times depend on the machine (which here is shared with other\n"
        "work); the growth column is what the targets are about. Two-character words cannot use the trigram\n"
        "index and are scanned newest first until 1,000 matches; longer words go through FTS5.\n\n"
        f"Command: `.venv/bin/python bench/run.py --sizes {args.sizes} --repeat {args.repeat} --write`\n\n{text}\n{end}"
    )
    if start in body:
        body = body[: body.index(start)] + block + body[body.index(end) + len(end):]
    else:
        body = body.rstrip() + "\n\n## Ticket loop\n\n" + block + "\n"
    doc.write_text(body, encoding="utf-8")


if __name__ == "__main__":
    main()
