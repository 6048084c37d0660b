"""What every notebook view falls back to: a ``_repr_html_`` must never raise."""

from __future__ import annotations

import html


def fallback_html(obj: object) -> str:
    """The plain repr of ``obj`` as escaped HTML, or ``object``'s repr if that raises too."""
    try:
        text = repr(obj)
    except Exception:
        text = object.__repr__(obj)
    return f"<pre>{html.escape(text)}</pre>"
