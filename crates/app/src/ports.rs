//! Which process holds a TCP port, best effort, so that "address in use"
//! can say *who* (Jaeger? a Collector? another Loupe?) instead of leaving
//! the user to run `ss -ltnp`. Linux reads `/proc/net/tcp{,6}` for the
//! listening socket's inode and then `/proc/*/fd` for the process owning it;
//! other platforms (and processes of other users, whose descriptors cannot
//! be read) answer `None`.

use std::net::SocketAddr;

/// A process listening on a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortHolder {
    pub pid: u32,
    /// The process's name (`/proc/PID/comm`), e.g. `otelcol-contrib`.
    pub name: String,
}

impl std::fmt::Display for PortHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (pid {})", self.name, self.pid)
    }
}

/// Whether `addr` can be bound right now (binds and releases it at once).
/// Port 0 is always free.
pub fn is_free(addr: SocketAddr) -> bool {
    std::net::TcpListener::bind(addr).is_ok()
}

/// The process listening on `addr`'s port, if it can be found.
pub fn holder(addr: SocketAddr) -> Option<PortHolder> {
    if addr.port() == 0 {
        return None;
    }
    imp::holder(addr)
}

#[cfg(target_os = "linux")]
mod imp {
    use super::PortHolder;
    use std::net::{IpAddr, SocketAddr};

    pub fn holder(addr: SocketAddr) -> Option<PortHolder> {
        let mut inodes = Vec::new();
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            if let Ok(text) = std::fs::read_to_string(table) {
                inodes.extend(listening_inodes(&text, addr));
            }
        }
        if inodes.is_empty() {
            return None;
        }
        let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
        for proc_entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = proc_entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(fds) = std::fs::read_dir(proc_entry.path().join("fd")) else {
                continue; // another user's process, or gone
            };
            for fd in fds.flatten() {
                let Ok(target) = std::fs::read_link(fd.path()) else {
                    continue;
                };
                if wanted.iter().any(|w| target.as_os_str() == w.as_str()) {
                    let name = std::fs::read_to_string(proc_entry.path().join("comm"))
                        .map(|s| s.trim().to_string())
                        .unwrap_or_else(|_| "?".to_string());
                    return Some(PortHolder { pid, name });
                }
            }
        }
        None
    }

    /// Inodes of sockets in a `/proc/net/tcp{,6}` table that listen on
    /// `addr`'s port, on `addr`'s IP or on the wildcard address.
    pub(super) fn listening_inodes(table: &str, addr: SocketAddr) -> Vec<u64> {
        const LISTEN: &str = "0A";
        let mut out = Vec::new();
        for line in table.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            if cols.len() < 10 || cols[3] != LISTEN {
                continue;
            }
            let Some((ip_hex, port_hex)) = cols[1].split_once(':') else {
                continue;
            };
            if u16::from_str_radix(port_hex, 16).ok() != Some(addr.port()) {
                continue;
            }
            let matches_ip = match parse_ip(ip_hex) {
                Some(ip) => ip.is_unspecified() || ip == addr.ip() || addr.ip().is_unspecified(),
                None => true,
            };
            if matches_ip {
                if let Ok(inode) = cols[9].parse::<u64>() {
                    if inode != 0 {
                        out.push(inode);
                    }
                }
            }
        }
        out
    }

    /// The kernel prints each 32-bit word of the address as a number in
    /// hex, the word having been read in the machine's byte order.
    fn parse_ip(hex: &str) -> Option<IpAddr> {
        let word = |s: &str| u32::from_str_radix(s, 16).ok().map(u32::to_ne_bytes);
        match hex.len() {
            8 => Some(IpAddr::from(word(hex)?)),
            32 => {
                let mut bytes = [0u8; 16];
                for i in 0..4 {
                    bytes[i * 4..i * 4 + 4].copy_from_slice(&word(&hex[i * 8..i * 8 + 8])?);
                }
                let v6 = std::net::Ipv6Addr::from(bytes);
                Some(match v6.to_ipv4_mapped() {
                    Some(v4) => IpAddr::V4(v4),
                    None => IpAddr::V6(v6),
                })
            }
            _ => None,
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::PortHolder;
    use std::net::SocketAddr;

    pub fn holder(_addr: SocketAddr) -> Option<PortHolder> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_is_free_and_held_by_nobody() {
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        assert!(is_free(any));
        assert_eq!(holder(any), None);
    }

    #[test]
    fn a_taken_port_is_not_free() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        assert!(!is_free(addr));
        drop(l);
        assert!(is_free(addr));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn finds_this_process_listening() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = holder(addr).expect("our own listener is found in /proc");
        assert_eq!(h.pid, std::process::id());
        assert!(!h.name.is_empty());
        assert!(h.to_string().contains(&format!("pid {}", h.pid)));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn parses_proc_net_tcp() {
        // 127.0.0.1:4317 listening (inode 111), 0.0.0.0:4318 listening
        // (222), and an established connection from port 4317 (333).
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:10DD 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0 100 0 0 10 0\n\
   1: 00000000:10DE 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 222 1 0 100 0 0 10 0\n\
   2: 0100007F:10DD 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 333 1 0 100 0 0 10 0\n";
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(imp::listening_inodes(table, a("127.0.0.1:4317")), vec![111]);
        assert_eq!(imp::listening_inodes(table, a("127.0.0.1:4318")), vec![222]);
        assert_eq!(
            imp::listening_inodes(table, a("127.0.0.2:4317")),
            Vec::<u64>::new()
        );
        assert_eq!(
            imp::listening_inodes(table, a("127.0.0.1:4319")),
            Vec::<u64>::new()
        );
    }
}
