//! Custom routes: `/ext/<plugin><path>` answered by the plugin's `wasi:http` component.
//!
//! Before the component runs, in this order: the endpoint is found (404/405), the caller is
//! authorized (401/403), its rate limits are taken (429: per caller, then across callers; see
//! [`crate::rate_limit`]), and the body is read within `maxBody` (413). The component then sees the request with the path within the plugin (`/debit` for
//! `/ext/billing/debit`), without the caller's `Authorization` header, and with the verified
//! principal in headers the host sets after removing any copy the client sent:
//!
//! | header | value |
//! |--------|-------|
//! | `karman-principal-subject` | the `sub` claim |
//! | `karman-principal-roles` | the roles, comma-separated |
//! | `karman-principal-claims` | every claim, as JSON |
//!
//! The same principal is given to the `karman:runnable/principal` interface.

use bytes::Bytes;
use http::header::{AUTHORIZATION, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use karman_directive::routing::{Entry, Match, Router};
use karman_directive::{App, ComponentId, Endpoint, Resource};
use karman_runtime::{HttpBody, HttpCall, Principal, Runtime};

use crate::auth::{Verifier, authorize_request};
use crate::config::ServerConfig;
use crate::rate_limit::{Caller, ClientAddr, Limiters, too_many_requests};
use crate::responses::{error, failure_response, full, method_not_allowed, read_whole_body};

/// Headers only the host sets.
const PRINCIPAL_SUBJECT: &str = "karman-principal-subject";
const PRINCIPAL_ROLES: &str = "karman-principal-roles";
const PRINCIPAL_CLAIMS: &str = "karman-principal-claims";
const PRINCIPAL_PREFIX: &str = "karman-principal";

/// The custom routes of an app.
pub(crate) struct CustomRoutes {
    router: Router,
    endpoints: Vec<Mounted>,
    verifier: Option<Verifier>,
}

/// One endpoint, where it is mounted.
struct Mounted {
    /// `/ext/<plugin>`.
    mount: String,
    component: ComponentId,
    endpoint: Endpoint,
    limiters: Option<Limiters>,
}

impl CustomRoutes {
    /// Mounts every endpoint of `app.routes`; `None` when there are none.
    pub(crate) fn new(app: &App) -> Result<Option<Self>, String> {
        if app.routes.is_empty() {
            return Ok(None);
        }
        let verifier = Verifier::of_app(app)?;
        let mut endpoints = Vec::new();
        let mut paths = Vec::new();
        for route in &app.routes {
            for endpoint in &route.endpoints {
                let mounted = endpoint.mounted_path(&route.plugin);
                paths.push(Resource::parse(&mounted).map_err(|e| {
                    format!("{}: `{mounted}` cannot be mounted: {e}", endpoint.location)
                })?);
                endpoints.push(Mounted {
                    mount: format!("/ext/{}", route.plugin),
                    component: route.component,
                    limiters: Limiters::new(endpoint.rate_limit),
                    endpoint: endpoint.clone(),
                });
            }
        }
        let router = Router::build(endpoints.iter().zip(&paths).map(|(mounted, path)| Entry {
            method: &mounted.endpoint.method,
            resource: path,
            location: &mounted.endpoint.location,
        }))?;
        Ok(Some(Self {
            router,
            endpoints,
            verifier,
        }))
    }

    /// Answers a request under `/ext/`.
    pub(crate) async fn handle<B>(
        &self,
        runtime: &Runtime,
        request: Request<B>,
        request_id: &str,
        config: &ServerConfig,
    ) -> Response<HttpBody>
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: std::error::Error + Send + Sync + 'static,
    {
        let mounted = match self
            .router
            .route(request.method().as_str(), request.uri().path())
        {
            Match::Handler { index, .. } => &self.endpoints[index],
            Match::NotFound => {
                return error(
                    StatusCode::NOT_FOUND,
                    404,
                    "no route for this path",
                    request_id,
                );
            }
            Match::MethodNotAllowed { allow } => return method_not_allowed(&allow, request_id),
        };
        let principal =
            match authorize_request(self.verifier.as_ref(), &mounted.endpoint.auth, &request) {
                Ok(principal) => principal,
                Err(denied) => return denied.into_response(request_id),
            };
        if let Some(limiters) = &mounted.limiters {
            let caller = match principal.as_deref().and_then(|p| p.subject.as_deref()) {
                Some(subject) => Caller::Subject(subject),
                None => Caller::Address(
                    request
                        .extensions()
                        .get::<ClientAddr>()
                        .map(|client| client.0.ip()),
                ),
            };
            if let Err(refused) = limiters.check(caller) {
                return too_many_requests(&refused, request_id);
            }
        }

        let (mut parts, body) = request.into_parts();
        let max_body = mounted
            .endpoint
            .max_body
            .unwrap_or(config.max_body_bytes)
            .min(config.max_body_bytes);
        let read = read_whole_body(
            &parts.headers,
            body,
            max_body,
            config.body_read_timeout,
            request_id,
        );
        let body = match read.await {
            Ok(body) => body,
            Err(response) => return response,
        };

        parts.uri = within_plugin(&parts.uri, &mounted.mount);
        parts.headers.remove(AUTHORIZATION);
        set_principal_headers(&mut parts.headers, principal.as_deref());
        let request = Request::from_parts(parts, full(body));
        let call = HttpCall {
            request_id: request_id.to_string(),
            principal,
            timeout: mounted.endpoint.timeout,
        };
        match runtime.serve_http(mounted.component, request, call).await {
            Ok(response) => response,
            Err(failure) => failure_response(&failure, request_id),
        }
    }
}

/// `/ext/billing/debit?x=1` → `/debit?x=1`, keeping the scheme and authority of an
/// absolute URI (HTTP/2 requests carry their authority there, not in `Host`).
fn within_plugin(uri: &Uri, mount: &str) -> Uri {
    let path = uri.path().strip_prefix(mount).unwrap_or("/");
    let path = if path.is_empty() { "/" } else { path };
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    };
    let mut builder = Uri::builder();
    if let (Some(scheme), Some(authority)) = (uri.scheme(), uri.authority()) {
        builder = builder.scheme(scheme.clone()).authority(authority.clone());
    }
    builder
        .path_and_query(path_and_query)
        .build()
        .unwrap_or_else(|_| Uri::from_static("/"))
}

/// Removes every `karman-principal*` header the client sent, then sets the verified ones.
fn set_principal_headers(headers: &mut http::HeaderMap, principal: Option<&Principal>) {
    let forged: Vec<http::HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with(PRINCIPAL_PREFIX))
        .cloned()
        .collect();
    for name in forged {
        headers.remove(name);
    }
    let Some(principal) = principal else {
        return;
    };
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    if let Some(subject) = &principal.subject {
        set(PRINCIPAL_SUBJECT, subject.clone());
    }
    set(PRINCIPAL_ROLES, principal.roles.join(","));
    set(
        PRINCIPAL_CLAIMS,
        serde_json::Value::Object(principal.claims.clone()).to_string(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plugin_sees_its_own_path_and_the_query() {
        let uri: Uri = "/ext/billing/balance/a1?full=1".parse().unwrap();
        assert_eq!(
            within_plugin(&uri, "/ext/billing").to_string(),
            "/balance/a1?full=1"
        );
        let root: Uri = "/ext/billing".parse().unwrap();
        assert_eq!(within_plugin(&root, "/ext/billing").to_string(), "/");
        let absolute: Uri = "http://127.0.0.1:8080/ext/billing/debit".parse().unwrap();
        assert_eq!(
            within_plugin(&absolute, "/ext/billing").to_string(),
            "http://127.0.0.1:8080/debit"
        );
    }

    #[test]
    fn forged_principal_headers_are_removed_and_the_verified_ones_set() {
        let mut headers = http::HeaderMap::new();
        headers.insert("karman-principal-subject", "admin".parse().unwrap());
        headers.insert("karman-principal-roles-extra", "root".parse().unwrap());
        headers.insert("accept", "*/*".parse().unwrap());
        set_principal_headers(&mut headers, None);
        assert_eq!(headers.len(), 1, "{headers:?}");

        let principal = Principal {
            subject: Some("ada".into()),
            roles: vec!["reader".into(), "writer".into()],
            claims: serde_json::json!({"sub": "ada"})
                .as_object()
                .unwrap()
                .clone(),
        };
        headers.insert("karman-principal-subject", "admin".parse().unwrap());
        set_principal_headers(&mut headers, Some(&principal));
        assert_eq!(headers[PRINCIPAL_SUBJECT], "ada");
        assert_eq!(headers[PRINCIPAL_ROLES], "reader,writer");
        assert_eq!(headers[PRINCIPAL_CLAIMS], r#"{"sub":"ada"}"#);
    }
}
