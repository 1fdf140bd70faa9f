"""SQL on the app's database (needs an `sql` grant): the named queries the Directive declares,
raw SQL (with a `raw: true` grant; always bound, never interpolated), transactions and atomic
batches.

Parameters and returned values are plain Python values:

| Python | SQL value |
|--------|-----------|
| `None` | `null` |
| `bool` | `boolean` |
| `int` (signed 64-bit) | `int` |
| `float` | `float` |
| `str` | `text` (timestamps, dates, decimals and JSON come back as text) |
| `bytes` | `blob` |

Parameters are positional: `$1, $2…` on SQLite and PostgreSQL, `?` on MySQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from . import _component
from .errors import BatchError as BatchError

Param = None | bool | int | float | str | bytes
"""A parameter or a returned value."""


@dataclass(frozen=True)
class Rows:
    """The result of a query: the column names, and one tuple of values per row."""

    columns: list[str]
    rows: list[tuple[Param, ...]]

    def __iter__(self) -> Iterator[tuple[Param, ...]]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def dicts(self) -> list[dict[str, Param]]:
        """The rows as {column: value} dicts."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class Statement:
    """One statement of a `batch`: a named query, its parameters and, optionally, the fewest
    rows it must affect (else the whole batch fails and is rolled back)."""

    query: str
    params: Sequence[Param] = ()
    min_rows_affected: int | None = None


def _value(param: Param) -> Any:
    wit = _component.sql
    if param is None:
        return wit.Value_Null()
    if isinstance(param, bool):
        return wit.Value_Boolean(param)
    if isinstance(param, int):
        if not -(2**63) <= param < 2**63:
            raise ValueError(f"sql: {param} does not fit a signed 64-bit integer")
        return wit.Value_Int(param)
    if isinstance(param, float):
        return wit.Value_Float(param)
    if isinstance(param, str):
        return wit.Value_Text(param)
    if isinstance(param, (bytes, bytearray, memoryview)):
        return wit.Value_Blob(bytes(param))
    raise TypeError(
        f"sql: a parameter is None, bool, int, float, str or bytes, not {type(param).__name__}"
    )


def _values(params: Sequence[Param]) -> list[Any]:
    if isinstance(params, (str, bytes)):
        raise TypeError("sql: params is a sequence of parameters, e.g. [value]")
    return [_value(param) for param in params]


def _rows(rows: Any) -> Rows:
    # Every case of the WIT `value` carries its payload in `.value`, except `null`.
    return Rows(
        list(rows.columns),
        [tuple(getattr(value, "value", None) for value in row) for row in rows.rows],
    )


def query(name: str, params: Sequence[Param] = ()) -> Rows:
    """Runs the named query and returns its rows (at most 10,000)."""
    return _rows(_component.call(_component.sql.query, name, _values(params)))


def execute(name: str, params: Sequence[Param] = ()) -> int:
    """Runs the named statement and returns the number of rows it affected."""
    return _component.call(_component.sql.execute, name, _values(params))


def query_raw(sql: str, params: Sequence[Param] = ()) -> Rows:
    """Runs raw SQL (needs `raw: true`) and returns its rows."""
    return _rows(_component.call(_component.sql.query_raw, sql, _values(params)))


def execute_raw(sql: str, params: Sequence[Param] = ()) -> int:
    """Runs a raw SQL statement (needs `raw: true`) and returns the rows affected."""
    return _component.call(_component.sql.execute_raw, sql, _values(params))


def batch(statements: Iterable[Statement]) -> list[int]:
    """Runs named statements atomically, in order, and returns the rows each affected. On
    failure nothing is committed and `BatchError` names the failing statement's index."""
    wit = [
        _component.sql.Statement(s.query, _values(s.params), s.min_rows_affected)
        for s in statements
    ]
    return _component.call(_component.sql.batch, wit)


def begin() -> Transaction:
    """Starts a transaction on a connection of its own."""
    return Transaction(_component.call(_component.sql.begin))


class Transaction:
    """A database transaction, rolled back unless committed.

    Use it as a context manager: leaving the block without `commit()` rolls it back (and an
    exception leaving the block drops it, which rolls it back too)::

        with sql.begin() as tx:
            tx.execute("debit", [account, amount])
            tx.execute("credit", [other, amount])
            tx.commit()

    After `commit()` or `rollback()`, whether it succeeded or not, any other call fails with
    `Invalid`.
    """

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self._open = True

    def query(self, name: str, params: Sequence[Param] = ()) -> Rows:
        """As `sql.query`, inside the transaction."""
        return _rows(_component.call(self._handle.query, name, _values(params)))

    def execute(self, name: str, params: Sequence[Param] = ()) -> int:
        """As `sql.execute`, inside the transaction."""
        return _component.call(self._handle.execute, name, _values(params))

    def query_raw(self, sql: str, params: Sequence[Param] = ()) -> Rows:
        """As `sql.query_raw`, inside the transaction."""
        return _rows(_component.call(self._handle.query_raw, sql, _values(params)))

    def execute_raw(self, sql: str, params: Sequence[Param] = ()) -> int:
        """As `sql.execute_raw`, inside the transaction."""
        return _component.call(self._handle.execute_raw, sql, _values(params))

    def commit(self) -> None:
        """Commits."""
        self._open = False
        _component.call(self._handle.commit)

    def rollback(self) -> None:
        """Rolls back."""
        self._open = False
        _component.call(self._handle.rollback)

    def __enter__(self) -> Transaction:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            if self._open and exc is None:
                self.rollback()
        finally:
            # Releases the handle now rather than at garbage collection; the host rolls back a
            # transaction dropped open.
            self._handle.__exit__(None, None, None)
