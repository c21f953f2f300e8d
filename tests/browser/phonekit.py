"""What the phone-sized browser tests and bench/phone.py share: a real waitress server in a thread,
Debian's Chromium dressed as a cheap Android phone, a camera-sized photo, and a ticket for 青石镇."""
from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
# A cheap Android phone's WeChat browser: 390x844 CSS px, touch, mobile layout.
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
    "timezone_id": "Asia/Shanghai",
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 10; V2001A Build/QP1A.190711.020; wv) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Version/4.0 Chrome/86.0.4240.99 XWEB/4317 MMWEBSDK/20220903 Mobile Safari/537.36 "
        "MMWEBID/1234 MicroMessenger/8.0.28.2240(0x28001C57) WeChat/arm64 Weixin NetType/3G Language/zh_CN ABI/arm64"
    ),
}
HANDLER = "qingshi"  # the demo account of 青石镇 (unit QSZ)
CALLER_PHONE = "13800001111"
TICKET_FORM = {
    "channel": "phone", "kind": "complaint", "urgency": "normal", "caller_name": "李建国",
    "caller_phone": CALLER_PHONE, "territory": "539901102201", "category": "0101",
    "title": "村组道路雨后坑洼难行",
    "content": "我们组那条通组路下了几场雨全是烂泥坑，摩托车都过不去。娃娃上学天天一身泥，麻烦政府来看一下。",
}


def launch(playwright):
    """Headless Debian Chromium (never a downloaded browser)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


@dataclass
class Hit:
    """One request as the server saw it: method, path, bytes received (body) and bytes sent (body)."""

    method: str
    path: str
    received: int
    sent: int = 0


@dataclass
class LiveServer:
    """The Flask app behind real waitress on 127.0.0.1 (port chosen by the OS), in a daemon thread."""

    app: object
    threads: int = 4
    hits: list[Hit] = field(default_factory=list)

    def start(self) -> str:
        from waitress import create_server

        self.server = create_server(self._recorded(self.app.wsgi_app), host="127.0.0.1", port=0,
                                    threads=self.threads, ident="hotline-test", asyncore_loop_timeout=0.2)
        self.thread = threading.Thread(target=self.server.run, name="waitress", daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        return self.url

    def _recorded(self, wsgi):
        hits = self.hits

        def app(environ, start_response):
            hit = Hit(environ["REQUEST_METHOD"], environ.get("PATH_INFO", "") + (
                "?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else ""),
                int(environ.get("CONTENT_LENGTH") or 0))
            hits.append(hit)
            body = wsgi(environ, start_response)
            try:
                for chunk in body:
                    hit.sent += len(chunk)
                    yield chunk
            finally:  # the server closes us; we must close what the app returned (an open file, say)
                if hasattr(body, "close"):
                    body.close()

        return app

    def stop(self) -> None:
        """Close every connection and the listening socket from inside the server's own loop, then the workers."""
        from waitress.channel import HTTPChannel

        def close_all():
            for channel in list(self.server._map.values()):
                if isinstance(channel, HTTPChannel):
                    channel.will_close = True  # the loop closes it on its next turn
            self.server.close()  # the listening socket and the wake-up pipe

        self.server.trigger.pull_trigger(close_all)
        self.thread.join(timeout=10)
        self.server.task_dispatcher.shutdown()
        assert not self.thread.is_alive(), "waitress did not stop"

    def posts(self, path_part: str) -> list[Hit]:
        """The POST requests whose path contains path_part."""
        return [h for h in self.hits if h.method == "POST" and path_part in h.path]


def camera_photo(path: Path, size=(4000, 3000), quality: int = 90, gps: bool = True) -> Path:
    """A camera-sized JPEG (about 5 MB at the defaults) with detail at several scales, so that, like a real
    photo, it still weighs a few hundred KB at 1600 px; optionally with GPS in its EXIF."""
    from PIL import Image

    w, h = size
    tile = (500, 375)  # noise tiles pasted side by side: as hard to compress as full noise, ten times faster

    def noise(scale: int, sigma: int):
        small = (tile[0] // scale, tile[1] // scale)
        return Image.merge("RGB", [Image.effect_noise(small, sigma).resize(tile, Image.Resampling.BICUBIC) for _ in range(3)])

    texture = Image.blend(noise(2, 60), noise(1, 20), 0.3)  # blotches of 2-4 px that survive shrinking, and grain
    grain = Image.new("RGB", size)
    for x in range(0, w, tile[0]):
        for y in range(0, h, tile[1]):
            grain.paste(texture, (x, y))
    img = Image.blend(Image.linear_gradient("L").resize(size).convert("RGB"), grain, 0.6)
    exif = Image.Exif()
    if gps:
        exif[0x8825] = {1: "N", 2: (25.0, 3.0, 0.0), 3: "E", 4: (102.0, 42.0, 0.0)}
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, exif=exif.tobytes())
    path.write_bytes(out.getvalue())
    return path


def actor(db, username: str):
    """A demo account as the acting person of a service call."""
    from app.domain.roles import Actor
    from app.store import one

    row = one(db, "SELECT id, display_name, role, unit_code FROM users WHERE username = ?", (username,))
    return Actor(row["id"], row["display_name"], row["role"], row["unit_code"])


def dispatched_ticket(db, cfg, now: datetime, **fields) -> str:
    """A new ticket, taken by the centre and dispatched to 青石镇 (QSZ) at once; returns its number."""
    from app.services import tickets

    return tickets.intake(db, cfg, actor(db, "center"), {**TICKET_FORM, **fields}, now, then="dispatch",
                          data={"lead_unit": "QSZ"}).number
