//! Who the client is: the peer address, or the address a trusted reverse proxy forwards in
//! `X-Forwarded-For`. Anyone can send that header, so it is believed only from the proxies the
//! operator lists (`[server] trusted_proxies`); otherwise a client could pick the address its
//! failed sign-ins are counted against.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;
use serde::Deserialize;

/// The networks whose `X-Forwarded-For` is believed: CIDR blocks or single addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<String>")]
pub struct TrustedProxies(Vec<IpNet>);

impl TryFrom<Vec<String>> for TrustedProxies {
    type Error = String;

    fn try_from(entries: Vec<String>) -> Result<Self, Self::Error> {
        entries
            .iter()
            .map(|e| {
                let e = e.trim();
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("'{e}' is neither an IP address nor a CIDR block"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }
}

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address. From a trusted peer, `X-Forwarded-For` is read from the right
    /// (the entry the nearest proxy added) past every trusted proxy: the first untrusted
    /// address is the client. Entries further left were written by the client and prove
    /// nothing.
    pub fn client_ip(&self, headers: &HeaderMap, peer: SocketAddr) -> String {
        let peer_ip = peer.ip().to_canonical();
        if !self.trusts(peer_ip) {
            return peer_ip.to_string();
        }
        let mut client = peer_ip;
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect::<Vec<_>>();
        for entry in forwarded.iter().rev() {
            let Ok(ip) = entry.trim().parse::<IpAddr>() else {
                // Garbage from a trusted hop: stop at the last address we could read.
                break;
            };
            client = ip.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client.to_string()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::try_from(list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", value.parse().unwrap());
        h
    }

    const PEER: &str = "127.0.0.1:5000";

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let none = TrustedProxies::default();
        let peer = PEER.parse().unwrap();
        assert_eq!(none.client_ip(&forwarded("203.0.113.9"), peer), "127.0.0.1");
        assert_eq!(none.client_ip(&HeaderMap::new(), peer), "127.0.0.1");
    }

    #[test]
    fn a_trusted_peer_is_believed_up_to_the_first_untrusted_hop() {
        let list = proxies(&["127.0.0.1/32", "10.0.0.0/8"]);
        let peer = PEER.parse().unwrap();
        assert_eq!(
            list.client_ip(&forwarded("203.0.113.9"), peer),
            "203.0.113.9"
        );
        // The client wrote the leftmost entry itself: the rightmost untrusted one counts.
        assert_eq!(
            list.client_ip(&forwarded("1.2.3.4, 203.0.113.9, 10.1.2.3"), peer),
            "203.0.113.9"
        );
        assert_eq!(list.client_ip(&HeaderMap::new(), peer), "127.0.0.1");
        assert_eq!(list.client_ip(&forwarded("garbage"), peer), "127.0.0.1");
        let untrusted = "198.51.100.1:443".parse().unwrap();
        assert_eq!(
            list.client_ip(&forwarded("203.0.113.9"), untrusted),
            "198.51.100.1"
        );
        // IPv4-mapped IPv6 peers (a dual-stack listener) match IPv4 blocks.
        let mapped = "[::ffff:127.0.0.1]:5000".parse().unwrap();
        assert_eq!(
            list.client_ip(&forwarded("203.0.113.9"), mapped),
            "203.0.113.9"
        );
    }

    #[test]
    fn entries_are_addresses_or_cidr_blocks() {
        assert_eq!(proxies(&["10.0.0.1"]), proxies(&["10.0.0.1/32"]));
        assert!(proxies(&["::1", "fd00::/8"]).trusts("fd12::1".parse().unwrap()));
        let e = TrustedProxies::try_from(vec!["10.0.0.0/33".to_owned()]).unwrap_err();
        assert!(e.contains("10.0.0.0/33"), "{e}");
    }
}
