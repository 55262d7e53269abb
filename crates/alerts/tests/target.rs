//! Where a webhook may point: the special-use classification, Loupe's own
//! listeners however written, and delivery refusing a name that resolves to
//! a refused address.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use loupe_alerts::deliver::{post_once, Channel, ChannelKind, Outcome};
use loupe_alerts::target::{
    check_addr, check_target, classify, is_private, own_listener, TargetError,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// (address, the registry row it falls in, and for embedded forms the row
/// of the embedded IPv4 address).
const SPECIAL: &[(&str, &str, Option<&str>)] = &[
    // IPv4 Special-Purpose Address Registry, plus multicast.
    ("0.0.0.0", "0.0.0.0/32", None),
    ("0.1.2.3", "0.0.0.0/8", None),
    ("10.1.2.3", "10.0.0.0/8", None),
    ("100.64.0.1", "100.64.0.0/10", None),
    ("100.127.255.254", "100.64.0.0/10", None),
    ("127.0.0.1", "127.0.0.0/8", None),
    ("127.0.0.2", "127.0.0.0/8", None),
    ("127.255.255.254", "127.0.0.0/8", None),
    ("169.254.169.254", "169.254.0.0/16", None),
    ("172.16.0.1", "172.16.0.0/12", None),
    ("172.31.255.255", "172.16.0.0/12", None),
    ("192.0.0.1", "192.0.0.0/29", None),
    ("192.0.0.8", "192.0.0.8/32", None),
    ("192.0.0.9", "192.0.0.9/32", None),
    ("192.0.0.10", "192.0.0.10/32", None),
    ("192.0.0.100", "192.0.0.0/24", None),
    ("192.0.0.170", "192.0.0.170/32", None),
    ("192.0.2.1", "192.0.2.0/24", None),
    ("192.31.196.1", "192.31.196.0/24", None),
    ("192.52.193.1", "192.52.193.0/24", None),
    ("192.88.99.1", "192.88.99.0/24", None),
    ("192.88.99.2", "192.88.99.2/32", None),
    ("192.168.1.1", "192.168.0.0/16", None),
    ("192.175.48.1", "192.175.48.0/24", None),
    ("198.18.0.1", "198.18.0.0/15", None),
    ("198.19.255.255", "198.18.0.0/15", None),
    ("198.51.100.7", "198.51.100.0/24", None),
    ("203.0.113.9", "203.0.113.0/24", None),
    ("224.0.0.1", "224.0.0.0/4", None),
    ("239.255.255.250", "224.0.0.0/4", None),
    ("240.0.0.1", "240.0.0.0/4", None),
    ("254.1.2.3", "240.0.0.0/4", None),
    ("255.255.255.255", "255.255.255.255/32", None),
    // IPv6 Special-Purpose Address Registry, multicast, site-local, and
    // everything outside 2000::/3.
    ("::", "::/128", None),
    ("::1", "::1/128", None),
    ("::ffff:127.0.0.1", "::ffff:0:0/96", Some("127.0.0.0/8")),
    ("::ffff:10.0.0.1", "::ffff:0:0/96", Some("10.0.0.0/8")),
    (
        "::ffff:169.254.169.254",
        "::ffff:0:0/96",
        Some("169.254.0.0/16"),
    ),
    ("::ffff:0.0.0.0", "::ffff:0:0/96", Some("0.0.0.0/32")),
    ("::127.0.0.1", "::/96", Some("127.0.0.0/8")),
    ("::8.8.8.8", "::/96", None),
    ("64:ff9b::10.0.0.1", "64:ff9b::/96", Some("10.0.0.0/8")),
    ("64:ff9b::7f00:1", "64:ff9b::/96", Some("127.0.0.0/8")),
    ("64:ff9b:1::8.8.8.8", "64:ff9b:1::/48", None),
    ("100::1", "100::/64", None),
    ("100:0:0:1::1", "100:0:0:1::/64", None),
    ("2001:100::1", "2001::/23", None),
    // Teredo, server 0.0.0.0.
    ("2001::1", "2001::/32", Some("0.0.0.0/32")),
    // Teredo, RFC 4380's example: the client is 192.0.2.45 (inverted).
    (
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "2001::/32",
        Some("192.0.2.0/24"),
    ),
    ("2001:1::1", "2001:1::1/128", None),
    ("2001:1::2", "2001:1::2/128", None),
    ("2001:1::3", "2001:1::3/128", None),
    ("2001:2::1", "2001:2::/48", None),
    ("2001:3::1", "2001:3::/32", None),
    ("2001:4:112::1", "2001:4:112::/48", None),
    ("2001:10::1", "2001:10::/28", None),
    ("2001:20::1", "2001:20::/28", None),
    ("2001:30::1", "2001:30::/28", None),
    ("2001:db8::1", "2001:db8::/32", None),
    ("2002:7f00:1::1", "2002::/16", Some("127.0.0.0/8")),
    ("2002:c0a8:101::1", "2002::/16", Some("192.168.0.0/16")),
    ("2002:a9fe:a9fe::", "2002::/16", Some("169.254.0.0/16")),
    ("2620:4f:8000::1", "2620:4f:8000::/48", None),
    ("3fff::1", "3fff::/20", None),
    ("5f00::1", "5f00::/16", None),
    ("fc00::1", "fc00::/7", None),
    ("fd12:3456::1", "fc00::/7", None),
    ("fe80::1", "fe80::/10", None),
    ("febf::1", "fe80::/10", None),
    ("fec0::1", "fec0::/10", None),
    ("ff02::1", "ff00::/8", None),
    ("ff0e::1", "ff00::/8", None),
    ("4000::1", "4000::/2", None),
    ("e000::1", "8000::/1", None),
];

/// Public addresses a webhook must reach without any permission, also
/// written in the embedded forms that route to them.
const PUBLIC: &[&str] = &[
    "8.8.8.8",
    "1.1.1.1",
    "9.9.9.9",
    "11.0.0.1",
    "100.128.0.1",
    "172.32.0.1",
    "192.0.1.1",
    "192.88.100.1",
    "198.20.0.1",
    "223.255.255.254",
    "2606:4700::1111",
    "2001:4860:4860::8888",
    "2a00:1450:4001::1",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
    // Teredo: server 65.54.227.120, client 8.8.8.8 (inverted).
    "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
];

#[test]
fn special_use_addresses_are_classified_by_their_registry_row() {
    assert!(SPECIAL.len() + PUBLIC.len() >= 40);
    for (ip, row, embedded) in SPECIAL {
        let parsed: IpAddr = ip.parse().unwrap();
        let s = classify(parsed).unwrap_or_else(|| panic!("{ip} passed as public"));
        assert_eq!(s.range.prefix, *row, "{ip}: {s}");
        assert_eq!(s.embedded.map(|(_, r)| r.prefix), *embedded, "{ip}: {s}");
        assert!(is_private(parsed), "{ip}");
        assert!(s.to_string().contains("RFC"), "{ip}: {s}");
    }
}

#[test]
fn public_addresses_pass() {
    for ip in PUBLIC {
        let parsed: IpAddr = ip.parse().unwrap();
        assert_eq!(classify(parsed), None, "{ip}");
        let a = SocketAddr::new(parsed, 443);
        assert_eq!(check_addr(a, false, &[], Some(&[])), Ok(()), "{ip}");
    }
}

#[test]
fn the_reason_names_the_range_and_its_rfc() {
    let e = check_addr(
        "[2002:7f00:1::1]:80".parse().unwrap(),
        false,
        &[],
        Some(&[]),
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("6to4 (2002::/16, RFC 3056)"), "{text}");
    assert!(text.contains("embedding 127.0.0.1, loopback"), "{text}");
    assert!(text.contains("allow private targets"), "{text}");
}

const PORT: u16 = 16686;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Loupe's own listeners, however the address is written, whatever the
/// address Loupe is bound to, even when private targets are allowed.
#[test]
fn own_listeners_are_refused_however_written() {
    let lan: IpAddr = "192.168.7.20".parse().unwrap();
    let lan6: IpAddr = "2a01:db0::20".parse().unwrap();
    let local = [lan, lan6, "127.0.0.1".parse().unwrap()];
    for own in [
        vec![sa("127.0.0.1:16686")],
        vec![sa("0.0.0.0:16686")],
        vec![sa("[::]:16686")],
        vec![sa("[::1]:16686")],
        vec![sa("192.168.7.20:16686")],
    ] {
        for target in [
            "0.0.0.0:16686",
            "0.1.2.3:16686",
            "[::]:16686",
            "[::1]:16686",
            "127.0.0.1:16686",
            "127.0.0.2:16686",
            "127.255.255.254:16686",
            "[::ffff:127.0.0.1]:16686",
            "[::ffff:0.0.0.0]:16686",
            "[::127.0.0.1]:16686",
            "[64:ff9b::7f00:1]:16686",
            "[2002:7f00:1::1]:16686",
            "192.168.7.20:16686",
            "[::ffff:192.168.7.20]:16686",
            "[2a01:db0::20]:16686",
        ] {
            let t = sa(target);
            assert!(
                own_listener(t, &own, Some(&local)).is_some(),
                "{target} vs {own:?}"
            );
            let e = check_addr(t, true, &own, Some(&local)).unwrap_err();
            assert!(matches!(e, TargetError::Loupe(..)), "{target}: {e}");
            assert!(e.to_string().contains("Loupe itself"), "{e}");
        }
    }
}

#[test]
fn other_ports_and_other_hosts_are_not_loupe() {
    let own = [sa("127.0.0.1:16686"), sa("127.0.0.1:4318")];
    let local: [IpAddr; 1] = ["192.168.7.20".parse().unwrap()];
    for target in [
        "127.0.0.1:8080",
        "192.168.7.20:9000",
        "8.8.8.8:16686",
        "192.168.7.21:4318",
    ] {
        assert_eq!(
            own_listener(sa(target), &own, Some(&local)),
            None,
            "{target}"
        );
        assert_eq!(
            check_addr(sa(target), true, &own, Some(&local)),
            Ok(()),
            "{target}"
        );
    }
    // Without the interface list nothing on Loupe's ports can be shown to
    // be elsewhere.
    assert!(own_listener(sa("8.8.8.8:16686"), &own, None).is_some());
    assert_eq!(own_listener(sa("8.8.8.8:443"), &own, None), None);
}

/// A real interface address of this machine on Loupe's port is Loupe.
#[test]
fn a_real_local_interface_address_is_loupe() {
    let local = loupe_alerts::target::local_addresses().expect("interfaces");
    assert!(!local.is_empty());
    let own = [sa("0.0.0.0:16686")];
    for ip in &local {
        let t = SocketAddr::new(*ip, PORT);
        assert!(own_listener(t, &own, Some(&local)).is_some(), "{t}");
    }
}

#[tokio::test]
async fn urls_are_checked_on_what_they_resolve_to() {
    let own = [sa("127.0.0.1:16686")];
    for url in [
        "http://0.0.0.0:16686/api/v1/rules",
        "http://[::]:16686/",
        "http://[::ffff:127.0.0.1]:16686/",
        "http://127.0.0.2:16686/",
        "http://2130706433:16686/",
        "http://0x7f.1:16686/",
        "http://localhost:16686/",
    ] {
        let e = check_target(url, true, &own).await.unwrap_err();
        assert!(matches!(e, TargetError::Loupe(..)), "{url}: {e}");
    }
    for url in [
        "http://localhost:9/x",
        "http://127.0.0.1:9/",
        "https://192.0.2.1/hook",
    ] {
        let e = check_target(url, false, &own).await.unwrap_err();
        assert!(matches!(e, TargetError::Private(..)), "{url}: {e}");
    }
    let e = check_target("https://192.0.2.1/hook", false, &own)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("documentation (TEST-NET-1)"), "{e}");
    assert!(check_target("http://127.0.0.1:9/x", true, &own)
        .await
        .is_ok());
    for url in ["ftp://example.com/", "not a url", "mailto:a@example.com"] {
        assert!(
            matches!(check_target(url, true, &[]).await, Err(TargetError::BadUrl)),
            "{url}"
        );
    }
}

/// A receiver on loopback that counts connections and answers 204.
async fn counting_receiver() -> (SocketAddr, Arc<AtomicUsize>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let n = Arc::new(AtomicUsize::new(0));
    let count = n.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                    .await;
            });
        }
    });
    (addr, n)
}

fn channel(url: String, allow_private: bool) -> Channel {
    Channel {
        id: 1,
        name: "hook".into(),
        kind: ChannelKind::Webhook,
        url,
        allow_private,
        template: String::new(),
    }
}

/// `localhost` resolves to loopback: delivery refuses it (finally, no
/// retry) and never connects; Loupe's own port is refused even with
/// private targets allowed; with permission and another port it delivers,
/// which shows the receiver would have seen a connection.
#[tokio::test]
async fn delivery_refuses_a_name_that_resolves_to_a_refused_address() {
    let (addr, seen) = counting_receiver().await;
    let url = format!("http://localhost:{}/hook", addr.port());
    let t = Duration::from_secs(5);

    match post_once(&channel(url.clone(), false), b"{}", &[], t).await {
        Outcome::Final {
            status: None,
            error,
        } => assert!(error.contains("private"), "{error}"),
        o => panic!("{o:?}"),
    }
    let own = [SocketAddr::new("0.0.0.0".parse().unwrap(), addr.port())];
    match post_once(&channel(url.clone(), true), b"{}", &own, t).await {
        Outcome::Final {
            status: None,
            error,
        } => {
            assert!(error.contains("Loupe itself"), "{error}")
        }
        o => panic!("{o:?}"),
    }
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "a refused target was contacted"
    );

    assert_eq!(
        post_once(&channel(url, true), b"{}", &[], t).await,
        Outcome::Delivered(204)
    );
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}
