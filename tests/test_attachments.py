"""Attachments on replies and notes: checked by content, size-limited, stored by hash, location stripped."""
import hashlib
import io
import re
import shutil

import pytest
from conftest import at, write_config
from PIL import Image
from test_tickets import CALLBACK_OK, Desk

from app import config as config_mod
from app.domain.errors import NotFound, ValidationFailed
from app.services import tickets as svc
from app.services.attachments import GPS_IFD, TooLarge
from app.store import connect, scalar

NOW = at("2026-03-02 09:00")
GPS = {1: "N", 2: (30.0, 1.0, 0.0), 3: "E", 4: (103.0, 2.0, 0.0)}
MODEL = 0x0110


def jpeg(gps: bool = True, colour: str = "red") -> bytes:
    """A small real JPEG with a camera model in its EXIF and, optionally, a GPS block."""
    exif = Image.Exif()
    exif[MODEL] = "TestCam"
    if gps:
        exif[GPS_IFD] = GPS
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buf, "PNG")
    return buf.getvalue()


def pdf(size: int = 0) -> bytes:
    body = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    return body + b"%" * max(0, size - len(body))


def stored_files(cfg) -> list:
    root = cfg.data_path / "attachments"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def desk(db, cfg):
    return Desk(db, cfg)


@pytest.fixture
def working(desk):
    return desk.reach("in_progress", NOW)


def reply(desk, number, *uploads, action="reply", who=None, **data):
    data = data or {"result": "已修复，附现场照片"}
    return svc.act(desk.db, desk.cfg, who or desk.qsz, number, action, data, at("2026-03-03 10:00"),
                   files=[svc.Upload(d, name) for d, name in uploads])


def test_photo_is_stored_by_hash_without_its_location(desk, cfg, working):
    data = jpeg()
    before = Image.open(io.BytesIO(data)).getexif()
    assert before.get_ifd(GPS_IFD) == GPS and before[MODEL] == "TestCam"  # the test photo really has GPS
    out = reply(desk, working, (data, "现场照片.jpg"))
    t = desk.ticket(working)
    assert t["state"] == "replied"
    [row] = t["attachments"]
    assert out.extra["attachments"] == [row["id"]]
    assert (row["mime"], row["label"], row["event_id"], row["unit_code"]) == ("image/jpeg", "现场照片.jpg",
                                                                              out.event_id, "QSZ")
    path = cfg.data_path / "attachments" / row["sha256"][:2] / row["sha256"]
    assert re.fullmatch(r"[0-9a-f]{64}", row["sha256"])
    assert stored_files(cfg) == [path]
    kept = path.read_bytes()
    assert (hashlib.sha256(kept).hexdigest(), len(kept)) == (row["sha256"], row["size"])
    assert kept != data
    after = Image.open(io.BytesIO(kept))
    exif = after.getexif()
    assert GPS_IFD not in exif and exif.get_ifd(GPS_IFD) == {}
    assert exif[MODEL] == "TestCam"  # only the location goes
    assert (after.format, after.size) == ("JPEG", (64, 48))


def test_location_is_kept_when_configured(tmp_path, demo_template):
    d = tmp_path / "keep"
    d.mkdir()
    cfg = config_mod.load(str(write_config(d, extra="[limits]\nkeep_photo_location = true\n")))
    cfg.data_path.mkdir(parents=True, exist_ok=True)
    shutil.copy(demo_template, cfg.db_path)
    db = connect(cfg.db_path)
    try:
        desk = Desk(db, cfg)
        n = desk.reach("in_progress", NOW)
        data = jpeg()
        reply(desk, n, (data, "a.jpg"))
        [row] = desk.ticket(n)["attachments"]
        assert row["sha256"] == hashlib.sha256(data).hexdigest()
        with Image.open(stored_files(cfg)[0]) as img:
            assert img.getexif().get_ifd(GPS_IFD) == GPS
    finally:
        db.conn.close()


@pytest.mark.parametrize("name", ["../../etc/passwd.jpg", "..\\..\\windows\\win.ini.jpg", "/etc/passwd.jpg",
                                  "a/../../../b.jpg", ".jpg", ""])
def test_user_file_name_is_never_used_as_a_path(desk, cfg, working, tmp_path, name):
    data = jpeg(gps=False)
    reply(desk, working, (data, name))
    [row] = desk.ticket(working)["attachments"]
    sha = hashlib.sha256(data).hexdigest()  # no GPS: stored as uploaded
    assert row["sha256"] == sha
    assert stored_files(cfg) == [cfg.data_path / "attachments" / sha[:2] / sha]
    everything = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")]
    assert not any(p.endswith(("passwd.jpg", "win.ini.jpg", "b.jpg")) for p in everything)
    assert not (tmp_path.parent / "etc").exists() and not (cfg.data_path.parent / "etc").exists()


@pytest.mark.parametrize("data", [
    b"root:x:0:0:root:/root:/bin/bash\n",                    # a text file renamed .jpg
    b"<?php system($_GET['c']); ?>",
    b"<html><script>alert(1)</script></html>",
    b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",                  # a real image kind, but not accepted
    b"PK\x03\x04" + b"\x00" * 40,                            # zip / docx
    b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 10,         # JPEG magic, broken body
    b"",
])
def test_wrong_content_is_refused_whatever_the_name(desk, cfg, working, data):
    before = desk.ticket(working)
    with pytest.raises(ValidationFailed) as err:
        reply(desk, working, (jpeg(gps=False), "ok.jpg"), (data, "photo.jpg"))
    assert err.value.status == 422
    after = desk.ticket(working)
    assert (after["state"], after["version"], len(after["events"]), after["attachments"]) == (
        "in_progress", before["version"], len(before["events"]), [])
    assert scalar(desk.db, "SELECT COUNT(*) FROM attachments") == 0


@pytest.fixture
def small(tmp_path, demo_template):
    """A county whose attachment limit is 1 MB."""
    d = tmp_path / "small"
    d.mkdir()
    cfg = config_mod.load(str(write_config(d, extra="[limits]\nattachment_max_mb = 1\n")))
    cfg.data_path.mkdir(parents=True, exist_ok=True)
    shutil.copy(demo_template, cfg.db_path)
    db = connect(cfg.db_path)
    yield Desk(db, cfg)
    db.conn.close()


@pytest.mark.parametrize("size,ok", [(1024 * 1024, True), (1024 * 1024 + 1, False), (3 * 1024 * 1024, False)])
def test_size_limit(small, size, ok):
    assert small.cfg.limits.attachment_max_mb == 1
    n = small.reach("in_progress", NOW)
    data = pdf(size)
    assert len(data) == size
    if ok:
        reply(small, n, (data, "报告.pdf"))
        assert [a["size"] for a in small.ticket(n)["attachments"]] == [size]
        return
    with pytest.raises(TooLarge) as err:
        reply(small, n, (data, "报告.pdf"))
    assert (err.value.status, err.value.code) == (413, "too_large")
    t = small.ticket(n)
    assert (t["state"], t["attachments"]) == ("in_progress", [])
    assert stored_files(small.cfg) == []


def test_pdf_and_png_are_accepted_as_they_are(desk, cfg, working):
    files = [(pdf(), "整改报告.pdf"), (png(), "图.png")]
    out = reply(desk, working, *files)
    rows = desk.ticket(working)["attachments"]
    assert [(r["mime"], r["sha256"], r["size"]) for r in rows] == [
        ("application/pdf", hashlib.sha256(files[0][0]).hexdigest(), len(files[0][0])),
        ("image/png", hashlib.sha256(files[1][0]).hexdigest(), len(files[1][0]))]
    assert out.extra["attachments"] == [r["id"] for r in rows]
    for r, (data, _) in zip(rows, files):
        assert (cfg.data_path / "attachments" / r["sha256"][:2] / r["sha256"]).read_bytes() == data


def test_the_same_photo_twice_is_stored_once(desk, cfg, working):
    data = jpeg()
    reply(desk, working, (data, "a.jpg"), action="note", note="第一次")
    reply(desk, working, (data, "b.jpg"), action="note", note="第二次")
    rows = desk.ticket(working)["attachments"]
    assert len(rows) == 2 and rows[0]["sha256"] == rows[1]["sha256"]
    assert len(stored_files(cfg)) == 1


@pytest.mark.parametrize("action,data,who", [
    ("note", {"note": "现场情况"}, "qsz"),
    ("contact", {"method": "visit", "note": "上门查看"}, "qsz"),
    ("co_reply", {"part": "协办意见"}, "zjj"),
])
def test_files_ride_on_handling_actions(desk, action, data, who):
    n = desk.new(NOW)
    desk.dispatch(n, NOW, co=["ZJJ"])
    desk.act(desk.qsz, n, "sign", NOW)
    reply(desk, n, (pdf(), "x.pdf"), action=action, who=getattr(desk, who), **data)
    [row] = desk.ticket(n)["attachments"]
    assert row["unit_code"] == getattr(desk, who).unit_code


@pytest.mark.parametrize("state,who,action,data", [
    ("dispatched", "qsz", "sign", {}),
    ("received", "center", "dispatch", {"lead_unit": "QSZ"}),
    ("in_progress", "qsz", "request_extension", {"workdays": 1, "reason": "等材料"}),
    ("in_progress", "qsz", "request_return", {"reason_code": "other", "reason": "x"}),
    ("replied", "operator", "callback", CALLBACK_OK),
    ("replied", "center", "send_back", {"reason": "x"}),
])
def test_files_are_not_allowed_on_other_actions(desk, cfg, state, who, action, data):
    n = desk.reach(state, NOW)
    before = desk.ticket(n)
    with pytest.raises(ValidationFailed):
        reply(desk, n, (pdf(), "x.pdf"), action=action, who=getattr(desk, who), **data)
    after = desk.ticket(n)
    assert (after["state"], after["version"], after["attachments"]) == (state, before["version"], [])
    assert stored_files(cfg) == []


def test_attachment_is_served_only_to_those_who_may_see_the_ticket(desk, working):
    reply(desk, working, (pdf(), "x.pdf"))
    [row] = desk.ticket(working)["attachments"]
    for who in (desk.qsz, desk.center, desk.leader):
        assert svc.attachment_for(desk.db, who, working, row["id"])["sha256"] == row["sha256"]
    for who, number, aid in [(desk.zls, working, row["id"]), (desk.center, working, row["id"] + 1),
                             (desk.center, "TST-20990101-0001", row["id"])]:
        with pytest.raises(NotFound):
            svc.attachment_for(desk.db, who, number, aid)
    other = desk.reach("in_progress", NOW)
    with pytest.raises(NotFound):  # an attachment id of one ticket is not reachable through another
        svc.attachment_for(desk.db, desk.center, other, row["id"])
