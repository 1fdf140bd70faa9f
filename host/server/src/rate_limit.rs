//! `rateLimit:` of custom-route endpoints and request handlers: a token bucket across all
//! callers (`endpoint`), and one per caller (`caller`: the JWT subject, else the client
//! address), both [`governor`] limiters. They are taken after authentication, so calls that
//! will be refused take no one's place; the caller's own bucket is taken first, so a caller
//! over its limit does not use up the endpoint's. Refused: 429 with `Retry-After` and JSON.
//!
//! The per-caller buckets live in one map, swept of callers back at a full bucket
//! (`retain_recent`) whenever it has grown past [`SWEEP_AT`] callers, at most once a second:
//! memory follows the callers of one refill period, not every caller ever seen.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use http::header::{HeaderValue, RETRY_AFTER};
use http::{Response, StatusCode};
use karman_directive::{RateLimit, RateLimits};
use karman_runtime::HttpBody;

use crate::responses::error;

/// Callers tracked before the map is swept.
const SWEEP_AT: usize = 4096;

/// The address of the client of a request (set as a request extension by the listener).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub(crate) SocketAddr);

/// Who a caller is, for its own bucket.
pub(crate) enum Caller<'a> {
    /// The verified `sub` of its token.
    Subject(&'a str),
    /// Its address (the port left out: one client, many connections).
    Address(Option<IpAddr>),
}

/// The limiters of one endpoint or handler.
pub(crate) struct Limiters {
    endpoint: Option<DefaultDirectRateLimiter>,
    caller: Option<CallerLimiter>,
}

struct CallerLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
    last_sweep: Mutex<Instant>,
}

/// Why a call was refused.
#[derive(Debug)]
pub(crate) struct Refused {
    /// `endpoint` or `caller`.
    scope: &'static str,
    retry_after: Duration,
}

fn quota(limit: RateLimit) -> Quota {
    let count = NonZeroU32::new(limit.count).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(limit.per / count.get())
        .unwrap_or_else(|| Quota::per_second(count))
        .allow_burst(count)
}

impl Limiters {
    /// The limiters of `limits`; `None` when it sets none.
    pub(crate) fn new(limits: RateLimits) -> Option<Self> {
        (!limits.is_none()).then(|| Self {
            endpoint: limits
                .endpoint
                .map(|limit| DefaultDirectRateLimiter::direct(quota(limit))),
            caller: limits.caller.map(|limit| CallerLimiter {
                limiter: DefaultKeyedRateLimiter::keyed(quota(limit)),
                last_sweep: Mutex::new(Instant::now()),
            }),
        })
    }

    /// Takes a place for `caller`, or says which limit refused it and for how long.
    pub(crate) fn check(&self, caller: Caller<'_>) -> Result<(), Refused> {
        let now = DefaultClock::default().now();
        if let Some(callers) = &self.caller {
            let key = match caller {
                Caller::Subject(subject) => format!("sub:{subject}"),
                Caller::Address(Some(address)) => format!("ip:{address}"),
                Caller::Address(None) => "ip:unknown".to_string(),
            };
            callers.sweep();
            callers
                .limiter
                .check_key(&key)
                .map_err(|not_until| Refused {
                    scope: "caller",
                    retry_after: not_until.wait_time_from(now),
                })?;
        }
        if let Some(endpoint) = &self.endpoint {
            endpoint.check().map_err(|not_until| Refused {
                scope: "endpoint",
                retry_after: not_until.wait_time_from(now),
            })?;
        }
        Ok(())
    }
}

impl CallerLimiter {
    fn sweep(&self) {
        if self.limiter.len() < SWEEP_AT {
            return;
        }
        let mut last = self.last_sweep.lock().unwrap_or_else(|e| e.into_inner());
        if last.elapsed() >= Duration::from_secs(1) {
            *last = Instant::now();
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
    }
}

/// 429 with `Retry-After` (whole seconds, at least 1) and a JSON body naming the limit.
pub(crate) fn too_many_requests(refused: &Refused, request_id: &str) -> Response<HttpBody> {
    let message = match refused.scope {
        "caller" => "your rate limit for this endpoint is reached; retry later",
        _ => "this endpoint's rate limit is reached; retry later",
    };
    let mut response = error(StatusCode::TOO_MANY_REQUESTS, 429, message, request_id);
    let seconds = refused.retry_after.as_secs_f64().ceil().max(1.0) as u64;
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(RETRY_AFTER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(endpoint: Option<u32>, caller: Option<u32>) -> Limiters {
        let per_hour = |count| RateLimit {
            count,
            per: Duration::from_secs(3600),
        };
        Limiters::new(RateLimits {
            endpoint: endpoint.map(per_hour),
            caller: caller.map(per_hour),
        })
        .unwrap()
    }

    #[test]
    fn the_endpoint_limit_allows_a_burst_then_refuses_until_refilled() {
        let limiter = limits(Some(3), None);
        for _ in 0..3 {
            assert!(limiter.check(Caller::Address(None)).is_ok());
        }
        let refused = limiter.check(Caller::Address(None)).unwrap_err();
        assert_eq!(refused.scope, "endpoint");
        assert!(
            refused.retry_after > Duration::from_secs(1000),
            "one token per 1200 s: {refused:?}"
        );
    }

    #[test]
    fn each_caller_has_its_own_bucket_and_spends_it_before_the_endpoints() {
        let limiter = limits(Some(3), Some(1));
        assert!(limiter.check(Caller::Subject("ada")).is_ok());
        let refused = limiter.check(Caller::Subject("ada")).unwrap_err();
        assert_eq!(refused.scope, "caller");
        assert!(limiter.check(Caller::Subject("grace")).is_ok());
        let address = Some(IpAddr::from([127, 0, 0, 1]));
        assert!(limiter.check(Caller::Address(address)).is_ok());
        assert_eq!(
            limiter.check(Caller::Subject("alan")).unwrap_err().scope,
            "endpoint"
        );
    }

    #[test]
    fn no_limit_set_means_no_limiters() {
        assert!(Limiters::new(RateLimits::default()).is_none());
    }
}
