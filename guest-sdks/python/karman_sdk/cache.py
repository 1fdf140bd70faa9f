"""The key-value cache (needs a `cache` grant). Keys are at most 1 KiB, values 4 MiB."""

from __future__ import annotations

from . import _component


def get(key: str) -> bytes | None:
    """The value stored under `key`, or None when absent or expired."""
    return _component.call(_component.cache.get, key)


def set(key: str, value: bytes | str, ttl_ms: int | None = None) -> None:  # noqa: A001
    """Stores `value` (text is stored as UTF-8) under `key`, replacing any earlier value; with
    `ttl_ms` it expires after that many milliseconds."""
    _component.call(_component.cache.set, key, _component.to_bytes(value), ttl_ms)


def delete(key: str) -> None:
    """Removes `key`; removing an absent key is not an error."""
    _component.call(_component.cache.delete, key)
