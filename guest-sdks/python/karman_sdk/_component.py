"""The generated bindings, and the translation of their failures into the SDK's exceptions.

`componentize-py` generates `wit_world` (and `componentize_py_types`) while it builds the
component. Anywhere else (an editor, a type checker, a unit test of pure code) the package still
imports, and any use of a capability raises `RuntimeError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from .errors import (
    BatchError,
    CapabilityError,
    Denied,
    GraphQLError,
    Invalid,
    NotFound,
    Other,
    RunError,
    Unavailable,
)

__all__ = [
    "Err",
    "Export",
    "cache",
    "call",
    "error_from",
    "file",
    "graphql",
    "http",
    "log",
    "req",
    "resp",
    "sql",
    "to_bytes",
    "types",
]

T = TypeVar("T")

try:
    import wit_world  # type: ignore[import-not-found]
    from componentize_py_types import Err  # type: ignore[import-not-found]
    from wit_world.imports import (  # type: ignore[import-not-found]
        cache,
        file,
        graphql,
        http,
        log,
        req,
        resp,
        sql,
        types,
    )

    Export: type = wit_world.WitWorld
except ModuleNotFoundError as missing:
    if missing.name not in ("wit_world", "componentize_py_types"):
        raise

    class _Outside:
        """Stands in for a generated module outside a component build."""

        def __init__(self, module: str) -> None:
            self._module = module

        def __getattr__(self, name: str) -> Any:
            raise RuntimeError(
                f"karman_sdk: {self._module}.{name} exists only inside a component built with "
                "`karman-py-build` (`python -m karman_sdk.build`)"
            )

    class Err(Exception):  # type: ignore[no-redef]
        """The bindings' failure type; never raised outside a component."""

    cache, file, graphql, http, log, req, resp, sql, types = map(  # type: ignore[assignment]
        _Outside, ("cache", "file", "graphql", "http", "log", "req", "resp", "sql", "types")
    )
    Export = object

_CAP_ERRORS: dict[str, type[CapabilityError]] = {
    "CapError_Denied": Denied,
    "CapError_NotFound": NotFound,
    "CapError_Invalid": Invalid,
    "CapError_Unavailable": Unavailable,
    "CapError_Other": Other,
}


def _cap_error(value: Any) -> CapabilityError:
    return _CAP_ERRORS[type(value).__name__](value.value)


def error_from(value: Any) -> RunError:
    """The SDK exception for a failure value of the bindings (`cap-error`, `query-error`,
    `batch-error`)."""
    kind = type(value).__name__
    if kind in _CAP_ERRORS:
        return _cap_error(value)
    if kind == "QueryError_Capability":
        return _cap_error(value.value)
    if kind == "QueryError_Server":
        return GraphQLError(list(value.value))
    if kind == "BatchError":
        return BatchError(value.index, _cap_error(value.error))
    raise TypeError(f"karman_sdk: unexpected failure value {value!r}")


def to_bytes(value: bytes | bytearray | memoryview | str) -> bytes:
    """Bytes as they are, text as UTF-8."""
    return value.encode() if isinstance(value, str) else bytes(memoryview(value))


def call(function: Callable[..., T], *args: Any) -> T:
    """Calls a binding, raising the SDK's exception when it fails."""
    try:
        return function(*args)
    except Err as failure:
        raise error_from(failure.value) from None
