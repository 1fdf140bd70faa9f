//! Runs the GraphQL query in the request body against `?endpoint=` with the variables in
//! `?variables=` (JSON) and answers the `data` JSON. GraphQL errors from the server end the
//! step with 502 and their messages; a refused request with 403.

use karman_sdk::{RunErr, Runnable, graphql, req};

struct GraphqlUser;

impl Runnable for GraphqlUser {
    fn run(input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let endpoint =
            req::query_param("endpoint").ok_or_else(|| RunErr::new(400, "missing ?endpoint="))?;
        let variables = req::query_param("variables").unwrap_or_default();
        let query =
            String::from_utf8(input).map_err(|_| RunErr::new(400, "the query is not UTF-8"))?;
        Ok(graphql::query(&endpoint, &query, &variables)?.into_bytes())
    }
}

karman_sdk::export!(GraphqlUser);
