//! Where a webhook may point: the address classification and the checks
//! run when a channel is saved and again, on the resolved addresses, at
//! every delivery.
//!
//! A webhook is a request Loupe makes on the user's behalf with telemetry in
//! its body, so a target chosen by someone else (a page that forged a channel,
//! a name that rebinds) must not reach what only this machine can reach:
//!
//! - [`classify`] names the special-use range of an address from one table
//!   per family, written from the IANA IPv4 and IPv6 Special-Purpose Address
//!   Registries (plus multicast, the reserved blocks and the deprecated
//!   site-local prefix, which those registries leave to other RFCs). An
//!   address that embeds an IPv4 address (IPv4-mapped, IPv4-compatible,
//!   6to4, Teredo, NAT64) is also classified by what it embeds, since the
//!   packet may end up there. No crate fits: `ip_network` 0.4 (2021) misses
//!   the IPv6 rows added since (3fff::/20, 5f00::/16, 2001:30::/28, …), the
//!   embedded IPv4 of 6to4/NAT64/Teredo and IPv4 multicast; std's
//!   `is_global` is unstable; `ipnet` and `iprange` only do arithmetic.
//! - [`own_listener`] refuses Loupe's own listening ports however the
//!   address is written: unspecified (`0.0.0.0`, `[::]`, which connect to
//!   this host), the whole loopback range, IPv4-mapped and other embedded
//!   forms, and every address of a local interface. This holds even when
//!   the channel allows private targets: a webhook must never be a way to
//!   call Loupe's own API (rules, channels, settings) from a notification.
//! - [`check_target`] resolves the URL's host, checks every address and
//!   returns them; delivery connects only to those (no second lookup for
//!   DNS rebinding to race).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// The longest a name lookup may take when a channel is checked.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// A row of the special-use tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// The prefix as written in the registry, e.g. `198.18.0.0/15`.
    pub prefix: &'static str,
    /// What the registry calls it.
    pub name: &'static str,
    /// Where it is defined.
    pub rfc: &'static str,
    /// How an IPv4 address is embedded in it, if it is.
    embeds: Embed,
    net: Net,
    len: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Net {
    V4(u32),
    V6(u128),
}

/// Where an IPv6 prefix carries an IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Embed {
    No,
    /// In the low 32 bits, and routed there (IPv4-mapped, NAT64 /96).
    Low32,
    /// In the low 32 bits, but deprecated and never routed
    /// (IPv4-compatible): refused whatever it embeds.
    Compat,
    /// In bits 16..48 (6to4, RFC 3056 §2).
    SixToFour,
    /// The server in bits 32..64, the client inverted in the low 32 bits
    /// (Teredo, RFC 4380 §4).
    Teredo,
}

const fn v4(
    a: [u8; 4],
    len: u8,
    prefix: &'static str,
    name: &'static str,
    rfc: &'static str,
) -> Range {
    Range {
        prefix,
        name,
        rfc,
        embeds: Embed::No,
        net: Net::V4(u32::from_be_bytes(a)),
        len,
    }
}

const fn v6(
    s: [u16; 8],
    len: u8,
    prefix: &'static str,
    name: &'static str,
    rfc: &'static str,
) -> Range {
    let mut n: u128 = 0;
    let mut i = 0;
    while i < 8 {
        n = (n << 16) | s[i] as u128;
        i += 1;
    }
    Range {
        prefix,
        name,
        rfc,
        embeds: Embed::No,
        net: Net::V6(n),
        len,
    }
}

const fn embeds(mut r: Range, e: Embed) -> Range {
    r.embeds = e;
    r
}

/// IPv4: the IANA IPv4 Special-Purpose Address Registry (every row, also
/// the few marked globally reachable: anycast relays and AS112 sinks are
/// no webhook receivers), plus multicast, which that registry leaves to
/// RFC 5771. The most specific row wins.
#[rustfmt::skip]
pub const V4_TABLE: &[Range] = &[
    v4([0, 0, 0, 0], 8, "0.0.0.0/8", "\"this network\"", "RFC 791 §3.2"),
    v4([0, 0, 0, 0], 32, "0.0.0.0/32", "\"this host on this network\" (unspecified)", "RFC 1122 §3.2.1.3"),
    v4([10, 0, 0, 0], 8, "10.0.0.0/8", "private-use", "RFC 1918"),
    v4([100, 64, 0, 0], 10, "100.64.0.0/10", "shared address space (carrier-grade NAT)", "RFC 6598"),
    v4([127, 0, 0, 0], 8, "127.0.0.0/8", "loopback", "RFC 1122 §3.2.1.3"),
    v4([169, 254, 0, 0], 16, "169.254.0.0/16", "link-local", "RFC 3927"),
    v4([172, 16, 0, 0], 12, "172.16.0.0/12", "private-use", "RFC 1918"),
    v4([192, 0, 0, 0], 24, "192.0.0.0/24", "IETF protocol assignments", "RFC 6890 §2.1"),
    v4([192, 0, 0, 0], 29, "192.0.0.0/29", "IPv4 service continuity prefix (DS-Lite)", "RFC 7335"),
    v4([192, 0, 0, 8], 32, "192.0.0.8/32", "IPv4 dummy address", "RFC 7600"),
    v4([192, 0, 0, 9], 32, "192.0.0.9/32", "Port Control Protocol anycast", "RFC 7723"),
    v4([192, 0, 0, 10], 32, "192.0.0.10/32", "TURN anycast", "RFC 8155"),
    v4([192, 0, 0, 170], 32, "192.0.0.170/32", "NAT64/DNS64 discovery", "RFC 8880"),
    v4([192, 0, 0, 171], 32, "192.0.0.171/32", "NAT64/DNS64 discovery", "RFC 8880"),
    v4([192, 0, 2, 0], 24, "192.0.2.0/24", "documentation (TEST-NET-1)", "RFC 5737"),
    v4([192, 31, 196, 0], 24, "192.31.196.0/24", "AS112-v4", "RFC 7535"),
    v4([192, 52, 193, 0], 24, "192.52.193.0/24", "AMT", "RFC 7450"),
    v4([192, 88, 99, 0], 24, "192.88.99.0/24", "deprecated 6to4 relay anycast", "RFC 7526"),
    v4([192, 88, 99, 2], 32, "192.88.99.2/32", "6a44 relay anycast", "RFC 6751"),
    v4([192, 168, 0, 0], 16, "192.168.0.0/16", "private-use", "RFC 1918"),
    v4([192, 175, 48, 0], 24, "192.175.48.0/24", "direct delegation AS112 service", "RFC 7534"),
    v4([198, 18, 0, 0], 15, "198.18.0.0/15", "benchmarking", "RFC 2544"),
    v4([198, 51, 100, 0], 24, "198.51.100.0/24", "documentation (TEST-NET-2)", "RFC 5737"),
    v4([203, 0, 113, 0], 24, "203.0.113.0/24", "documentation (TEST-NET-3)", "RFC 5737"),
    v4([224, 0, 0, 0], 4, "224.0.0.0/4", "multicast", "RFC 5771"),
    v4([240, 0, 0, 0], 4, "240.0.0.0/4", "reserved", "RFC 1112 §4"),
    v4([255, 255, 255, 255], 32, "255.255.255.255/32", "limited broadcast", "RFC 919 §7, RFC 8190"),
];

/// IPv6: the IANA IPv6 Special-Purpose Address Registry (every row), plus
/// multicast (RFC 4291), the deprecated site-local prefix (RFC 3879), and
/// everything outside 2000::/3, the only block IANA allocates for global
/// unicast (IANA IPv6 Address Space registry). The most specific row wins.
#[rustfmt::skip]
pub const V6_TABLE: &[Range] = &[
    v6([0; 8], 3, "::/3", "outside global unicast 2000::/3 (reserved by IETF)", "RFC 4291 §2.4"),
    v6([0x4000, 0, 0, 0, 0, 0, 0, 0], 2, "4000::/2", "outside global unicast 2000::/3 (reserved by IETF)", "RFC 4291 §2.4"),
    v6([0x8000, 0, 0, 0, 0, 0, 0, 0], 1, "8000::/1", "outside global unicast 2000::/3 (reserved by IETF)", "RFC 4291 §2.4"),
    v6([0; 8], 128, "::/128", "unspecified", "RFC 4291 §2.5.2"),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "::1/128", "loopback", "RFC 4291 §2.5.3"),
    embeds(v6([0; 8], 96, "::/96", "IPv4-compatible (deprecated)", "RFC 4291 §2.5.5.1"), Embed::Compat),
    embeds(v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, "::ffff:0:0/96", "IPv4-mapped", "RFC 4291 §2.5.5.2"), Embed::Low32),
    embeds(v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, "64:ff9b::/96", "NAT64 well-known prefix", "RFC 6052"), Embed::Low32),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "64:ff9b:1::/48", "local-use IPv4/IPv6 translation", "RFC 8215"),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "100::/64", "discard-only", "RFC 6666"),
    v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64, "100:0:0:1::/64", "dummy IPv6 prefix", "RFC 9780"),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, "2001::/23", "IETF protocol assignments", "RFC 2928"),
    embeds(v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "2001::/32", "Teredo", "RFC 4380"), Embed::Teredo),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 1], 128, "2001:1::1/128", "Port Control Protocol anycast", "RFC 7723"),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 2], 128, "2001:1::2/128", "TURN anycast", "RFC 8155"),
    v6([0x2001, 1, 0, 0, 0, 0, 0, 3], 128, "2001:1::3/128", "DNS-SD service registration protocol anycast", "RFC 9665"),
    v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, "2001:2::/48", "benchmarking", "RFC 5180"),
    v6([0x2001, 3, 0, 0, 0, 0, 0, 0], 32, "2001:3::/32", "AMT", "RFC 7450"),
    v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48, "2001:4:112::/48", "AS112-v6", "RFC 7535"),
    v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28, "2001:10::/28", "ORCHID (deprecated)", "RFC 4843"),
    v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28, "2001:20::/28", "ORCHIDv2", "RFC 7343"),
    v6([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28, "2001:30::/28", "drone remote ID protocol entity tags (DETs)", "RFC 9374"),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "2001:db8::/32", "documentation", "RFC 3849"),
    embeds(v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "2002::/16", "6to4", "RFC 3056"), Embed::SixToFour),
    v6([0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0], 48, "2620:4f:8000::/48", "direct delegation AS112 service", "RFC 7534"),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "3fff::/20", "documentation", "RFC 9637"),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "5f00::/16", "segment routing (SRv6) SIDs", "RFC 9602"),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "fc00::/7", "unique local", "RFC 4193"),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "fe80::/10", "link-local unicast", "RFC 4291 §2.5.6"),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "fec0::/10", "site-local unicast (deprecated)", "RFC 3879"),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "ff00::/8", "multicast", "RFC 4291 §2.7"),
];

/// Embedded forms whose IPv4 address, when public, makes the whole address
/// usable: the IPv4-mapped form *is* that IPv4 address on a dual-stack
/// socket, and NAT64, 6to4 and Teredo route to it. Every other row refuses
/// the address whatever it embeds.
fn passes_when_embedded_public(r: &Range) -> bool {
    matches!(r.embeds, Embed::Low32 | Embed::SixToFour | Embed::Teredo)
}

impl Range {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (Net::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                u32::from(a) & mask == n
            }
            (Net::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                u128::from(a) & mask == n
            }
            _ => false,
        }
    }

    /// The IPv4 addresses an address of this range carries.
    fn embedded(&self, ip: Ipv6Addr) -> Vec<Ipv4Addr> {
        let n = u128::from(ip);
        match self.embeds {
            Embed::No => Vec::new(),
            Embed::Low32 | Embed::Compat => vec![Ipv4Addr::from(n as u32)],
            Embed::SixToFour => vec![Ipv4Addr::from((n >> 80) as u32)],
            Embed::Teredo => vec![
                Ipv4Addr::from((n >> 64) as u32),
                Ipv4Addr::from(!(n as u32)),
            ],
        }
    }
}

fn most_specific(ip: IpAddr) -> Option<&'static Range> {
    let table = match ip {
        IpAddr::V4(_) => V4_TABLE,
        IpAddr::V6(_) => V6_TABLE,
    };
    table
        .iter()
        .filter(|r| r.contains(ip))
        .max_by_key(|r| r.len)
}

/// Why an address is not a public one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Special {
    /// The range the address itself is in.
    pub range: &'static Range,
    /// For embedded forms: the embedded IPv4 address and its own range,
    /// when that is what makes the address special.
    pub embedded: Option<(Ipv4Addr, &'static Range)>,
}

impl fmt::Display for Special {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.range;
        write!(f, "{} ({}, {})", r.name, r.prefix, r.rfc)?;
        if let Some((v4, e)) = self.embedded {
            write!(f, " embedding {v4}, {} ({}, {})", e.name, e.prefix, e.rfc)?;
        }
        Ok(())
    }
}

/// The special-use range of `ip`, or `None` for a public address.
pub fn classify(ip: IpAddr) -> Option<Special> {
    let range = most_specific(ip)?;
    let IpAddr::V6(v6) = ip else {
        return Some(Special {
            range,
            embedded: None,
        });
    };
    let embedded = range
        .embedded(v6)
        .into_iter()
        .find_map(|v4| most_specific(IpAddr::V4(v4)).map(|e| (v4, e)));
    if embedded.is_none() && passes_when_embedded_public(range) {
        return None;
    }
    Some(Special { range, embedded })
}

/// Whether a webhook may not reach `ip` without the channel's permission.
pub fn is_private(ip: IpAddr) -> bool {
    classify(ip).is_some()
}

/// Every form `ip` may stand for: itself and the IPv4 addresses it embeds.
fn aliases(ip: IpAddr) -> Vec<IpAddr> {
    let mut out = vec![ip];
    if let IpAddr::V6(v6) = ip {
        if let Some(r) = most_specific(ip) {
            out.extend(r.embedded(v6).into_iter().map(IpAddr::V4));
        }
    }
    out
}

/// Whether connecting to `ip` reaches this host by definition: unspecified
/// (`0.0.0.0`, `::` connect to the local host), "this network" and the
/// whole loopback range.
fn is_this_host(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => v.octets()[0] == 0 || v.is_loopback(),
        IpAddr::V6(v) => v.is_unspecified() || v.is_loopback(),
    }
}

/// The addresses of this machine's interfaces, read at each check because
/// a laptop changes networks. `None` when they cannot be listed.
pub fn local_addresses() -> Option<Vec<IpAddr>> {
    if_addrs::get_if_addrs()
        .ok()
        .map(|v| v.into_iter().map(|i| i.ip()).collect())
}

/// Why `target` is one of Loupe's own listeners (`own`), if it is. `local`
/// are this machine's interface addresses; `None` (they could not be
/// listed) refuses every target on one of Loupe's ports, since none can be
/// shown to be elsewhere.
pub fn own_listener(
    target: SocketAddr,
    own: &[SocketAddr],
    local: Option<&[IpAddr]>,
) -> Option<&'static str> {
    if !own.iter().any(|o| o.port() == target.port()) {
        return None;
    }
    let forms = aliases(target.ip());
    let same = |a: IpAddr, b: IpAddr| canonical(a) == canonical(b);
    for a in &forms {
        if is_this_host(canonical(*a)) {
            return Some("a loopback or unspecified address on one of Loupe's ports");
        }
        if own
            .iter()
            .any(|o| o.port() == target.port() && same(o.ip(), *a))
        {
            return Some("one of Loupe's listening addresses");
        }
        match local {
            Some(l) if l.iter().any(|i| same(*i, *a)) => {
                return Some("an address of this machine on one of Loupe's ports");
            }
            Some(_) => {}
            None => {
                return Some(
                    "one of Loupe's ports, and this machine's addresses cannot be listed to tell it is elsewhere",
                )
            }
        }
    }
    None
}

/// IPv4-mapped IPv6 as IPv4, so both spellings compare equal.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v) => v.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v)),
        v4 => v4,
    }
}

/// Why a webhook target is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TargetError {
    #[error("the webhook URL must be http(s)://host/…")]
    BadUrl,
    #[error("cannot resolve the webhook's host: {0}")]
    Resolve(String),
    #[error("the webhook's host resolves to {0}, {1}: a private or special-use address; allow private targets on the channel to use it")]
    Private(IpAddr, Special),
    #[error("the webhook points at Loupe itself ({0}: {1}); this is refused even when private targets are allowed")]
    Loupe(SocketAddr, &'static str),
}

/// Checks one resolved address.
pub fn check_addr(
    a: SocketAddr,
    allow_private: bool,
    own: &[SocketAddr],
    local: Option<&[IpAddr]>,
) -> Result<(), TargetError> {
    if let Some(why) = own_listener(a, own, local) {
        return Err(TargetError::Loupe(a, why));
    }
    if !allow_private {
        if let Some(s) = classify(a.ip()) {
            return Err(TargetError::Private(a.ip(), s));
        }
    }
    Ok(())
}

/// The host (as the TLS name and `Host` header want it) and port of a
/// webhook URL, or `BadUrl`.
fn host_port(url: &str) -> Result<(url::Host<String>, u16), TargetError> {
    let u = url::Url::parse(url).map_err(|_| TargetError::BadUrl)?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(TargetError::BadUrl);
    }
    let host = u.host().ok_or(TargetError::BadUrl)?.to_owned();
    let port = u.port_or_known_default().ok_or(TargetError::BadUrl)?;
    Ok((host, port))
}

/// Resolves and checks a webhook URL; returns the host and the addresses
/// the connection must use. Every resolved address must pass: a name that
/// resolves to one public and one private address is refused, as the
/// connection could go to either.
pub async fn check_target(
    url: &str,
    allow_private: bool,
    own: &[SocketAddr],
) -> Result<(String, Vec<SocketAddr>), TargetError> {
    let (host, port) = host_port(url)?;
    let (name, addrs): (String, Vec<SocketAddr>) = match host {
        url::Host::Ipv4(ip) => (ip.to_string(), vec![SocketAddr::new(ip.into(), port)]),
        url::Host::Ipv6(ip) => (ip.to_string(), vec![SocketAddr::new(ip.into(), port)]),
        url::Host::Domain(d) => {
            let found =
                tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((d.as_str(), port)))
                    .await
                    .map_err(|_| {
                        TargetError::Resolve(format!("no answer within {RESOLVE_TIMEOUT:?}"))
                    })?
                    .map_err(|e| TargetError::Resolve(e.to_string()))?
                    .collect();
            (d, found)
        }
    };
    if addrs.is_empty() {
        return Err(TargetError::Resolve("no address".into()));
    }
    let local = local_addresses();
    for a in &addrs {
        check_addr(*a, allow_private, own, local.as_deref())?;
    }
    Ok((name, addrs))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row's numbers say what its `prefix` text says, without host
    /// bits, so the table reads as the registry it copies.
    #[test]
    fn rows_match_their_written_prefix() {
        for r in V4_TABLE.iter().chain(V6_TABLE) {
            let (addr, len) = r.prefix.split_once('/').expect("prefix/len");
            let len: u8 = len.parse().expect("length");
            assert_eq!(len, r.len, "{}", r.prefix);
            let ip: IpAddr = addr.parse().expect("address");
            let net = match ip {
                IpAddr::V4(a) => Net::V4(u32::from(a)),
                IpAddr::V6(a) => Net::V6(u128::from(a)),
            };
            assert_eq!(net, r.net, "{}", r.prefix);
            assert!(r.contains(ip), "{}", r.prefix);
            let host_bits = match r.net {
                Net::V4(n) => u128::from(n) & (u128::from(u32::MAX) >> r.len),
                Net::V6(n) => n & u128::MAX.checked_shr(u32::from(r.len)).unwrap_or(0),
            };
            assert_eq!(host_bits, 0, "{} has host bits", r.prefix);
        }
    }
}
