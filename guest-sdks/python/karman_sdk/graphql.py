"""GraphQL queries (needs a `graphql` grant listing the hosts; an `http` grant does not do),
under the same policy and credentials as `http`::

    data = graphql.query(
        "https://api.example.com/graphql",
        "query($id: ID!) { user(id: $id) { name } }",
        {"id": "42"},
    )
    name = json.loads(data)["user"]["name"]

Server errors raise `GraphQLError` (502, the messages joined by `; `); a refused or failed
request raises the capability's error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from . import _component
from .errors import GraphQLError as GraphQLError


def query(endpoint: str, query: str, variables: Mapping[str, Any] | str | None = None) -> str:
    """POSTs `query` with `variables` (a mapping, JSON object text, or None for none) to
    `endpoint` and returns the `data` member of the answer as JSON text."""
    if variables is None:
        variables = ""
    elif not isinstance(variables, str):
        variables = json.dumps(variables)
    return _component.call(_component.graphql.query, endpoint, query, variables)
