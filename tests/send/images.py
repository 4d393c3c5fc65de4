"""Real image files made with Pillow (and one hand-built PNG bomb) for the attachment tests."""

import io
import os
import struct
import zlib

from PIL import ExifTags, Image, PngImagePlugin

GPS_LATITUDE = (52.0, 31.0, 12.5)


def _saved(image, fmt, **options):
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def jpeg_with_gps(size=(800, 600), orientation=6):
    """A JPEG whose EXIF holds a GPS position, a camera make and model, and an orientation (6: turn 90° clockwise)."""
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((30, 30, 200), (0, 0, size[0] // 2, size[1]))  # left half blue: shows which way it was turned
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCam Industries"
    exif[ExifTags.Base.Model] = "Door Snapper 3000"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = GPS_LATITUDE
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (13.0, 24.0, 36.0)
    return _saved(image, "JPEG", exif=exif, quality=90)


def png(size=(300, 200), text="a secret comment"):
    """An RGBA PNG with a transparent corner and a tEXt chunk."""
    image = Image.new("RGBA", size, (0, 160, 0, 255))
    image.paste((0, 0, 0, 0), (0, 0, size[0] // 4, size[1] // 4))
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", text)
    return _saved(image, "PNG", pnginfo=info)


def gif(size=(120, 80)):
    """An animated GIF of two frames: red, then blue."""
    frames = [Image.new("RGB", size, (255, 0, 0)), Image.new("RGB", size, (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def webp(size=(640, 480)):
    return _saved(Image.new("RGB", size, (250, 200, 0)), "WEBP", quality=80)


def large_jpeg(size=(4000, 1000)):
    return _saved(Image.new("RGB", size, (90, 90, 90)), "JPEG", quality=80)


def truncated_jpeg():
    whole = _saved(Image.frombytes("RGB", (400, 300), os.urandom(400 * 300 * 3)), "JPEG", quality=90)
    return whole[: len(whole) // 2]


def pdf():
    return _saved(Image.new("RGB", (200, 100), (255, 255, 255)), "PDF")


def noise_png(min_bytes):
    """A PNG of random pixels (it does not compress) of at least min_bytes."""
    side = int((min_bytes / 3) ** 0.5) + 16
    data = _saved(Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)), "PNG", compress_level=1)
    assert len(data) >= min_bytes
    return data


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(side=30_000):
    """A valid 1-bit side × side PNG of a few hundred KB that would decode to side² pixels.

    Built row by row through zlib, so making it never holds the pixels either.
    """
    row = b"\x00" + b"\x00" * ((side + 7) // 8)  # filter byte + one bit per pixel
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row * 1000) for _ in range(side // 1000)]
    parts.append(compressor.compress(row * (side % 1000)))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")
