//! The outbound-address guard. Every URL a user gives Sluice (an API
//! destination's endpoint now; connector instance URLs next) is checked
//! before Sluice connects: loopback, private, link-local, unspecified,
//! shared (CGNAT) and multicast addresses are refused after DNS resolution,
//! unless the server runs with `--allow-private-endpoints` (local
//! simulators, tests). [`GuardedResolver`] applies the same rule when an
//! HTTP client resolves a name, so a name that changes its answer between
//! the check and the connection (DNS rebinding) is refused too.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// Makes rustls use the ring provider process-wide (once), so the HTTP
/// clients built for user-supplied URLs can speak TLS. Harmless when a
/// provider is already installed.
pub fn install_tls_provider() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let _already_installed = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Why a URL may not be called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    /// Not an absolute http(s) URL with a host.
    #[error("'{0}' is not an http or https URL with a host")]
    InvalidUrl(String),
    /// The host is, or resolves to, an address Sluice does not call.
    #[error(
        "the endpoint host '{host}' is or resolves to {address}, a {class} address; Sluice does not call such \
         addresses unless the server runs with --allow-private-endpoints"
    )]
    Refused {
        /// The URL's host.
        host: String,
        /// The address it is or resolves to.
        address: IpAddr,
        /// What kind of address that is.
        class: &'static str,
    },
    /// The name does not resolve.
    #[error("the endpoint host '{host}' does not resolve: {reason}")]
    Unresolvable {
        /// The URL's host.
        host: String,
        /// The resolver's message.
        reason: String,
    },
}

/// The kind of a non-public address, or `None` for a public one.
pub fn non_public_class(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return v4_class(v4);
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if first & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if first & 0xfe00 == 0xfc00 {
                Some("private")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if v6.segments()[..6] == [0, 0, 0, 0, 0, 0] {
                // IPv4-compatible (deprecated) addresses: judge the IPv4 part.
                let o = v6.octets();
                v4_class(Ipv4Addr::new(o[12], o[13], o[14], o[15]))
            } else {
                None
            }
        }
    }
}

fn v4_class(v4: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = v4.octets();
    if v4.is_loopback() {
        Some("loopback")
    } else if v4.is_private() {
        Some("private")
    } else if v4.is_link_local() {
        Some("link-local")
    } else if v4.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if v4.is_multicast() || v4.is_broadcast() {
        Some("multicast or broadcast")
    } else {
        None
    }
}

/// Decides which addresses Sluice may call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboundGuard {
    allow_private: bool,
}

impl OutboundGuard {
    /// A guard refusing non-public addresses.
    pub fn strict() -> Self {
        Self { allow_private: false }
    }

    /// A guard that lets everything through (`--allow-private-endpoints`).
    pub fn allowing_private() -> Self {
        Self { allow_private: true }
    }

    /// A guard per the server option.
    pub fn new(allow_private_endpoints: bool) -> Self {
        Self { allow_private: allow_private_endpoints }
    }

    /// Whether non-public addresses are allowed.
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Checks one address of `host`.
    pub fn check_address(&self, host: &str, address: IpAddr) -> Result<(), GuardError> {
        if self.allow_private {
            return Ok(());
        }
        match non_public_class(address) {
            Some(class) => Err(GuardError::Refused { host: host.to_string(), address, class }),
            None => Ok(()),
        }
    }

    /// Parses `url` and checks its host without resolving names (a syntax
    /// and literal-address check, for validating at creation time).
    pub fn check_url_syntax(&self, url: &str) -> Result<url::Url, GuardError> {
        let parsed = url::Url::parse(url).map_err(|_| GuardError::InvalidUrl(url.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(GuardError::InvalidUrl(url.to_string()));
        }
        match parsed.host() {
            Some(url::Host::Ipv4(v4)) => self.check_address(&v4.to_string(), IpAddr::V4(v4))?,
            Some(url::Host::Ipv6(v6)) => self.check_address(&v6.to_string(), IpAddr::V6(v6))?,
            Some(url::Host::Domain(name)) if is_localhost_name(name) => {
                self.check_address(name, IpAddr::V4(Ipv4Addr::LOCALHOST))?
            }
            Some(url::Host::Domain(_)) => {}
            None => return Err(GuardError::InvalidUrl(url.to_string())),
        }
        Ok(parsed)
    }

    /// Parses `url` and checks its host and every address it resolves to.
    pub async fn check_url(&self, url: &str) -> Result<url::Url, GuardError> {
        let parsed = self.check_url_syntax(url)?;
        if let Some(url::Host::Domain(name)) = parsed.host() {
            let port = parsed.port_or_known_default().unwrap_or(443);
            self.resolve(name, port).await?;
        }
        Ok(parsed)
    }

    /// Resolves `host` and checks every address; all must be allowed.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, GuardError> {
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| GuardError::Unresolvable { host: host.to_string(), reason: e.to_string() })?
            .collect();
        if addresses.is_empty() {
            return Err(GuardError::Unresolvable { host: host.to_string(), reason: "no addresses".into() });
        }
        for address in &addresses {
            self.check_address(host, address.ip())?;
        }
        Ok(addresses)
    }

    /// An HTTP client for user-supplied URLs: this guard's resolver, no
    /// redirects (a redirect could lead past the guard), `timeout` per call.
    pub fn http_client(&self, timeout: std::time::Duration) -> reqwest::Result<reqwest::Client> {
        install_tls_provider();
        reqwest::Client::builder()
            .timeout(timeout)
            .dns_resolver(self.resolver())
            .redirect(reqwest::redirect::Policy::none())
            .build()
    }

    /// A resolver for reqwest clients that applies this guard.
    pub fn resolver(&self) -> Arc<GuardedResolver> {
        Arc::new(GuardedResolver { guard: *self })
    }
}

fn is_localhost_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// A reqwest DNS resolver that refuses names resolving to addresses the
/// guard refuses.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    guard: OutboundGuard,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.guard;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addresses = guard.resolve(&host, 0).await?;
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_of_addresses() {
        let cases: &[(&str, Option<&str>)] = &[
            ("127.0.0.1", Some("loopback")),
            ("127.8.9.10", Some("loopback")),
            ("10.0.0.5", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.255", Some("private")),
            ("172.32.0.1", None),
            ("192.168.1.1", Some("private")),
            ("169.254.169.254", Some("link-local")),
            ("0.0.0.0", Some("unspecified")),
            ("100.64.0.1", Some("shared (carrier-grade NAT)")),
            ("100.128.0.1", None),
            ("224.0.0.1", Some("multicast or broadcast")),
            ("255.255.255.255", Some("multicast or broadcast")),
            ("8.8.8.8", None),
            ("52.94.0.1", None),
            ("::1", Some("loopback")),
            ("::", Some("unspecified")),
            ("fe80::1", Some("link-local")),
            ("fd00::1", Some("private")),
            ("ff02::1", Some("multicast")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:169.254.169.254", Some("link-local")),
            ("::10.0.0.5", Some("private")),
            ("2606:4700::1111", None),
        ];
        for (text, class) in cases {
            let address: IpAddr = text.parse().unwrap();
            assert_eq!(non_public_class(address), *class, "{text}");
        }
    }

    #[tokio::test]
    async fn urls_with_refused_hosts() {
        let guard = OutboundGuard::strict();
        for url in [
            "http://127.0.0.1:8080/hook",
            "https://10.0.0.5/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://localhost:9000/",
            "http://api.localhost/",
        ] {
            let error = guard.check_url(url).await.unwrap_err();
            assert!(matches!(error, GuardError::Refused { .. }), "{url}: {error}");
            assert!(error.to_string().contains("--allow-private-endpoints"), "{error}");
        }
        assert!(matches!(guard.check_url("ftp://example.com/").await, Err(GuardError::InvalidUrl(_))));
        assert!(matches!(guard.check_url("not a url").await, Err(GuardError::InvalidUrl(_))));
        let open = OutboundGuard::allowing_private();
        open.check_url("http://127.0.0.1:8080/hook").await.unwrap();
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_after_resolution() {
        // `localhost.` with a trailing dot is not caught by the name check's
        // shortcut when written differently; resolution must catch it.
        let guard = OutboundGuard::strict();
        let error = guard.resolve("localhost", 80).await.unwrap_err();
        assert!(matches!(error, GuardError::Refused { class: "loopback", .. }), "{error}");
    }

    #[tokio::test]
    async fn the_resolver_refuses_for_reqwest() {
        let client = OutboundGuard::strict().http_client(std::time::Duration::from_secs(5)).unwrap();
        let error = client.get("http://localhost:1/").send().await.unwrap_err();
        let mut source: Option<&dyn std::error::Error> = Some(&error);
        let mut text = String::new();
        while let Some(e) = source {
            text.push_str(&e.to_string());
            text.push('\n');
            source = e.source();
        }
        assert!(text.contains("loopback"), "{text}");
    }
}
