"""The app's static files: the directory the Directive's `static:` names (needs a `files`
grant, possibly confined to a sub-directory).

A failed read raises `Invalid` (400: an absolute name, one with `..`), `Denied` (403: no grant,
or outside the granted sub-directory) or `NotFound` (404: no such file).
"""

from __future__ import annotations

from . import _component


def get_static(name: str) -> bytes:
    """The contents of the static file `name`, a path relative to the static directory."""
    return _component.call(_component.file.get_static, name)


def get_static_text(name: str) -> str:
    """The contents of the static file `name` as text (UTF-8, invalid bytes replaced by
    U+FFFD)."""
    return get_static(name).decode("utf-8", "replace")
