"""A Karman Runnable: `run` gets the request body (or message payload) and returns this step's
output. Build it with `karman build` (or `python -m karman_sdk.build app.py -o app.wasm`)."""

from karman_sdk import RunError, req, runnable


@runnable
def run(input: bytes) -> str:
    name = req.url_param("name") or "world"
    if len(input) > 1024:
        raise RunError(413, "the input is too large")
    return f"Hello, {name}!"
