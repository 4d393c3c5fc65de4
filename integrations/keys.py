"""Send keys as the integrations see them: only k_ + 40 lowercase hex is ever a key, and it is never echoed."""

import re

KEY = re.compile(r"k_[0-9a-f]{40}")


def masked(key):
    """What an answer may show of a key: "k_…" and its last four characters."""
    return f"k_…{key[-4:]}"
