"""Logging into the host log, tagged with the component and the request id. Rate-limited per
component (a burst of 200 lines, then 100 a second); lines are cut at 8 KiB. `print` goes to
the host log too (stdout at info, stderr at warn)."""

from __future__ import annotations

from . import _component


def _log(level: str, message: str) -> None:
    _component.log.log(getattr(_component.log.Level, level), message)


def trace(message: str) -> None:
    """Logs at `trace`."""
    _log("TRACE", message)


def debug(message: str) -> None:
    """Logs at `debug`."""
    _log("DEBUG", message)


def info(message: str) -> None:
    """Logs at `info`."""
    _log("INFO", message)


def warn(message: str) -> None:
    """Logs at `warn`."""
    _log("WARN", message)


def error(message: str) -> None:
    """Logs at `error`."""
    _log("ERROR", message)
