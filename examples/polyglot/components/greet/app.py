"""Step 1 (Python): the greeting for `:name`."""

from karman_sdk import RunError, req, runnable


@runnable
def run(input: bytes) -> str:
    name = req.url_param("name") or ""
    if not name or len(name) > 64:
        raise RunError(400, "the name must be 1 to 64 characters")
    return f"Hello, {name}"
