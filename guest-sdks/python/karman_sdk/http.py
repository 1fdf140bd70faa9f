"""Outbound HTTP (needs an `http` grant listing the hosts).

The host adds the credentials the Directive configures for a domain (the component never sees
them), refuses private and loopback addresses unless the grant allows them, follows up to 5
redirects, and caps the time (10 s by default, `timeout_ms` up to 60 s) and the response size
(10 MiB)::

    response = http.get("https://api.example.com/items")
    if response.status != 200:
        raise RunError(502, response.text())
    items = response.json()
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import _component

Headers = Mapping[str, str] | Iterable[tuple[str, str]]
"""Request headers: a mapping or (name, value) pairs."""


def _pairs(headers: Headers) -> list[tuple[str, str]]:
    return list(headers.items() if isinstance(headers, Mapping) else headers)


@dataclass(frozen=True)
class Response:
    """The response to an outbound request (after redirects)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def text(self) -> str:
        """The body as text (UTF-8, invalid bytes replaced by U+FFFD)."""
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        """The first value of a header (names compare case-insensitively)."""
        name = name.lower()
        return next((v for n, v in self.headers if n.lower() == name), None)


def send(
    method: str,
    url: str,
    *,
    headers: Headers = (),
    body: bytes | str = b"",
    timeout_ms: int | None = None,
) -> Response:
    """Sends a request to an absolute `http(s)://` URL and waits for the whole response."""
    request = _component.http.Request(
        method, url, _pairs(headers), _component.to_bytes(body), timeout_ms
    )
    response = _component.call(_component.http.send, request)
    return Response(response.status, list(response.headers), response.body)


def get(url: str, *, headers: Headers = (), timeout_ms: int | None = None) -> Response:
    """Sends a `GET`."""
    return send("GET", url, headers=headers, timeout_ms=timeout_ms)


def post(
    url: str,
    content_type: str,
    body: bytes | str,
    *,
    headers: Headers = (),
    timeout_ms: int | None = None,
) -> Response:
    """Sends a `POST` of `body` (text as UTF-8) with its content type."""
    pairs = [("content-type", content_type), *_pairs(headers)]
    return send("POST", url, headers=pairs, body=body, timeout_ms=timeout_ms)
