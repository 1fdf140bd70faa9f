//! Which addresses are private, and resolvers that only return public ones (for grants without
//! `allowPrivate`) or only private ones (for a credential sent over plain `http`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

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

/// Private, loopback, link-local (cloud metadata lives there), unique-local, shared, multicast,
/// reserved and unspecified addresses: nothing a component should reach without
/// `allowPrivate`.
pub(crate) fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private_v4(v4);
            }
            let segments = v6.segments();
            // NAT64 (64:ff9b::/96) carries an IPv4 address.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = segments[6].to_be_bytes();
                let [c, d] = segments[7].to_be_bytes();
                return is_private_v4(Ipv4Addr::new(a, b, c, d));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (segments[0] & 0xffc0) == 0xfe80 // link local fe80::/10
                || (segments[0] & 0xffc0) == 0xfec0 // site local (deprecated) fec0::/10
                || segments[0] == 0x2001 && segments[1] == 0x0db8 // documentation
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1)
        }
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..=127).contains(&b)) // shared address space 100.64/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18/15
        || a >= 240 // reserved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_private_and_public_addresses() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(is_private(private.parse().unwrap()), "{private} is private");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_private(public.parse().unwrap()), "{public} is public");
        }
    }
}
