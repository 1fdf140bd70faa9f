//! Reports what of the host it can reach, as JSON: environment variables, arguments, files
//! (`/`, `/etc/passwd`, `.`) and a TCP connection to `?port=` on 127.0.0.1.

use karman_sdk::{RunErr, Runnable, req};

struct SandboxProbe;

fn reachable<T, E>(result: Result<T, E>) -> &'static str {
    if result.is_ok() {
        "reachable"
    } else {
        "unreachable"
    }
}

impl Runnable for SandboxProbe {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let env = std::env::vars().count();
        let args = std::env::args().count();
        let root = reachable(std::fs::read_dir("/"));
        let passwd = reachable(std::fs::read("/etc/passwd"));
        let cwd = reachable(std::fs::read_dir("."));
        let port: u16 = req::query_param("port")
            .and_then(|p| p.parse().ok())
            .unwrap_or(80);
        let tcp = reachable(std::net::TcpStream::connect(("127.0.0.1", port)));
        let json = format!(
            "{{\"env\":{env},\"args\":{args},\"root\":\"{root}\",\"passwd\":\"{passwd}\",\"cwd\":\"{cwd}\",\"tcp\":\"{tcp}\"}}"
        );
        Ok(json.into_bytes())
    }
}

karman_sdk::export!(SandboxProbe);
