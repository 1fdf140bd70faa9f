//! `karman:runnable/graphql`: a GraphQL POST over the `http` transport and policy (allow
//! list, address check, credentials), under the component's `graphql` grant.

use crate::bindings::graphql::{Host, QueryError};
use crate::bindings::types::CapError;
use crate::capabilities::call_span;
use crate::capabilities::http::{OutboundAccess, OutboundRequest};
use crate::metrics::CallCounter;
use tracing::Instrument as _;

/// The graphql capability of an instance.
pub(crate) struct GraphqlCtx {
    pub(crate) access: Option<OutboundAccess>,
    /// Where its calls are counted: a GraphQL error is an `error` outcome.
    pub(crate) calls: CallCounter,
}

impl Host for GraphqlCtx {
    async fn query(
        &mut self,
        endpoint: String,
        query: String,
        variables: String,
    ) -> Result<String, QueryError> {
        let result = self
            .post(endpoint, query, variables)
            .instrument(call_span("graphql.query"))
            .await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(QueryError::Capability(error)) => crate::metrics::outcome(error),
            Err(QueryError::Server(_)) => "error",
        };
        self.calls.count("http", outcome);
        result
    }
}

impl GraphqlCtx {
    async fn post(
        &mut self,
        endpoint: String,
        query: String,
        variables: String,
    ) -> Result<String, QueryError> {
        let access = self.access.as_ref().ok_or_else(|| {
            QueryError::Capability(CapError::Denied(
                "graphql: this component is not granted the graphql capability".into(),
            ))
        })?;
        let variables: serde_json::Value = if variables.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&variables).map_err(|e| {
                QueryError::Capability(CapError::Invalid(format!(
                    "graphql: the variables are not JSON: {e}"
                )))
            })?
        };
        let body = serde_json::json!({ "query": query, "variables": variables }).to_string();
        let response = access
            .send(OutboundRequest {
                method: "POST".into(),
                url: endpoint,
                headers: vec![
                    ("content-type".into(), "application/json".into()),
                    ("accept".into(), "application/json".into()),
                ],
                body: body.into_bytes(),
                timeout: None,
                span: tracing::Span::current(),
            })
            .await
            .map_err(QueryError::Capability)?;
        let answer: serde_json::Value = serde_json::from_slice(&response.body).map_err(|_| {
            QueryError::Capability(CapError::Other(format!(
                "graphql: the server answered {} without a JSON body",
                response.status
            )))
        })?;
        if let Some(errors) = answer
            .get("errors")
            .and_then(|e| e.as_array())
            .filter(|e| !e.is_empty())
        {
            let messages = errors
                .iter()
                .map(|e| {
                    e.get("message")
                        .and_then(|m| m.as_str())
                        .map_or_else(|| e.to_string(), str::to_string)
                })
                .collect();
            return Err(QueryError::Server(messages));
        }
        if !(200..300).contains(&response.status) {
            return Err(QueryError::Capability(CapError::Other(format!(
                "graphql: the server answered {}",
                response.status
            ))));
        }
        Ok(answer
            .get("data")
            .cloned()
            .unwrap_or(serde_json::Value::Null)
            .to_string())
    }
}
