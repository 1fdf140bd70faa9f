//! A `wasi:http/incoming-handler` that floods its response head: `?headers=N&size=S` answers
//! 200 with N headers `x-flood-<i>` whose values are S bytes (default 8). When its `fields`
//! refuse a header (an error the host may also raise as a trap), it answers with the error
//! code `internal-error` naming the refusal.
//! `?fields=N` first creates N empty `fields` and holds them while it answers.

use wasip2::http::types::{
    ErrorCode, Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct HttpFlood;

fn query(path_with_query: &str, name: &str) -> Option<usize> {
    let (_, query) = path_with_query.split_once('?')?;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.parse().ok()).flatten()
    })
}

impl wasip2::exports::http::incoming_handler::Guest for HttpFlood {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let held: Vec<Fields> = (0..query(&path, "fields").unwrap_or(0))
            .map(|_| Fields::new())
            .collect();
        let count = query(&path, "headers").unwrap_or(0);
        let value = vec![b'a'; query(&path, "size").unwrap_or(8)];
        let fields = Fields::new();
        for i in 0..count {
            if let Err(error) = fields.append(&format!("x-flood-{i}"), &value) {
                let why = format!("header {i} refused: {error:?}");
                ResponseOutparam::set(out, Err(ErrorCode::InternalError(Some(why))));
                return;
            }
        }
        let response = OutgoingResponse::new(fields);
        let body = response.body().expect("the body is taken once");
        ResponseOutparam::set(out, Ok(response));
        {
            let stream = body.write().expect("the body stream is taken once");
            stream
                .blocking_write_and_flush(b"flooded")
                .expect("the client reads");
        }
        OutgoingBody::finish(body, None).expect("the body finishes");
        drop(held);
    }
}

wasip2::http::proxy::export!(HttpFlood);
