"""The conformance Runnable in Python: every case of `conformance/README.md`, selected by
`?case=`. It answers byte for byte as the Rust twin (`conformance/rust`) does."""

from karman_sdk import RunError, cache, file, graphql, http, log, req, resp, runnable, sql


def or_dash(value: str | None) -> str:
    return "-" if value is None else value


def integer(rows: sql.Rows) -> int:
    """The first value of the first row when it is an integer, else -1."""
    value = rows.rows[0][0] if rows.rows and rows.rows[0] else None
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


def sql_case() -> str:
    key = or_dash(req.query_param("key"))
    rolled_back = f"{key}-rolled-back"

    with sql.begin() as tx:
        tx.execute("insert-item", [key, 7])
        tx.commit()
    with sql.begin() as tx:
        tx.execute("insert-item", [rolled_back, 1])
        tx.rollback()

    committed = integer(sql.query("count-items", [key]))
    discarded = integer(sql.query("count-items", [rolled_back]))
    n = integer(sql.query("select-item", [key]))
    return f"committed={committed};rolled-back={discarded};n={n}"


@runnable
def run(input: bytes) -> bytes | str:
    case = or_dash(req.query_param("case"))
    if case == "echo":
        return input
    if case == "params":
        return (
            f"id={or_dash(req.url_param('id'))};q={or_dash(req.query_param('q'))};"
            f"method={req.method()};url={req.url()}"
        )
    if case == "headers":
        value = or_dash(req.header("x-test"))
        resp.set_status(201)
        resp.set_header("x-conformance", value)
        return f"x-test={value}"
    if case == "state":
        first = req.state_text("first")
        return "one" if first is None else f"first={first}"
    if case in ("cache", "cache-denied"):
        cache.set("k", b"v", ttl_ms=60_000)
        got = cache.get("k")
        cache.delete("k")
        gone = cache.get("k")
        shown = "-" if got is None else got.decode("utf-8", "replace")
        return f"set;get={shown};delete;get={'none' if gone is None else 'some'}"
    if case == "cache-ttl-set":
        cache.set("t", b"v", ttl_ms=100)
        return "set"
    if case == "cache-ttl-get":
        value = cache.get("t")
        return "get=none" if value is None else f"get={value.decode('utf-8', 'replace')}"
    if case in ("sql", "sql-denied"):
        return sql_case()
    if case == "http":
        response = http.get(or_dash(req.query_param("url")))
        return f"status={response.status};body={response.text()}"
    if case == "graphql":
        endpoint = or_dash(req.query_param("endpoint"))
        data = graphql.query(endpoint, input.decode("utf-8", "replace"), "{}")
        return f"data={data}"
    if case == "log":
        log.info(f"conformance {input.decode('utf-8', 'replace')}")
        return "logged"
    if case == "file":
        return f"file={file.get_static_text(or_dash(req.query_param('name')))}"
    if case == "body-field":
        return f"value={or_dash(req.body_field(or_dash(req.query_param('field'))))}"
    if case == "error":
        raise RunError(418, "teapot")
    raise RunError(400, f"unknown case `{case}`")
