"""Attachments: type checked by content, size-limited, stored by content hash, location metadata removed."""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from ..domain.errors import HotlineError, ValidationFailed

# (magic prefix, mime, extension); only these kinds are accepted, whatever the file is called
SIGNATURES = [
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"%PDF-", "application/pdf", "pdf"),
]
EXTENSIONS = {mime: ext for _, mime, ext in SIGNATURES} | {"image/webp": "webp"}
GPS_IFD = 0x8825


class TooLarge(HotlineError):
    """An upload over the configured size limit."""

    code = "too_large"
    status = 413


@dataclass(frozen=True)
class Stored:
    """A file saved under the data directory."""

    sha256: str
    mime: str
    size: int


def sniff(data: bytes) -> str | None:
    """The mime type read from the file's first bytes, or None when it is not an accepted kind."""
    for magic, mime, _ in SIGNATURES:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _checked_image(data: bytes, mime: str, keep_location: bool) -> bytes:
    """Open the photo fully (a broken file is refused); re-save it without its GPS block unless told to keep it."""
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise ValidationFailed("图片文件已损坏，无法打开。", field="files") from None
    exif = img.getexif()
    if keep_location or GPS_IFD not in exif:
        return data
    del exif[GPS_IFD]
    out = io.BytesIO()
    fmt = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}[mime]
    kwargs = {"quality": 90} if fmt in ("JPEG", "WEBP") else {}
    img.save(out, fmt, exif=exif.tobytes(), **kwargs)
    return out.getvalue()


def path_for(data_dir: Path, sha256: str) -> Path:
    """Where a file with this hash lives: <data>/attachments/ab/abcdef…; never a user-given name."""
    return data_dir / "attachments" / sha256[:2] / sha256


def save(data_dir: Path, data: bytes, max_mb: int, keep_location: bool = False) -> Stored:
    """Check and store one upload; raise ValidationFailed (bad type) or TooLarge."""
    if not data:
        raise ValidationFailed("上传的文件是空的。", field="files")
    if len(data) > max_mb * 1024 * 1024:
        raise TooLarge(f"文件太大：{len(data) / 1024 / 1024:.1f} MB，单个文件不能超过 {max_mb} MB。", field="files")
    mime = sniff(data)
    if mime is None:
        raise ValidationFailed("只能上传照片（JPG、PNG、WebP）或 PDF 文件。", field="files")
    if mime.startswith("image/"):
        data = _checked_image(data, mime, keep_location)
    sha = hashlib.sha256(data).hexdigest()
    target = path_for(data_dir, sha)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(target)
    return Stored(sha, mime, len(data))
