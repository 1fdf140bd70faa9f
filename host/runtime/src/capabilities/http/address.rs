//! Resolvers that return only public addresses (for grants without `allowPrivate`) or only
//! private ones (for a credential sent over plain `http`), as [`is_private`] tells them.

use std::net::SocketAddr;

use karman_protocol::outbound::is_private;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The resolver found only private addresses for a name.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` resolves only to private addresses")]
pub(crate) struct PrivateAddressRefused(String);

/// Resolves with the system resolver, then drops private addresses.
pub(super) struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = addresses
                .into_iter()
                .filter(|a| !is_private(a.ip()))
                .collect();
            if public.is_empty() {
                return Err(Box::new(PrivateAddressRefused(host))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// The resolver found no private address for a name that a credential is sent to over plain
/// `http`.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` resolves to no private address")]
pub(crate) struct PublicAddressRefused(String);

/// Resolves with the system resolver, then keeps only private addresses: plain `http` carries a
/// credential to the local network only.
pub(super) struct PrivateOnlyResolver;

impl Resolve for PrivateOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let private: Vec<SocketAddr> = addresses
                .into_iter()
                .filter(|a| is_private(a.ip()))
                .collect();
            if private.is_empty() {
                return Err(Box::new(PublicAddressRefused(host))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(private.into_iter()) as Addrs)
        })
    }
}
