"""Channel logos: an upload is decoded with Pillow and re-encoded as a small square PNG.

Only the decoded pixels survive: no metadata, no trailing bytes, no second format
hiding in the file.
"""

import io
import secrets

from django.conf import settings
from django.core.files.base import ContentFile
from PIL import Image, ImageOps

from kilopush.errors import InvalidValue

FORMATS = ("PNG", "JPEG", "WEBP")


def logo_process(upload):
    """Returns a ContentFile holding the PNG to store, or raises 4005."""
    size = getattr(upload, "size", None)
    if size is None or size > settings.LOGO_MAX_BYTES:
        raise InvalidValue(f"logo must be at most {settings.LOGO_MAX_BYTES // (1024 * 1024)} MB")
    try:
        upload.seek(0)
        image = Image.open(upload, formats=FORMATS)
        width, height = image.size
        if width * height > settings.LOGO_MAX_PIXELS:
            raise InvalidValue("logo has too many pixels")
        image.draft("RGB", (settings.LOGO_SIZE, settings.LOGO_SIZE))  # JPEG: decode at reduced scale
        image.load()
        image = ImageOps.exif_transpose(image)
        image = image.convert("RGBA")
        image.thumbnail((settings.LOGO_SIZE, settings.LOGO_SIZE), Image.Resampling.LANCZOS)
        side = max(image.size)
        square = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        square.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
        out = io.BytesIO()
        square.save(out, format="PNG", optimize=True)
    except InvalidValue:
        raise
    except Image.DecompressionBombError:
        raise InvalidValue("logo has too many pixels") from None
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError, KeyError, MemoryError):
        # What Pillow raises for unknown, truncated or malformed images.
        raise InvalidValue("logo must be a PNG, JPEG or WebP image") from None
    return ContentFile(out.getvalue(), name=f"{secrets.token_hex(16)}.png")
