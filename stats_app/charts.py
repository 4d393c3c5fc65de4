"""Small charts drawn on the server as inline SVG: no JavaScript, no CDN.

Labels may be user content (channel names), so every text goes through escape().
"""

from django.utils.html import escape
from django.utils.safestring import mark_safe

BAR_COLOR = "#417690"  # the admin's own blue
TEXT_STYLE = 'font-family="sans-serif" font-size="11" fill="currentColor"'


def _fmt(value):
    return f"{value:.1f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


# The width of the narrow versions, shown instead of the wide ones on a phone (360 px): a wide chart shrunk
# to fit would shrink its 11 px text with it, to about 6 px.
NARROW_WIDTH = 320


def responsive(wide, narrow):
    """Both versions of a chart; the page's CSS shows the narrow one on small screens (kp-wide, kp-narrow)."""
    return mark_safe(f'<div class="kp-wide">{wide}</div><div class="kp-narrow">{narrow}</div>')


def column_chart(points, *, title, width=560, height=180, label_every=1):
    """Vertical bars for a series [(label, value)], e.g. messages per day; `label_every`: one label under
    every nth bar (the last bar always has one), so that labels never overlap on a narrow chart."""
    top, bottom, left, right = 16, 34, 8, 8
    plot_h = height - top - bottom
    n = max(len(points), 1)
    slot = (width - left - right) / n
    peak = max((value for _, value in points), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="kp-chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#999"/>',
    ]
    for i, (label, value) in enumerate(points):
        bar_h = round(plot_h * value / peak, 1)
        x = round(left + i * slot + slot * 0.15, 1)
        y = round(top + plot_h - bar_h, 1)
        cx = round(left + i * slot + slot / 2, 1)
        parts.append(
            f'<rect x="{x}" y="{y}" width="{round(slot * 0.7, 1)}" height="{bar_h}" fill="{BAR_COLOR}">'
            f"<title>{escape(label)}: {_fmt(value)}</title></rect>"
        )
        parts.append(f'<text x="{cx}" y="{y - 3}" text-anchor="middle" {TEXT_STYLE}>{_fmt(value)}</text>')
        if (len(points) - 1 - i) % label_every == 0:
            parts.append(
                f'<text x="{cx}" y="{height - bottom + 14}" text-anchor="middle" {TEXT_STYLE}>{escape(label)}</text>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def bar_chart(items, *, title, width=560, unit="", max_value=None, label_width=200, label_chars=30):
    """Horizontal bars for categories [(label, value)], e.g. top channels; one row per item."""
    row_h, label_w, value_w, pad = 22, label_width, 70 if width > NARROW_WIDTH else 50, 6
    height = max(len(items), 1) * row_h + pad * 2
    peak = max_value if max_value is not None else (max((value for _, value in items), default=0) or 1)
    plot_w = width - label_w - value_w
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="kp-chart" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    if not items:
        parts.append(f'<text x="{pad}" y="{pad + 14}" {TEXT_STYLE}>No data yet</text>')
    for i, (label, value) in enumerate(items):
        y = pad + i * row_h
        bar_w = round(plot_w * min(value / peak, 1), 1) if peak else 0
        short = label if len(label) <= label_chars else label[:label_chars - 1] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" {TEXT_STYLE}>{escape(short)}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="{row_h - 6}" fill="{BAR_COLOR}">'
            f"<title>{escape(label)}: {_fmt(value)}{escape(unit)}</title></rect>"
        )
        parts.append(f'<text x="{label_w + bar_w + 4}" y="{y + 15}" {TEXT_STYLE}>{_fmt(value)}{escape(unit)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
