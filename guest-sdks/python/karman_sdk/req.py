"""The request or message that started the run, and the state shared by its steps."""

from __future__ import annotations

from . import _component


def method() -> str:
    """The HTTP method (`GET`, `POST`, …), or `STREAM` for a stream message and `SCHED` for a
    scheduled run."""
    return _component.req.method()


def url() -> str:
    """The request URL (path and query), or the subject/topic of a stream message."""
    return _component.req.url()


def id() -> str:  # noqa: A001 - the WIT name
    """The request id, also returned to the client in `x-request-id`."""
    return _component.req.id()


def body() -> bytes:
    """The request body or message payload (the same bytes `run` receives)."""
    return _component.req.body()


def body_text() -> str:
    """The body as text (UTF-8, invalid bytes replaced by U+FFFD)."""
    return body().decode("utf-8", "replace")


def header(name: str) -> str | None:
    """A request header by case-insensitive name; repeated headers are joined with `, `."""
    return _component.req.header(name)


def headers() -> list[tuple[str, str]]:
    """All request headers as (lower-case name, value) pairs, in arrival order."""
    return _component.req.headers()


def url_param(name: str) -> str | None:
    """A parameter of the resource pattern: `:id` in `/users/:id` is `url_param("id")`."""
    return _component.req.url_param(name)


def query_param(name: str) -> str | None:
    """A query-string parameter, percent-decoded; the first one when repeated."""
    return _component.req.query_param(name)


def state(key: str) -> bytes | None:
    """The value an earlier step stored in the state under `key`."""
    return _component.req.state(key)


def state_text(key: str) -> str | None:
    """A state value as text (UTF-8, invalid bytes replaced by U+FFFD)."""
    value = state(key)
    return None if value is None else value.decode("utf-8", "replace")


def state_keys() -> list[str]:
    """The state keys this step sees, sorted."""
    return _component.req.state_keys()


def body_field(name: str) -> str | None:
    """A top-level field of a JSON-object body: a string field's value, any other field's JSON
    compact JSON text (`42`, `true`, `null`, `{"a":1}`); None when the body is not a JSON object
    or has no such field."""
    return _component.req.body_field(name)
