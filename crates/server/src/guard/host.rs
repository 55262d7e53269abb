//! Which `Host` a listener answers: the defence against DNS rebinding.
//!
//! A web page on another site can make the browser send requests to
//! `127.0.0.1:16686` under a hostname the page's owner controls (DNS
//! rebinding); such requests carry that hostname in `Host`. So a listener
//! answers only names that no outside party controls: loopback names and
//! addresses always; with `--allow-remote`, also IP literals (a browser
//! sends an IP literal only when the page itself was loaded from that
//! address, which a rebinding attack cannot arrange) and the names the user
//! listed in `allowed_hosts`.

use std::sync::Arc;

/// The names a listener accepts in `Host`.
#[derive(Debug, Clone, Default)]
pub struct HostPolicy {
    remote: bool,
    /// Lower-case, without a trailing dot.
    allowed: Arc<[String]>,
}

impl HostPolicy {
    /// Loopback names and addresses only: the default mode.
    pub fn loopback() -> HostPolicy {
        HostPolicy::default()
    }

    /// `--allow-remote`: loopback, IP literals and `allowed_hosts`.
    pub fn remote(allowed_hosts: &[String]) -> HostPolicy {
        HostPolicy {
            remote: true,
            allowed: allowed_hosts
                .iter()
                .map(|h| normalize(h).to_string())
                .collect(),
        }
    }

    /// Whether a request with this `Host` value (port included or not) is answered.
    pub fn admits(&self, host: &str) -> bool {
        let Some(name) = host_name(host) else {
            return false;
        };
        let name = normalize(name);
        if is_loopback_name(&name) {
            return true;
        }
        self.remote && (name.parse::<std::net::IpAddr>().is_ok() || self.allowed.contains(&name))
    }
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The name part of a `Host` value: `[::1]:16686` → `::1`,
/// `localhost:16686` → `localhost`. `None` when malformed.
fn host_name(host: &str) -> Option<&str> {
    if host.is_empty() || host.len() > 255 {
        return None;
    }
    if let Some(rest) = host.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        return match after {
            "" => Some(inside),
            p if p.strip_prefix(':').is_some_and(is_port) => Some(inside),
            _ => None,
        };
    }
    match host.rsplit_once(':') {
        Some((h, port)) if is_port(port) && !h.contains(':') => Some(h),
        Some(_) => None,
        None => Some(host),
    }
}

fn is_port(p: &str) -> bool {
    !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
}

fn is_loopback_name(name: &str) -> bool {
    name == "localhost"
        || name.ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether `host` (a `Host` header value, port included or not) names the
/// loopback interface.
pub fn is_loopback_host(host: &str) -> bool {
    HostPolicy::loopback().admits(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for ok in [
            "localhost",
            "localhost:16686",
            "127.0.0.1:16686",
            "127.1.2.3",
            "[::1]:16686",
            "[::1]",
            "app.localhost:5173",
            "LOCALHOST.",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.com",
            "evil.com:16686",
            "127.0.0.1.evil.com",
            "localhost.evil.com",
            "[::2]:1",
            "10.0.0.1",
            "",
            "[::1",
            "[::1]x",
            "localhost:port",
            "::1",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }

    #[test]
    fn remote_mode_accepts_ip_literals_and_listed_names_only() {
        let p = HostPolicy::remote(&["Laptop.Local.".to_string()]);
        for ok in [
            "localhost:16686",
            "192.168.1.20:16686",
            "[fe80::1]:16686",
            "laptop.local:16686",
            "LAPTOP.LOCAL",
        ] {
            assert!(p.admits(ok), "{ok}");
        }
        for bad in [
            "evil.com",
            "laptop.local.evil.com:16686",
            "rebind.attacker.example",
            "",
        ] {
            assert!(!p.admits(bad), "{bad}");
        }
        // The default mode never takes those.
        assert!(!HostPolicy::loopback().admits("192.168.1.20:16686"));
        assert!(!HostPolicy::loopback().admits("laptop.local"));
    }
}
