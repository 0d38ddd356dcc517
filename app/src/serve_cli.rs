//! `cadenza serve`: this machine's ML device for other machines' Cadenza, through Burn's remote
//! backend server. Clients run with `--backend remote://HOST:PORT`.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{Context, Result, bail};
use cadenza_engine::ml::runtime_slot::choose_runtime;
use cadenza_engine::{BackendPreference, EngineConfig};
use cadenza_models::remote::BoundServer;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Where to listen. Loopback unless --allow-network: anyone who reaches the port can run
    /// tensor work on this machine's device.
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub addr: String,
    /// Listen on an address other machines can reach (the WebSocket is not encrypted; use
    /// --token on a trusted network only).
    #[arg(long)]
    pub allow_network: bool,
    /// Only clients that present this token (remote://TOKEN@HOST:PORT) get a session.
    #[arg(long, env = "CADENZA_SERVE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

pub fn run(config: &EngineConfig, args: &ServeArgs) -> Result<()> {
    if matches!(config.backend, BackendPreference::Remote(_)) {
        bail!("a server runs on its own device: --backend auto, cpu or wgpu");
    }
    let address = resolve(&args.addr)?;
    if !address.ip().is_loopback() && !args.allow_network {
        bail!(
            "{address} can be reached from other machines; add --allow-network to serve there (anyone who reaches it can \
             run work on this machine's device: use --token)"
        );
    }
    let server = BoundServer::bind(&address.to_string())?;
    let runtime = choose_runtime(config.backend.clone());
    let bound = server.local_address().unwrap_or(address);
    let token = if args.token.is_some() { "TOKEN@" } else { "" };
    // Written, not printed: a reader that went away (a closed pipe) must not stop the server.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "cadenza: serving {} ({}) on remote://{bound}", runtime.kind, runtime.reason);
    let _ = writeln!(out, "cadenza: clients run with --backend remote://{token}{bound}; Ctrl-C stops");
    let _ = out.flush();
    server.serve(runtime.device, args.token.as_deref())?;
    let _ = writeln!(out, "cadenza: server stopped");
    Ok(())
}

fn resolve(addr: &str) -> Result<SocketAddr> {
    addr.to_socket_addrs()
        .with_context(|| format!("'{addr}' is not an address to listen on (expected HOST:PORT)"))?
        .next()
        .with_context(|| format!("'{addr}' names no address"))
}
