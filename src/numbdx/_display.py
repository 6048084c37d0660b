"""What every notebook view falls back to: a ``_repr_html_`` must never raise."""

from __future__ import annotations

import html
from typing import Any


def fallback_html(obj: object) -> str:
    """The plain repr of ``obj`` as escaped HTML, or ``object``'s repr if that raises too."""
    try:
        text = repr(obj)
    except Exception:
        text = object.__repr__(obj)
    return f"<pre>{html.escape(text)}</pre>"


def value_text(value: Any) -> str:
    """An evidence value as a reader says it: yes/no, whole numbers without ".0"."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
