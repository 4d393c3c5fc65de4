"""What a channel name may contain (issue 16, item 6). A name becomes a notification's title,
so it must not be able to hide or reorder text, or look empty.

Refused: control characters (Cc), surrogates (Cs), format characters (Cf: bidi overrides
such as U+202E, zero-width characters, the BOM, ...), line and paragraph separators (Zl, Zp),
and names without a visible character (only spaces, Hangul fillers U+3164, braille blanks
U+2800, variation selectors, ...).
"""

import unicodedata

FORBIDDEN_CATEGORIES = ("Cc", "Cs", "Cf", "Zl", "Zp")
# Characters that are not spaces and not Cf, yet draw nothing on their own.
BLANKS = frozenset(
    [0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F, 0x2800, 0x3164, 0xFFA0]
    + list(range(0xFE00, 0xFE10))
    + list(range(0xE0100, 0xE01F0))
)


def is_forbidden(ch):
    return unicodedata.category(ch) in FORBIDDEN_CATEGORIES


def is_visible(ch):
    return not (ch.isspace() or is_forbidden(ch) or ord(ch) in BLANKS)


def channel_name_problem(name):
    """Why `name` cannot be a channel name, or None (length is the field's business)."""
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in name):
        return "Control characters are not allowed."
    if any(is_forbidden(ch) for ch in name):
        return "Format characters (bidi controls, zero-width characters) and line separators are not allowed."
    if not any(is_visible(ch) for ch in name):
        return "The name must have a visible character."
    return None


def _bmp_ranges(predicate):
    """(first, last) code point ranges up to U+FFFF (surrogates skipped) where predicate holds."""
    ranges, start = [], None
    for code in range(0x10001):
        hit = code <= 0xFFFF and not 0xD800 <= code <= 0xDFFF and predicate(chr(code))
        if hit and start is None:
            start = code
        elif not hit and start is not None:
            ranges.append((start, code - 1))
            start = None
    return ranges


def _class_body(ranges):
    return "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)


# For the OpenAPI schema: the same rules as a pattern (surrounding white space is trimmed first).
# Only up to U+FFFF: schemathesis cannot take characters beyond it in a pattern (the server also
# refuses the few format characters there: tags U+E0001..., musical and Egyptian format controls).
_FORBIDDEN = _class_body(_bmp_ranges(lambda ch: unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")))
_BLANK = _class_body(_bmp_ranges(lambda ch: ord(ch) in BLANKS))
NAME_PATTERN = rf"^\s*[^{_FORBIDDEN}]*[^\s{_FORBIDDEN}{_BLANK}][^{_FORBIDDEN}]*\s*$"
