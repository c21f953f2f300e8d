"""A township handler's day on a phone, in real Chromium at 390x844 against the real server and SQLite file:
sign in one tap, reply with a photo that is shrunk in the browser, lose the signal mid-submit, retry once."""
import json
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from app.services import attachments as attachments_svc
from app.store import all_rows

from .phonekit import CALLER_PHONE, HANDLER, TICKET_FORM

pytestmark = pytest.mark.browser

RESULT = "已安排挖机平整路面，回填碎石约20方，现已可以通行。已电话告知李建国，他表示满意。"
NOTE = "已电话联系李建国，约定明天上午到现场查看。"
GPS_IFD = 0x8825


def reply_events(db, number: str) -> list[dict]:
    return all_rows(db, "SELECT e.id FROM events e JOIN tickets t ON t.id = e.ticket_id "
                        "WHERE t.number = ? AND e.action = 'reply'", (number,))


def attachments(db, number: str) -> list[dict]:
    return all_rows(db, "SELECT a.* FROM attachments a JOIN tickets t ON t.id = a.ticket_id WHERE t.number = ?",
                    (number,))


def saved(number: str, action: str):
    """The URL the server redirects to after a successful action."""
    return re.compile(rf"/tickets/{number}\?saved={number}-{action}")


def open_queue_and_ticket(phone, number: str) -> None:
    """From the home page through the menu to the unit queue, then the ticket; the call link is there."""
    page = phone.page
    page.locator("details.menu summary").tap()
    page.locator("details.menu nav a", has_text="本单位工单").tap()
    expect(page.locator("#unit-queue")).to_be_visible()
    phone.shot("unit-queue")
    page.locator("#queue-list a", has_text=TICKET_FORM["title"]).tap()
    expect(page.locator("#ticket")).to_have_attribute("data-number", number)
    expect(page.locator("#call-link")).to_have_attribute("href", f"tel:{CALLER_PHONE}")
    phone.shot("ticket")


def sign(phone) -> None:
    """Sign for the ticket with one tap."""
    page = phone.page
    page.locator("#act-sign button").tap()
    expect(page.locator("#timeline .ev-sign")).to_have_count(1)
    expect(page.locator("#state")).to_have_text("办理中")
    phone.shot("signed")


def assert_one_shrunk_photo(db, cfg, number: str, reply_id: int, max_side: int) -> None:
    [att] = attachments(db, number)
    assert att["event_id"] == reply_id and att["mime"] == "image/jpeg"
    with Image.open(attachments_svc.path_for(cfg.data_path, att["sha256"])) as img:
        assert img.format == "JPEG" and max(img.size) <= max_side
        assert GPS_IFD not in img.getexif()  # where the photo was taken is not kept


def statics_fetched_once(live) -> None:
    """Hashed static URLs are cached for a year: after the first page, only HTML comes from the server."""
    statics = [h.path for h in live.hits if h.path.startswith("/static/")]
    assert statics and all("?v=" in s for s in statics)
    assert len(statics) == len(set(statics)), statics


def test_reply_with_a_photo_survives_a_dropped_signal_and_is_saved_once(phone, live, ticket, photos, db, cfg):
    page = phone.page
    phone.login()
    expect(page.locator("#unit-counts a").first).to_contain_text("1")  # the unit's counts on the home page
    phone.shot("home-with-counts")
    open_queue_and_ticket(phone, ticket)
    sign(phone)

    page.locator("#act-reply summary").tap()
    result = page.locator("#act-reply textarea[name=result]")
    result.fill(RESULT)
    draft_key = f"hotline-draft:{ticket}-reply"
    page.wait_for_function("k => localStorage.getItem(k) !== null", arg=draft_key)
    phone.shot("reply-typed")
    page.reload()  # the battery died, the WeChat tab was closed …
    expect(result).to_have_value(RESULT)
    expect(page.locator("#act-reply")).to_have_attribute("open", "")
    expect(page.locator("#act-reply .flash.info")).to_contain_text("已恢复")
    phone.shot("draft-restored-after-reload")

    big = photos["big"]
    assert big.stat().st_size > 3 * 1024 * 1024
    picker = page.locator("#act-reply input[type=file]")
    picker.set_input_files(big)
    expect(picker).to_have_attribute("data-shrunk", "1")
    expect(page.locator("#act-reply .photo-note")).to_contain_text("已压缩")
    assert picker.evaluate("el => el.files[0].type") == "image/jpeg"
    phone.shot("photo-chosen")

    phone.context.set_offline(True)
    page.locator("#act-reply button[type=submit]").tap()
    alert = page.locator("#act-reply .net-error")
    expect(alert).to_contain_text("网络断了")
    expect(alert.locator("button")).to_have_text("重新提交")
    expect(result).to_have_value(RESULT)  # nothing typed is lost
    phone.shot("offline-submit-failed")
    assert live.posts("/act/reply") == [] and reply_events(db, ticket) == []
    page.locator("details.menu summary").tap()  # tapping a link while offline says so, too
    page.locator("details.menu nav a", has_text="本单位工单").tap()
    expect(page.locator("#net-notice")).to_contain_text("页面没有打开")
    expect(page.locator("#ticket")).to_be_visible()
    page.locator("details.menu summary").tap()
    phone.shot("offline-link-failed")

    phone.context.set_offline(False)
    alert.locator("button").tap()
    expect(page.locator("#timeline .ev-reply")).to_have_count(1)
    expect(page.locator("#state")).to_have_text("已答复")
    expect(page.locator("#reply-text")).to_have_text(RESULT)
    expect(page.locator("#attachments img")).to_have_count(1)
    phone.shot("replied-once")

    [reply] = reply_events(db, ticket)
    assert_one_shrunk_photo(db, cfg, ticket, reply["id"], max_side=1600)
    [post] = live.posts("/act/reply")
    assert post.received < big.stat().st_size / 4, "the photo went up at camera size"
    assert page.evaluate("k => localStorage.getItem(k)", draft_key) is None  # saved, so the draft is gone
    statics_fetched_once(live)  # even across the reload


def test_a_retry_after_a_lost_answer_saves_the_reply_once(phone, live, ticket, photos, db, cfg):
    page = phone.page
    phone.login()
    page.add_init_script(HOLD_SHRINKING)
    page.goto(f"/tickets/{ticket}")
    sign(phone)
    page.locator("#act-reply summary").tap()
    page.locator("#act-reply textarea[name=result]").fill(RESULT)
    page.locator("#act-reply input[type=file]").set_input_files(photos["big"])
    form = page.locator("#act-reply form")
    expect(form).to_have_attribute("data-shrinking", "1")

    attempts = []

    def lose_first_answer(route):
        attempts.append(route.request.method)
        if len(attempts) == 1:
            route.fetch(max_redirects=0)  # the reply reaches the server and is saved …
            route.abort("internetdisconnected")  # … but the answer never reaches the phone
        else:
            route.continue_()

    page.route("**/act/reply", lose_first_answer)
    page.locator("#act-reply button[type=submit]").tap()  # before the photo is shrunk: the submit waits for it
    expect(form).to_have_attribute("data-status", re.compile("正在压缩照片"))
    assert attempts == []  # the camera-sized original did not go
    page.evaluate("releaseShrinking()")
    expect(page.locator("#act-reply .net-error")).to_contain_text("网络断了")
    phone.shot("answer-lost")
    assert len(reply_events(db, ticket)) == 1  # the first attempt did arrive
    expect(page.locator("#timeline .ev-reply")).to_have_count(0)

    page.locator("#act-reply .net-error button").tap()
    expect(page.locator("#timeline .ev-reply")).to_have_count(1)
    expect(page.locator(".flash.info")).to_contain_text("没有重复保存")
    phone.shot("retried-saved-once")
    assert attempts == ["POST", "POST"] and len(live.posts("/act/reply")) == 2
    assert all(p.received < photos["big"].stat().st_size / 4 for p in live.posts("/act/reply"))
    [reply] = reply_events(db, ticket)
    assert_one_shrunk_photo(db, cfg, ticket, reply["id"], max_side=1600)


def test_a_note_saved_at_once_leaves_no_draft_behind(phone, ticket, db):
    """Typing and tapping 保存 within the autosave's pause must not bring the note back as a "draft" later."""
    page = phone.page
    phone.login()
    page.clock.install()  # the page's timers run on a clock the test can move forward
    page.goto(f"/tickets/{ticket}")
    sign(phone)
    page.locator("#act-note summary").tap()
    page.locator("#act-note textarea[name=note]").fill(NOTE)
    page.locator("#act-note button[type=submit]").tap()
    expect(page.locator("#timeline .ev-note .note")).to_have_text(NOTE)
    page.clock.run_for(5000)  # any autosave still pending from the typing fires now
    assert page.evaluate("k => localStorage.getItem(k)", f"hotline-draft:{ticket}-note") is None
    page.goto(f"/tickets/{ticket}")
    expect(page.locator("#act-note textarea[name=note]")).to_have_value("")
    expect(page.locator("#act-note .flash.info")).to_have_count(0)
    phone.shot("no-stale-draft")


def test_a_retried_callback_keeps_the_button_that_was_pressed(phone, live, ticket, db, cfg, clock):
    """The centre's 回访 form has two submit buttons (办结 / 重办): a retry after a dropped signal sends the same one."""
    from app.services import tickets as svc

    from .phonekit import actor

    qsz = actor(db, HANDLER)
    svc.act(db, cfg, qsz, ticket, "sign", {}, clock.current)
    svc.act(db, cfg, qsz, ticket, "reply", {"result": RESULT}, clock.current)
    page = phone.page
    phone.login("center")
    page.goto(f"/tickets/{ticket}")
    page.locator("#act-callback").evaluate("d => { d.open = true; }")  # opened by default for the centre
    page.locator("#act-callback input[name=resolved][value='0']").check()
    page.locator("#act-callback input[name=satisfaction][value=unsatisfied]").check()
    phone.context.set_offline(True)
    page.locator("#act-callback button[value=reopen]").tap()
    expect(page.locator("#act-callback .net-error")).to_contain_text("网络断了")
    phone.context.set_offline(False)
    page.locator("#act-callback .net-error button").tap()
    expect(page.locator("#timeline .ev-callback")).to_contain_text("重办")
    expect(page.locator("#state")).to_have_text("办理中")
    phone.shot("callback-retried-reopen")


def test_without_javascript_sign_contact_and_reply_post_and_redirect(phone_factory, live, ticket, photos, db, cfg):
    phone = phone_factory(js=False)
    page = phone.page
    phone.login()
    open_queue_and_ticket(phone, ticket)
    page.locator("#act-sign button").tap()
    page.wait_for_url(saved(ticket, "sign"))
    expect(page.locator("#timeline .ev-sign")).to_have_count(1)
    phone.shot("signed")

    page.locator("#act-contact summary").tap()  # <details> opens without JavaScript
    page.locator("#act-contact select[name=method]").select_option("phone")
    page.locator("#act-contact textarea[name=note]").fill(NOTE)
    page.locator("#act-contact button[type=submit]").tap()
    page.wait_for_url(saved(ticket, "contact"))
    expect(page.locator("#timeline .ev-contact .note")).to_have_text(NOTE)
    phone.shot("contact-recorded")

    page.locator("#act-reply summary").tap()
    form = page.locator("#act-reply form")
    form.locator("textarea[name=result]").fill(RESULT)
    form.locator("input[type=file]").set_input_files(photos["small"])  # goes up as taken: no script to shrink it
    fields = {name: form.locator(f"input[name={name}]").input_value() for name in ("csrf_token", "version", "idem")}
    phone.shot("reply-filled")
    form.locator("button[type=submit]").tap()
    page.wait_for_url(saved(ticket, "reply"))
    expect(page.locator("#timeline .ev-reply")).to_have_count(1)
    expect(page.locator("#attachments img")).to_have_count(1)
    phone.shot("replied")

    # the phone sends the very same form again (a retry after a timeout whose first attempt did arrive)
    photo = photos["small"]
    again = page.request.post(f"/tickets/{ticket}/act/reply", multipart={
        **fields, "result": RESULT, "files": {"name": photo.name, "mimeType": "image/jpeg", "buffer": photo.read_bytes()}})
    assert again.ok and saved(ticket, "reply").search(again.url)
    assert "没有重复保存" in again.text()
    page.reload()
    expect(page.locator("#timeline .ev-reply")).to_have_count(1)
    phone.shot("after-double-submit")

    [reply] = reply_events(db, ticket)
    assert_one_shrunk_photo(db, cfg, ticket, reply["id"], max_side=1200)
    statics_fetched_once(live)  # every page here was a full load, yet the stylesheet came once


def test_handler_pages_fit_a_phone(phone, ticket):
    """Tap targets at least 44 px, text at least 12 px, nothing wider than the screen."""
    page = phone.page
    page.goto("/login")
    pages = {"login": page.url}
    phone.login()
    sign_url = f"/tickets/{ticket}"
    pages.update(home="/", queue="/queue/unit", ticket_to_sign=sign_url)
    problems = {}
    for name, url in pages.items():
        if name != "login":
            page.goto(url)
        problems[name] = page.evaluate(MEASURE)
    page.locator("#act-sign button").tap()
    expect(page.locator("#timeline .ev-sign")).to_have_count(1)
    page.evaluate("document.querySelectorAll('#actions details').forEach(function (d) { d.open = true; })")
    phone.shot("every-action-open")
    problems["ticket_signed_all_open"] = page.evaluate(MEASURE)
    assert page.locator("#actions details").count() >= 5  # contact, reply, note, extension, return
    bad = {k: {what: found for what, found in v.items() if found} for k, v in problems.items() if any(v.values())}
    assert not bad, json.dumps(bad, ensure_ascii=False, indent=1)


# Run before the page's scripts: canvas.toBlob (the JPEG encoding of a shrunk photo) waits until the test
# calls releaseShrinking(), as if the phone were slow; without it the test could not tell when to tap.
HOLD_SHRINKING = """(function () {
  var toBlob = HTMLCanvasElement.prototype.toBlob, held = [];
  HTMLCanvasElement.prototype.toBlob = function (cb, type, quality) {
    var canvas = this;
    held.push(function () { toBlob.call(canvas, cb, type, quality); });
  };
  window.releaseShrinking = function () { held.splice(0).forEach(function (go) { go(); }); };
})();"""

# Run in the page: what is too small to tap or read, and how far the page overflows the screen sideways.
MEASURE = """() => {
  var out = {small_targets: [], small_text: [], overflow: []};
  function label(el) { return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' ' + (el.textContent || el.name || '').trim().slice(0, 20); }
  function shown(el) { var r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== 'hidden'; }
  document.querySelectorAll('a[href], button, summary, input:not([type=hidden]), select, textarea').forEach(function (el) {
    if (!shown(el)) return;
    var r = el.getBoundingClientRect();
    if (el.closest('label.check') || el.closest('label.field')) {  // the whole label is the target
      r = (el.closest('label.check') || el).getBoundingClientRect();
    }
    if (r.height < 44 || r.width < 44) out.small_targets.push(label(el) + ' ' + Math.round(r.width) + 'x' + Math.round(r.height));
  });
  document.querySelectorAll('body *').forEach(function (el) {
    var own = Array.prototype.some.call(el.childNodes, function (n) { return n.nodeType === 3 && n.textContent.trim(); });
    if (own && shown(el) && parseFloat(getComputedStyle(el).fontSize) < 12) out.small_text.push(label(el));
  });
  if (document.documentElement.scrollWidth > window.innerWidth) out.overflow.push(document.documentElement.scrollWidth);
  return out;
}"""
