"""Write Karman Runnables in Python.

A Runnable is a WebAssembly component of the `karman:runnable/runnable` world (the WIT
package shipped in `karman_sdk/wit/`), built by componentize-py, which generates the bindings
(`wit_world`) during the build. This package is a thin layer over them: the `runnable`
decorator, `RunError`, and one module per capability (`req`, `resp`, `cache`, `sql`, `http`,
`graphql`, `log`, `file`)::

    from karman_sdk import RunError, req, runnable

    @runnable
    def run(input: bytes) -> str:
        if len(input) > 1024:
            raise RunError(413, "the input is too large")
        return f"Hello, {req.url_param('name') or 'world'}!"

Build it with `karman-py-build app.py -o app.wasm` (or `python -m karman_sdk.build …`).

A failed capability call raises a `CapabilityError` (`Denied` 403, `NotFound` 404, `Invalid` 400,
`Unavailable` 503, `Other` 500, the host's message unchanged); like every exception of this
package it is a `RunError`, so left alone it ends the step with that code, as `?` does in Rust.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable

from . import _component, cache, file, graphql, http, log, req, resp, sql
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
    "BatchError",
    "CapabilityError",
    "Denied",
    "GraphQLError",
    "Invalid",
    "NotFound",
    "Other",
    "RunError",
    "Unavailable",
    "cache",
    "file",
    "graphql",
    "http",
    "log",
    "req",
    "resp",
    "runnable",
    "sql",
]

Output = bytes | bytearray | memoryview | str
Run = Callable[[bytes], Output]


def runnable(run: Run) -> Run:
    """Exports `run(input: bytes)` as the component's `run` and returns it unchanged.

    `input` is the request body (or message payload). The output (bytes, or text as UTF-8) is
    stored in the state under the step's name and, for the last step, is the response body.
    A `RunError` ends the step with its code and message; any other exception ends it with 500,
    its traceback going to the log.

    It defines the `WitWorld` class componentize-py looks for in the app module, so decorate a
    function of the module you build.
    """

    class WitWorld(_component.Export):
        def run(self, input: bytes) -> bytes:
            return _run(run, input)

    vars(sys.modules[run.__module__])["WitWorld"] = WitWorld
    return run


def _run(run: Run, input: bytes) -> bytes:
    try:
        output = run(input)
        if isinstance(output, str):
            return output.encode()
        if isinstance(output, (bytes, bytearray, memoryview)):
            return bytes(output)
        raise TypeError(f"run returned {type(output).__name__}, not bytes or str")
    except RunError as error:
        failure = error
    except _component.Err as error:  # from a direct call of the generated bindings
        failure = _component.error_from(error.value)
    except Exception as error:
        log.error(f"run raised:\n{traceback.format_exc()}")
        failure = RunError(500, f"unhandled {type(error).__name__}")
    raise _component.Err(_component.types.RunError(failure.code, failure.message))
