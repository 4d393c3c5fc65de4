"""Image attachments of the send API: decoded, cleaned and stored like channel logos.

An upload (the multipart part `attachment`) is decoded with Pillow only after its size in pixels,
read from the header, is within ATTACHMENT_MAX_PIXELS (decompression bombs); it is turned upright by
its EXIF orientation, scaled to at most MAX_SIDE on its long side and re-encoded from its pixels
alone, so no metadata survives (no GPS, no camera). The file goes to Django's default storage
under a random name (the URL is unguessable) and is deleted when its message leaves the inbox.
"""

import io
import logging
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from PIL import Image, ImageOps

from channels_app.quota import utc_today
from kilopush import media
from kilopush.errors import InvalidValue, Throttled

from .models import AttachmentDay

logger = logging.getLogger(__name__)

MAX_SIDE = 2048
FOLDER = "attachments"
NAME_PATTERN = rf"{FOLDER}/[0-9a-f]{{32}}\.(jpg|png|webp)"
# What is kept of each format: GIF's first frame becomes a PNG.
_OUTPUT = {"JPEG": ("JPEG", "jpg", "image/jpeg"), "PNG": ("PNG", "png", "image/png"),
           "GIF": ("PNG", "png", "image/png"), "WEBP": ("WEBP", "webp", "image/webp")}
CONTENT_TYPES = {extension: content_type for _, extension, content_type in _OUTPUT.values()}
UNUSABLE = "attachment must be a JPEG, PNG, GIF or WebP image"


@dataclass(frozen=True)
class Processed:
    content: bytes
    extension: str
    content_type: str
    width: int
    height: int

    @property
    def size(self):
        return len(self.content)


def process(upload):
    """Returns the cleaned image to store, or raises 4005."""
    size = getattr(upload, "size", None)
    if size is None or size > settings.ATTACHMENT_MAX_BYTES:
        raise InvalidValue(f"attachment must be at most {settings.ATTACHMENT_MAX_BYTES / (1024 * 1024):g} MB")
    try:
        upload.seek(0)
        image = Image.open(upload, formats=tuple(_OUTPUT))
        width, height = image.size  # from the header: nothing is decoded yet
        if width * height > settings.ATTACHMENT_MAX_PIXELS:
            raise InvalidValue("attachment has too many pixels")
        output, extension, content_type = _OUTPUT[image.format]
        image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at a reduced scale when it is larger
        image.load()  # a GIF's or animated WebP's first frame
        image = ImageOps.exif_transpose(image)
        image = _converted(image, output)
        image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
        clean = Image.new(image.mode, image.size)  # the pixels alone: no EXIF, XMP, ICC or text chunks
        clean.paste(image)
        out = io.BytesIO()
        if output == "JPEG":
            clean.save(out, format="JPEG", quality=85, optimize=True)
        elif output == "WEBP":
            clean.save(out, format="WEBP", quality=85)
        else:
            clean.save(out, format="PNG")
    except InvalidValue:
        raise
    except Image.DecompressionBombError:
        raise InvalidValue("attachment has too many pixels") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError, KeyError, MemoryError):
        # What Pillow raises for unknown, truncated or malformed images.
        raise InvalidValue(UNUSABLE) from None
    return Processed(out.getvalue(), extension, content_type, clean.width, clean.height)


def _converted(image, output):
    if output == "JPEG":
        return image.convert("RGB")
    alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    return image.convert("RGBA" if alpha else "RGB")


def store(processed):
    """Saves the image under a new random name; returns the storage's name for it."""
    return default_storage.save(
        f"{FOLDER}/{secrets.token_hex(16)}.{processed.extension}", ContentFile(processed.content)
    )


def delete_files(names):
    """Deletes stored attachment files now; a failure is logged, never raised (the message is gone anyway)."""
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except Exception:
            logger.warning("Could not delete attachment %s", name, exc_info=True)


def delete_files_on_commit(names):
    """Deletes the files once the transaction that dropped their messages has committed."""
    names = [name for name in names if name]
    if names:
        transaction.on_commit(lambda: delete_files(names))


def files_of(messages):
    """The stored attachment names of a queryset of messages (the ones about to be deleted or emptied)."""
    return list(messages.exclude(attachment_file="").values_list("attachment_file", flat=True))


def url_of(name, request=None):
    """The absolute URL of a stored attachment (SITE_URL, else the request's host), as channel logos."""
    return media.absolute_url(default_storage.url(name), request)


def attachment_of(message, request=None):
    """The inbox item's `attachment`: {url, content_type, width, height, size}, or None."""
    if message.attachment_file:
        return {
            "url": url_of(message.attachment_file, request),
            "content_type": message.attachment_type,
            "width": message.attachment_width,
            "height": message.attachment_height,
            "size": message.attachment_size,
        }
    if message.attachment_url:
        return {"url": message.attachment_url, "content_type": None, "width": None, "height": None, "size": None}
    return None


def push_url(message):
    """The attachment's URL for a push (absolute, or "": a phone cannot follow a relative one)."""
    if message.attachment_file:
        url = url_of(message.attachment_file)
        return url if url.startswith(("http://", "https://")) else ""
    return message.attachment_url


_TAKE_BUDGET_SQL = f"""
INSERT INTO {AttachmentDay._meta.db_table} AS a (channel_id, day, bytes)
SELECT %(channel)s, %(day)s, %(size)s WHERE %(size)s <= %(limit)s
ON CONFLICT (channel_id, day) DO UPDATE SET bytes = a.bytes + EXCLUDED.bytes
WHERE a.bytes + EXCLUDED.bytes <= %(limit)s
RETURNING bytes
"""


def take_daily_bytes(*, channel_id, size, now):
    """Counts `size` bytes against the channel's ATTACHMENT_DAILY_BYTES of today (UTC), or raises 4029.

    Atomic (one upsert); call it in the transaction that stores the message, so a send that stores
    nothing gives the bytes back.
    """
    params = {"channel": channel_id, "day": utc_today(now), "size": size, "limit": settings.ATTACHMENT_DAILY_BYTES}
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_BUDGET_SQL, params)
        if cursor.fetchone() is None:
            raise Throttled("The channel's daily attachment budget is exhausted; sends without an attachment still go")


def blank_fields():
    """What a removed message keeps of its upload: nothing."""
    return {"attachment_url": "", "attachment_file": "", "attachment_type": "", "attachment_width": None,
            "attachment_height": None, "attachment_size": None}

