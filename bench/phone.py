"""A township handler's phone on a weak mountain link: real Chromium at 390x844 with Chromium's own network
emulation (CDP Network.emulateNetworkConditions), against the real app behind waitress over a fresh SQLite
file with the demo county. Run on demand, not a test:

    .venv/bin/python bench/phone.py [--kbps 250] [--latency 300] [--cpu 1] [--runs 3] [--write]

Each run is a new browser profile (cold cache): open the login page (first visit), log in, open the unit
queue through the menu, open a ticket and sign it; then open the reply form, type the result, choose a
~5 MB camera photo (shrunk in the browser to ≤ 1600 px JPEG) and submit until the reply is on the timeline.
Reported: bytes on the wire (CDP encodedDataLength, headers included), bytes of the reply POST as the
server received them, and wall times (median of the runs, plus every run). --write puts the figures and
this command into docs/PERFORMANCE.md between <!-- phone:start --> and <!-- phone:end -->.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import config as config_mod, create_app  # noqa: E402
from app.services import calendar as calendar_svc, demo  # noqa: E402
from app.store import connect, one  # noqa: E402
from app.store.migrations import migrate  # noqa: E402
from tests.browser.phonekit import (  # noqa: E402
    HANDLER, PHONE, TICKET_FORM, LiveServer, camera_photo, dispatched_ticket, launch,
)

DOC = ROOT / "docs" / "PERFORMANCE.md"
START, END = "<!-- phone:start -->", "<!-- phone:end -->"
RESULT = "已安排挖机平整路面，回填碎石约20方，现已可以通行。已电话告知诉求人，他表示满意。"


def county(directory: Path):
    """A config and a fresh database with the demo county (real password hashing, as in production)."""
    path = directory / "config.toml"
    path.write_text('[county]\nname = "云岭县"\ncode = "YLX"\n[security]\nsecret_key = "bench-phone-0123456789abcdef"\n',
                    encoding="utf-8")
    cfg = config_mod.load(str(path))
    cfg.data_path.mkdir(parents=True, exist_ok=True)
    db = connect(cfg.db_path)
    now = datetime.now(cfg.tz).replace(microsecond=0)
    migrate(db)
    calendar_svc.seed_from_package(db, now)
    demo.load(db, cfg, now, with_tickets=False)
    return cfg, db


@contextmanager
def timed(out: dict, key: str):
    """Put the seconds the block took into out[key]."""
    start = time.perf_counter()
    yield
    out[key] = time.perf_counter() - start


def one_run(browser, server: LiveServer, number: str, photo: Path, args) -> dict:
    """The whole flow in a new (cold) browser profile; times in seconds, sizes in bytes."""
    from playwright.sync_api import expect

    expect.set_options(timeout=300_000)  # a slow link is what we measure, not a failure
    context = browser.new_context(**PHONE, base_url=server.url)
    context.set_default_timeout(300_000)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": args.latency,
        "downloadThroughput": args.kbps * 1000 / 8, "uploadThroughput": args.kbps * 1000 / 8,
    })
    if args.cpu > 1:
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": args.cpu})
    wire: list[int] = []
    cdp.on("Network.loadingFinished", lambda e: wire.append(int(e["encodedDataLength"])))
    out: dict = {}

    with timed(out, "to_signed_s"):
        with timed(out, "first_visit_s"):
            page.goto("/login", wait_until="load")
        out["first_visit_bytes"], out["first_visit_requests"] = sum(wire), len(wire)
        with timed(out, "login_s"):
            page.fill("input[name=username]", HANDLER)
            page.fill("input[name=password]", demo.DEMO_PASSWORD)
            page.locator("#login button[type=submit]").tap()
            expect(page.locator("#home")).to_be_visible()
        with timed(out, "queue_s"):
            page.locator("details.menu summary").tap()
            page.locator("details.menu nav a", has_text="本单位工单").tap()
            expect(page.locator("#unit-queue")).to_be_visible()
        with timed(out, "ticket_s"):
            page.locator(f"#queue-list a[href$='{number}']").tap()
            expect(page.locator("#ticket")).to_have_attribute("data-number", number)
        with timed(out, "sign_s"):
            page.locator("#act-sign button").tap()
            expect(page.locator("#timeline .ev-sign")).to_have_count(1)
    out["to_signed_bytes"] = sum(wire)

    page.locator("#act-reply summary").tap()
    page.locator("#act-reply textarea[name=result]").fill(RESULT)
    picker = page.locator("#act-reply input[type=file]")
    before = sum(wire)
    with timed(out, "reply_s"):
        with timed(out, "shrink_s"):
            picker.set_input_files(photo)
            expect(picker).to_have_attribute("data-shrunk", "1")
        with timed(out, "submit_s"):
            page.locator("#act-reply button[type=submit]").tap()
            expect(page.locator("#timeline .ev-reply")).to_have_count(1)
    out["reply_down_bytes"] = sum(wire) - before
    out["reply_sent_bytes"] = server.posts("/act/reply")[-1].received

    before = sum(wire)
    with timed(out, "later_visit_s"):  # a full page load; the static files come from the cache
        page.goto("/queue/unit", wait_until="load")
    out["later_visit_bytes"] = sum(wire) - before
    context.close()
    return out


def stored_photo(db, cfg, number: str) -> tuple[int, tuple[int, int]]:
    """Size and pixel size of the photo the server kept for this ticket."""
    from PIL import Image

    from app.services import attachments

    row = one(db, "SELECT a.sha256, a.size FROM attachments a JOIN tickets t ON t.id = a.ticket_id WHERE t.number = ?",
              (number,))
    with Image.open(attachments.path_for(cfg.data_path, row["sha256"])) as img:
        return row["size"], img.size


def kb(n: float) -> str:
    return f"{n / 1024:.1f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MB"


def report(runs: list[dict], args, photo_bytes: int, kept: tuple[int, tuple[int, int]], command: str) -> str:
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    each = lambda k: " / ".join(f"{r[k]:.1f}" for r in runs)  # noqa: E731
    naive = photo_bytes * 8 / (args.kbps * 1000)
    lines = [
        "## 掌上办 / phone",
        "",
        f"A township handler's phone on a weak link: Debian Chromium {args.chromium} headless at 390×844 (mobile, touch),",
        f"network emulated by Chromium itself (CDP `Network.emulateNetworkConditions`): **{args.kbps} kbit/s down and up,"
        f" {args.latency} ms latency**{f', CPU slowed {args.cpu}×' if args.cpu > 1 else ''}; real app behind waitress,"
        f" real SQLite file, demo county, real password hashing. Cold browser cache on every run; median of {len(runs)} runs"
        " (each run in brackets).",
        "",
        "| step | time | bytes |",
        "|---|---|---|",
        f"| first visit: login page with its CSS and JS ({med['first_visit_requests']:.0f} requests) | {med['first_visit_s']:.1f} s ({each('first_visit_s')}) | {kb(med['first_visit_bytes'])} on the wire |",
        f"| log in → home | {med['login_s']:.1f} s ({each('login_s')}) | |",
        f"| menu → unit queue | {med['queue_s']:.1f} s ({each('queue_s')}) | |",
        f"| queue → ticket | {med['ticket_s']:.1f} s ({each('ticket_s')}) | |",
        f"| sign (one tap → 签收 on the timeline) | {med['sign_s']:.1f} s ({each('sign_s')}) | |",
        f"| **first visit → signed, in all** | **{med['to_signed_s']:.1f} s** ({each('to_signed_s')}) | {kb(med['to_signed_bytes'])} down |",
        f"| shrink a {kb(photo_bytes)} 4000×3000 camera photo in the browser | {med['shrink_s']:.1f} s ({each('shrink_s')}) | |",
        f"| submit the reply with it → reply on the timeline | {med['submit_s']:.1f} s ({each('submit_s')}) | **{kb(med['reply_sent_bytes'])} sent** (form + photo), {kb(med['reply_down_bytes'])} down |",
        f"| **reply with the photo, in all** | **{med['reply_s']:.1f} s** ({each('reply_s')}) | |",
        f"| a later visit (full load of the queue page) | {med['later_visit_s']:.1f} s ({each('later_visit_s')}) | {kb(med['later_visit_bytes'])}: HTML only, CSS/JS from the cache |",
        "",
        f"The server kept the photo as {kb(kept[0])}, {kept[1][0]}×{kept[1][1]} px (GPS removed). Sent as taken, the"
        f" {kb(photo_bytes)} photo alone would need about {naive:.0f} s at {args.kbps} kbit/s.",
        "",
        "Command (writes this section; other sections of this file are left alone):",
        "",
        "```",
        command,
        "```",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace the phone section between its markers, or append it; create the file if missing."""
    block = f"{START}\n{text}\n{END}"
    if not DOC.exists():
        DOC.write_text(f"# 性能 / Performance\n\n{block}\n", encoding="utf-8")
        return
    doc = DOC.read_text(encoding="utf-8")
    if START in doc and END in doc:
        doc = doc[: doc.index(START)] + block + doc[doc.index(END) + len(END):]
    else:
        doc = doc.rstrip("\n") + f"\n\n{block}\n"
    DOC.write_text(doc, encoding="utf-8")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kbps", type=int, default=250, help="down and up throughput, kbit/s (default 250)")
    p.add_argument("--latency", type=int, default=300, help="added round-trip latency, ms (default 300)")
    p.add_argument("--cpu", type=float, default=1, help="slow the page's CPU this many times (default 1: off)")
    p.add_argument("--runs", type=int, default=3, help="runs, each with a cold cache (default 3)")
    p.add_argument("--write", action="store_true", help="write the figures into docs/PERFORMANCE.md")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        cfg, db = county(Path(tmp))
        numbers = [dispatched_ticket(db, cfg, datetime.now(cfg.tz).replace(microsecond=0), title=f"{TICKET_FORM['title']}（{i + 1}）")
                   for i in range(args.runs)]
        photo = camera_photo(Path(tmp) / "IMG_20261123_093015.jpg")
        server = LiveServer(create_app(cfg))
        server.start()
        runs = []
        try:
            with sync_playwright() as pw:
                browser = launch(pw)
                args.chromium = browser.version
                for i, number in enumerate(numbers):
                    runs.append(one_run(browser, server, number, photo, args))
                    print(f"run {i + 1}: " + ", ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                                                   for k, v in runs[-1].items()), file=sys.stderr, flush=True)
                browser.close()
        finally:
            server.stop()
        kept = stored_photo(db, cfg, numbers[-1])
        db.conn.close()
        command = ".venv/bin/python bench/phone.py " + " ".join(sys.argv[1:])
        text = report(runs, args, photo.stat().st_size, kept, command.strip())
    print(text)
    if args.write:
        write_section(text)
        print(f"\nwritten to {DOC.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
