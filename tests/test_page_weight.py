"""Page weight for township handlers on 2G/3G, measured on real gzip responses of the app: the queue page,
the first visit (HTML and every stylesheet and script it names), year-long caching of content-hashed static
URLs, and no request that would leave the county server (no CDN, no web fonts)."""
import gzip
import hashlib
import re
from urllib.parse import parse_qs, urljoin, urlsplit

import lxml.html
import pytest
from conftest import PASSWORD, at

from app.demo.callers import SAMPLE_APPEALS
from app.services import directory
from app.services.demo import QSZ_TOWNSHIP

from browser.phonekit import HANDLER, dispatched_ticket

QUEUE_HTML_BUDGET = 20 * 1024  # gzip bytes
FIRST_VISIT_BUDGET = 60 * 1024  # gzip bytes: HTML + CSS + JS
YEAR = 365 * 24 * 3600
GZIP = {"Accept-Encoding": "gzip, deflate"}


@pytest.fixture
def fifty(db, cfg):
    """50 varied tickets dispatched to 青石镇, so its 待签收 tab is full (varied, or gzip would flatter us)."""
    villages = directory.villages(db, QSZ_TOWNSHIP)
    urgencies = ["normal"] * 8 + ["urgent", "critical"]
    for i in range(50):
        appeal = SAMPLE_APPEALS[i % len(SAMPLE_APPEALS)]
        village = villages[i % len(villages)]
        dispatched_ticket(db, cfg, at("2026-03-02 09:00").replace(minute=i),
                          title=f"{appeal['title']}（{village['name']}{i % 9 + 1}组）",
                          content=appeal["content"].replace("{village}", village["name"]), territory=village["code"],
                          category=appeal["category"], kind=appeal["kind"], urgency=urgencies[i % 10],
                          caller_phone=f"1390000{i:04d}")


def login(client, username: str) -> None:
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302


def gz_get(client, url: str):
    """GET as a browser does (gzip accepted); the body is left compressed, as it travels."""
    resp = client.get(url, headers=GZIP)
    assert resp.status_code == 200, url
    return resp


def text_of(resp) -> str:
    """The body as the browser sees it after decompressing."""
    return (gzip.decompress(resp.data) if resp.headers.get("Content-Encoding") == "gzip" else resp.data).decode("utf-8")


def html_of(resp) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(text_of(resp))


def assets(doc) -> list[str]:
    """The stylesheets and scripts a page makes the browser fetch."""
    return doc.xpath("//link[@rel='stylesheet']/@href | //script/@src")


def test_queue_page_with_50_tickets_is_at_most_20_kb(client, fast_hashes, clock, fifty):
    login(client, HANDLER)
    resp = gz_get(client, "/queue/unit?tab=to_sign")
    assert resp.headers["Content-Encoding"] == "gzip"
    assert len(html_of(resp).xpath("//ul[@class='queue']/li")) == 50
    assert len(resp.data) <= QUEUE_HTML_BUDGET, f"queue page is {len(resp.data)} bytes gzip"


def test_first_visit_with_css_and_js_is_at_most_60_kb(client, fast_hashes, clock, fifty):
    """The login page, then the queue, with every stylesheet and script they name, all compressed."""
    first = gz_get(client, "/login")
    login(client, HANDLER)
    queue = gz_get(client, "/queue/unit")
    urls = sorted(set(assets(html_of(first)) + assets(html_of(queue))))
    assert any(u.endswith(".css") or ".css?" in u for u in urls) and any(".js" in u for u in urls)
    sizes = {u: len(gz_get(client, u).data) for u in urls}
    for u in urls:
        assert gz_get(client, u).headers["Content-Encoding"] == "gzip", u
    total = len(first.data) + len(queue.data) + sum(sizes.values())
    assert total <= FIRST_VISIT_BUDGET, f"first visit is {total} bytes gzip: {sizes}"


def test_static_urls_carry_their_content_hash_and_are_cached_for_a_year(client, app):
    doc = html_of(gz_get(client, "/login"))
    urls = assets(doc)
    assert len(urls) >= 2
    for url in urls:
        parts = urlsplit(url)
        [v] = parse_qs(parts.query)["v"]
        path = app.static_folder + parts.path.removeprefix("/static")
        with open(path, "rb") as f:
            assert len(v) >= 8 and hashlib.sha256(f.read()).hexdigest().startswith(v), url
        resp = gz_get(client, url)
        cc = resp.cache_control
        assert cc.max_age >= YEAR and cc.immutable and cc.public and not cc.no_cache, (url, resp.headers["Cache-Control"])


def test_later_visits_fetch_only_html(client, fast_hashes, clock, db, cfg):
    """Every page names the same static URLs, request after request, so the browser's cache answers them."""
    number = dispatched_ticket(db, cfg, at("2026-03-02 09:00"))
    seen = {"login": assets(html_of(gz_get(client, "/login")))}
    login(client, HANDLER)
    for url in ("/", "/queue/unit", "/queue/unit?tab=overdue", f"/tickets/{number}", "/tickets/", "/"):
        seen[url] = assets(html_of(gz_get(client, url)))
    assert len({tuple(v) for v in seen.values()}) == 1, seen
    # a page answered after an action (the redirect target) does not bust the cache either
    resp = client.post(f"/tickets/{number}/act/sign", data={"idem": "weight-sign"}, follow_redirects=True, headers=GZIP)
    assert assets(html_of(resp)) == seen["login"]


ROLES = ["qingshi", "center", "operator", "leader", "admin"]
LOADING_ATTRS = ("href", "src", "action", "srcset", "poster", "data", "formaction", "hx-get", "hx-post", "background")
EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.I)  # http://, https://, //host …
CSS_EXTERNAL = re.compile(r"@import|@font-face|url\(\s*['\"]?(?:[a-z]+:)?//", re.I)


def external_refs(doc) -> list[str]:
    """Everything in a page that would make the browser ask another host (or load a web font)."""
    found = []
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        for attr in LOADING_ATTRS:
            value = el.get(attr)
            if value and EXTERNAL.match(value):
                found.append(f"<{el.tag} {attr}={value}>")
        if el.tag == "link" and (el.get("rel") or "") in ("preconnect", "dns-prefetch", "preload"):
            found.append(f"<link rel={el.get('rel')}>")
        if el.tag == "style" and CSS_EXTERNAL.search(el.text or ""):
            found.append("<style> with @import, @font-face or a remote url()")
        if el.get("style") and CSS_EXTERNAL.search(el.get("style")):
            found.append(f"<{el.tag} style=…remote url…>")
    return found


@pytest.mark.parametrize("username", ROLES)
def test_no_page_reaches_outside_the_server(app, fast_hashes, clock, db, cfg, username):
    """Crawl every page a role can reach from home (up to 60), and the static files they name."""
    dispatched_ticket(db, cfg, at("2026-03-02 09:00"))
    client = app.test_client()
    login(client, username)
    todo, seen, checked, statics = ["/"], set(), 0, set()
    while todo and checked < 60:
        url = todo.pop(0)
        if url in seen:
            continue
        seen.add(url)
        resp = client.get(url, headers=GZIP)
        if resp.status_code != 200 or resp.mimetype != "text/html":
            continue
        checked += 1
        doc = html_of(resp)
        assert external_refs(doc) == [], url
        statics.update(assets(doc))
        for href in doc.xpath("//a/@href"):
            parts = urlsplit(urljoin("http://localhost" + url, href))
            if parts.netloc == "localhost" and not parts.path.startswith(("/static/", "/api/")) and "/attachments/" not in parts.path:
                todo.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    assert checked >= 3
    for url in statics:
        text = text_of(gz_get(client, url))
        if ".css" in url:
            assert not CSS_EXTERNAL.search(text), url
        assert not re.search(r"https?://(?!localhost|127\.0\.0\.1)[\w.-]+\.(?:com|cn|net|org|io)/[\w./-]*\.(?:js|css|woff2?|ttf|otf)", text), url
