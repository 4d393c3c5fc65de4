"""Draws the web app's icons (run once; the PNGs are committed): python -m webapp.make_icons"""

from pathlib import Path

from PIL import Image, ImageDraw

ICONS = Path(__file__).resolve().parent / "static" / "webapp" / "icons"
BLUE, WHITE, AMBER = (31, 111, 235, 255), (255, 255, 255, 255), (255, 184, 0, 255)


def draw(size, *, maskable=False):
    scale = 4  # drawn large, then downsampled for smooth edges
    s = size * scale
    image = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(image)
    if maskable:
        d.rectangle([0, 0, s, s], fill=BLUE)
        inset = s * 0.2  # the safe zone of a maskable icon is the inner 80 % circle
    else:
        d.rounded_rectangle([0, 0, s - 1, s - 1], radius=s * 0.22, fill=BLUE)
        inset = s * 0.12

    def p(x, y):  # a point of the 100x100 design, inside the inset
        return inset + x / 100 * (s - 2 * inset), inset + y / 100 * (s - 2 * inset)

    # A "K": its stem and two arms.
    d.polygon([p(18, 16), p(34, 16), p(34, 84), p(18, 84)], fill=WHITE)
    d.polygon([p(34, 50), p(64, 16), p(84, 16), p(46, 58)], fill=WHITE)
    d.polygon([p(42, 52), p(56, 42), p(86, 84), p(66, 84)], fill=WHITE)
    # The dot of "KILO." as a notification badge.
    cx, cy = p(80, 78)
    r = (s - 2 * inset) * 0.1
    d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=AMBER)
    return image.resize((size, size), Image.LANCZOS)


def main():
    ICONS.mkdir(parents=True, exist_ok=True)
    for size in (32, 96, 192, 512):
        draw(size).save(ICONS / f"icon-{size}.png", optimize=True)
    draw(512, maskable=True).save(ICONS / "icon-maskable-512.png", optimize=True)


if __name__ == "__main__":
    main()
