//! Where a request comes from, as the resource policy sees it: the source IP
//! (the peer's, or `X-Forwarded-For`'s right-most address that is not a
//! trusted proxy, only when the peer itself is one), and the VPC and VPC
//! endpoint ids of that address, from the configured CIDR maps.

use std::{net::IpAddr, str::FromStr, sync::Arc};

use http::HeaderMap;
use ipnet::IpNet;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// A CIDR (`10.0.0.0/16`) or a single address (`10.0.0.1`, as `/32` or `/128`).
pub fn parse_net(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    IpNet::from_str(text)
        .or_else(|_| IpAddr::from_str(text).map(IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| format!("{text:?} is not an IP address or CIDR range"))
}

/// An `ID=CIDR` pair of `--vpc` / `--vpc-endpoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedNet {
    pub id: Arc<str>,
    pub net: IpNet,
}

impl FromStr for NamedNet {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (id, net) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?} is not ID=CIDR (e.g. vpc-0abc=10.0.0.0/16)"))?;
        let id = id.trim();
        if id.is_empty() {
            return Err(format!("{text:?} names no id before '='"));
        }
        Ok(Self {
            id: id.into(),
            net: parse_net(net)?,
        })
    }
}

/// The CIDR maps and the trusted proxies.
#[derive(Debug, Clone, Default)]
pub struct Network {
    trusted_proxies: Vec<IpNet>,
    vpcs: Vec<NamedNet>,
    endpoints: Vec<NamedNet>,
}

/// The map entry of the most specific range holding `ip`.
fn lookup(map: &[NamedNet], ip: IpAddr) -> Option<&Arc<str>> {
    map.iter()
        .filter(|entry| entry.net.contains(&ip))
        .max_by_key(|entry| entry.net.prefix_len())
        .map(|entry| &entry.id)
}

/// An IPv4 peer seen on a dual-stack socket (`::ffff:10.0.0.1`) is its IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:80`, `[::1]:80`).
fn forwarded_ip(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    IpAddr::from_str(entry)
        .ok()
        .or_else(|| std::net::SocketAddr::from_str(entry).ok().map(|s| s.ip()))
        .map(canonical)
}

impl Network {
    pub fn new(trusted_proxies: Vec<IpNet>, vpcs: Vec<NamedNet>, endpoints: Vec<NamedNet>) -> Self {
        Self {
            trusted_proxies,
            vpcs,
            endpoints,
        }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    /// The caller's address. Only a trusted proxy's `X-Forwarded-For` is
    /// read, from the right (the entries a client wrote itself are on the
    /// left): the first address that is not a trusted proxy is the caller;
    /// an entry that is no address stops the walk at the hop before it.
    pub fn source_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.is_trusted(peer) {
            return peer;
        }
        let mut caller = peer;
        let entries = headers
            .get_all(X_FORWARDED_FOR)
            .iter()
            .rev()
            .flat_map(|value| value.to_str().unwrap_or("?").rsplit(','));
        for entry in entries {
            let Some(ip) = forwarded_ip(entry) else {
                break;
            };
            caller = ip;
            if !self.is_trusted(ip) {
                break;
            }
        }
        caller
    }

    /// `aws:SourceVpc` of an address.
    pub fn vpc(&self, ip: IpAddr) -> Option<&Arc<str>> {
        lookup(&self.vpcs, ip)
    }

    /// `aws:SourceVpce` of an address.
    pub fn vpc_endpoint(&self, ip: IpAddr) -> Option<&Arc<str>> {
        lookup(&self.endpoints, ip)
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn network() -> Network {
        Network::new(
            vec![
                parse_net("127.0.0.1").unwrap(),
                parse_net("10.9.0.0/16").unwrap(),
            ],
            vec![
                "vpc-0abc=10.0.0.0/16".parse().unwrap(),
                "vpc-inner=10.0.1.0/24".parse().unwrap(),
            ],
            vec!["vpce-0def=10.1.0.0/24".parse().unwrap()],
        )
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(X_FORWARDED_FOR, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_read_only_from_a_trusted_proxy() {
        let net = network();
        let spoofed = xff(&["10.0.0.5"]);
        assert_eq!(net.source_ip(ip("192.0.2.1"), &spoofed), ip("192.0.2.1"));
        assert_eq!(net.source_ip(ip("127.0.0.1"), &spoofed), ip("10.0.0.5"));
        assert_eq!(
            net.source_ip(ip("::ffff:127.0.0.1"), &spoofed),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn the_right_most_untrusted_address_is_the_caller() {
        let net = network();
        // The client wrote 10.0.0.5 itself; 198.51.100.7 is who reached the first proxy.
        let chain = xff(&["10.0.0.5, 198.51.100.7", "10.9.3.3"]);
        assert_eq!(net.source_ip(ip("127.0.0.1"), &chain), ip("198.51.100.7"));
        let garbage = xff(&["10.0.0.5, nonsense, 10.9.3.3"]);
        assert_eq!(net.source_ip(ip("127.0.0.1"), &garbage), ip("10.9.3.3"));
        let all_trusted = xff(&["10.9.1.1"]);
        assert_eq!(net.source_ip(ip("127.0.0.1"), &all_trusted), ip("10.9.1.1"));
        let with_port = xff(&["198.51.100.7:4711"]);
        assert_eq!(
            net.source_ip(ip("127.0.0.1"), &with_port),
            ip("198.51.100.7")
        );
        assert_eq!(
            net.source_ip(ip("127.0.0.1"), &HeaderMap::new()),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn vpc_ids_come_from_the_most_specific_range() {
        let net = network();
        assert_eq!(net.vpc(ip("10.0.0.1")).map(|v| &**v), Some("vpc-0abc"));
        assert_eq!(net.vpc(ip("10.0.1.1")).map(|v| &**v), Some("vpc-inner"));
        assert_eq!(net.vpc(ip("192.0.2.1")), None);
        assert_eq!(
            net.vpc_endpoint(ip("10.1.0.9")).map(|v| &**v),
            Some("vpce-0def")
        );
    }

    #[test]
    fn named_ranges_are_parsed_with_their_errors() {
        assert!("vpc-1=127.0.0.2".parse::<NamedNet>().is_ok());
        assert!("vpc-1".parse::<NamedNet>().is_err());
        assert!("=10.0.0.0/8".parse::<NamedNet>().is_err());
        assert!("vpc-1=10.0.0.0/33".parse::<NamedNet>().is_err());
    }
}
