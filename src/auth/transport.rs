//! Routes the Entra authority to a loopback address: the simulator serves the token endpoint over
//! plain http on 127.0.0.1, while `azure_identity` insists on an https authority. In this mode
//! every other destination that is not loopback is refused, so nothing leaves the machine.

use azure_core::error::{Error, ErrorKind};
use azure_core::http::{AsyncRawResponse, HttpClient, Request, Url};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Sends requests for `authority_host` to `target` over plain http.
#[derive(Debug)]
pub struct LoopbackAuthority {
    authority_host: String,
    target: SocketAddr,
    inner: Arc<dyn HttpClient>,
}

impl LoopbackAuthority {
    /// `target` must be a loopback address.
    pub fn new(authority: &Url, target: SocketAddr) -> Result<Self, String> {
        if !target.ip().is_loopback() {
            return Err(format!("{target} is not a loopback address; the authority can only be routed to loopback"));
        }
        let authority_host = authority
            .host_str()
            .ok_or_else(|| format!("the authority '{authority}' has no host"))?
            .to_ascii_lowercase();
        Ok(LoopbackAuthority { authority_host, target, inner: azure_core::http::new_http_client(None) })
    }

    /// Where a request for `url` goes, or why it may not go anywhere.
    fn route(&self, url: &Url) -> Result<Url, String> {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        if host == self.authority_host {
            let mut routed = url.clone();
            routed.set_scheme("http").map_err(|_| "cannot switch the authority to http".to_string())?;
            routed.set_ip_host(self.target.ip()).map_err(|_| "cannot route the authority".to_string())?;
            routed.set_port(Some(self.target.port())).map_err(|_| "cannot route the authority".to_string())?;
            return Ok(routed);
        }
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        };
        if loopback {
            Ok(url.clone())
        } else {
            Err(format!("the authority is routed to loopback, so '{host}' is not contacted"))
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for LoopbackAuthority {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let routed = self.route(request.url()).map_err(|m| Error::with_message(ErrorKind::Connection, m))?;
        let mut request = request.clone();
        *request.url_mut() = routed;
        self.inner.execute_request(&request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_the_authority_and_refuses_other_hosts() {
        let authority = Url::parse("https://login.sim.invalid").unwrap();
        let t = LoopbackAuthority::new(&authority, "127.0.0.1:4567".parse().unwrap()).unwrap();
        let token = Url::parse("https://login.sim.invalid/tenant/oauth2/v2.0/token?x=1").unwrap();
        assert_eq!(t.route(&token).unwrap().as_str(), "http://127.0.0.1:4567/tenant/oauth2/v2.0/token?x=1");
        let msi = Url::parse("http://127.0.0.1:9/msi/token").unwrap();
        assert_eq!(t.route(&msi).unwrap(), msi);
        for outside in ["http://169.254.169.254/metadata/identity/oauth2/token", "https://login.microsoftonline.com/t"]
        {
            assert!(t.route(&Url::parse(outside).unwrap()).unwrap_err().contains("not contacted"), "{outside}");
        }
        assert!(LoopbackAuthority::new(&authority, "10.0.0.1:80".parse().unwrap()).is_err());
    }
}
