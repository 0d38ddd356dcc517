//! Models on another machine through Burn's remote backend: a server (`cadenza serve`) owns a
//! device, and a client's tensors live there, each operation sent over a WebSocket. Cadenza
//! adds no protocol of its own; this module only names the server (`remote://[TOKEN@]HOST:PORT`),
//! connects with a time limit, and serves.
//!
//! The WebSocket transport is unencrypted: a token keeps stray clients on a trusted network
//! out, not someone reading the traffic.

use std::fmt;
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use burn::remote::RemoteHost;
use burn::server::{RemoteServer, TokenAuthorizer, WebSocketTransport};
use burn::tensor::Device;
use thiserror::Error;

/// How long a client waits for a server to answer before running on the CPU instead.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A server as `--backend remote://[TOKEN@]HOST:PORT` names it.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteAddress {
    /// `HOST:PORT`.
    pub host: String,
    pub token: Option<String>,
}

impl RemoteAddress {
    /// Parses `remote://[TOKEN@]HOST:PORT`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let rest = text
            .strip_prefix("remote://")
            .ok_or_else(|| format!("'{text}' is not a server address (expected remote://HOST:PORT)"))?;
        let (token, host) = match rest.rsplit_once('@') {
            Some((token, host)) => (Some(token.to_string()).filter(|t| !t.is_empty()), host),
            None => (None, rest),
        };
        let port_ok = host.rsplit_once(':').is_some_and(|(name, port)| !name.is_empty() && port.parse::<u16>().is_ok());
        if !port_ok {
            return Err(format!("'{text}': the server needs a host and a port (remote://HOST:PORT)"));
        }
        Ok(Self { host: host.to_string(), token })
    }

    fn websocket_url(&self) -> String {
        format!("ws://{}", self.host)
    }
}

/// The token never shows in logs or the status bar.
impl fmt::Display for RemoteAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "remote://{}", self.host)
    }
}

impl fmt::Debug for RemoteAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[derive(Debug, Error)]
pub enum RemoteError {
    #[error("cannot reach the server at {address}: {reason}")]
    Unreachable { address: String, reason: String },
    #[error("the server at {address} did not answer within {} s", timeout.as_secs())]
    Timeout { address: String, timeout: Duration },
    #[error("cannot listen on {address}: {reason}")]
    Bind { address: String, reason: String },
    #[error("the server stopped: {0}")]
    Serve(String),
    #[error("a server token cannot be empty")]
    EmptyToken,
}

/// Connects to the server's first device, giving up after `timeout` (a host that drops packets
/// would otherwise hold the caller for the operating system's TCP timeout).
pub fn connect(address: &RemoteAddress, timeout: Duration) -> Result<Device, RemoteError> {
    // Burn's client retries a refused connection until it gives up; a plain TCP dial first
    // tells "nothing listens there" at once.
    reachable(address, timeout)?;
    let mut host = RemoteHost::websocket(&address.websocket_url());
    if let Some(token) = &address.token {
        host = host.with_credential(token.as_str());
    }
    let (sender, answer) = mpsc::channel();
    // The connect runs on a thread of its own so the wait can end; a late answer is dropped.
    std::thread::Builder::new()
        .name("cadenza-remote-connect".into())
        .spawn(move || {
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Device::remote_options(&host).init()));
            let _ = sender.send(result);
        })
        .map_err(|e| RemoteError::Unreachable { address: address.to_string(), reason: e.to_string() })?;
    match answer.recv_timeout(timeout) {
        Ok(Ok(Ok(device))) => Ok(device),
        Ok(Ok(Err(err))) => Err(RemoteError::Unreachable { address: address.to_string(), reason: err.to_string() }),
        Ok(Err(panic)) => Err(RemoteError::Unreachable {
            address: address.to_string(),
            reason: crate::runtime::panic_message(&panic),
        }),
        Err(_) => Err(RemoteError::Timeout { address: address.to_string(), timeout }),
    }
}

/// Whether anything accepts TCP connections at the address (a refused port answers at once).
fn reachable(address: &RemoteAddress, timeout: Duration) -> Result<(), RemoteError> {
    use std::net::{TcpStream, ToSocketAddrs};
    let unreachable = |reason: String| RemoteError::Unreachable { address: address.to_string(), reason };
    let mut last = None;
    for socket in address.host.to_socket_addrs().map_err(|e| unreachable(e.to_string()))? {
        match TcpStream::connect_timeout(&socket, timeout) {
            Ok(_) => return Ok(()),
            Err(err) => last = Some(err),
        }
    }
    Err(unreachable(last.map_or_else(|| "the host name has no address".into(), |e| e.to_string())))
}

/// A bound server socket, ready to serve: binding first lets the caller say the port (port 0
/// asks the system for a free one) before any client dials.
pub struct BoundServer {
    listener: TcpListener,
}

impl BoundServer {
    pub fn bind(address: &str) -> Result<Self, RemoteError> {
        let listener = TcpListener::bind(address)
            .map_err(|e| RemoteError::Bind { address: address.to_string(), reason: e.to_string() })?;
        Ok(Self { listener })
    }

    /// Where clients reach it.
    pub fn local_address(&self) -> Option<std::net::SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Runs `device`'s operations for every client until Ctrl-C or SIGTERM. With a token, only
    /// clients that present it get a session.
    pub fn serve(self, device: Device, token: Option<&str>) -> Result<(), RemoteError> {
        let mut server = RemoteServer::new([device]);
        if let Some(token) = token {
            server = server.with_authorizer(TokenAuthorizer::new(token).map_err(|_| RemoteError::EmptyToken)?);
        }
        server.serve(WebSocketTransport::from_listener(self.listener)).map_err(|e| RemoteError::Serve(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn addresses_parse_and_hide_their_token() {
        let plain = RemoteAddress::parse("remote://gpu-box:7878").unwrap();
        assert_eq!((plain.host.as_str(), plain.token.as_deref()), ("gpu-box:7878", None));
        let with_token = RemoteAddress::parse("remote://s3cret@10.0.0.2:7878").unwrap();
        assert_eq!(with_token.token.as_deref(), Some("s3cret"));
        assert_eq!(with_token.to_string(), "remote://10.0.0.2:7878");
        assert!(!format!("{with_token:?}").contains("s3cret"));
        for bad in ["gpu-box:7878", "remote://gpu-box", "remote://:7878", "remote://host:99999"] {
            assert!(RemoteAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_port_nobody_listens_on_is_one_clear_error_not_a_hang() {
        // Bound and dropped: nothing listens there now.
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let address = RemoteAddress::parse(&format!("remote://127.0.0.1:{port}")).unwrap();
        let started = std::time::Instant::now();
        let err = connect(&address, CONNECT_TIMEOUT).unwrap_err();
        assert!(err.to_string().starts_with(&format!("cannot reach the server at remote://127.0.0.1:{port}")), "{err}");
        assert!(started.elapsed() < Duration::from_secs(1), "a refused port took {:?}", started.elapsed());
    }
}
