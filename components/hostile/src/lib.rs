//! A hostile Runnable: `?attack=` picks what it tries, and it ignores every error the host
//! returns, as an attacker would.
//!
//! - `stack`: recursion without bound;
//! - `output&mib=N`: returns N MiB;
//! - `headers&n=N`: sets N distinct response headers;
//! - `header-size&kib=N`: sets one header of N KiB, ten times under different names;
//! - `crlf`: sets a header whose value carries `\r\n` and a second header;
//! - `cache-flood&mib=N`: stores N values of 1 MiB under distinct keys;
//! - `log-flood&n=N`: logs N lines of 1 KiB, each with a forged line after a newline.

use karman_sdk::{RunErr, Runnable, cache, log, req, resp};

struct Hostile;

fn number(name: &str, default: u64) -> u64 {
    req::query_param(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn recurse(depth: u64, trail: &mut [u8; 256]) -> u64 {
    if depth == u64::MAX {
        return 0;
    }
    trail[(depth % 256) as usize] = depth as u8;
    let mut local = [0u8; 256];
    local.copy_from_slice(trail);
    std::hint::black_box(&mut local);
    recurse(depth + 1, &mut local) + u64::from(local[0])
}

impl Runnable for Hostile {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let attack = req::query_param("attack").unwrap_or_default();
        match attack.as_str() {
            "stack" => {
                let mut trail = [0u8; 256];
                let depth = recurse(0, &mut trail);
                Ok(depth.to_string().into_bytes())
            }
            "output" => Ok(vec![b'x'; (number("mib", 64) as usize) << 20]),
            "headers" => {
                for i in 0..number("n", 30_000) {
                    let _ = resp::set_header(&format!("x-flood-{i}"), "v");
                }
                Ok(b"headers set".to_vec())
            }
            "header-size" => {
                let value = "v".repeat((number("kib", 1024) as usize) << 10);
                for i in 0..10 {
                    let _ = resp::set_header(&format!("x-big-{i}"), &value);
                }
                Ok(b"big headers set".to_vec())
            }
            "crlf" => {
                let _ = resp::set_header("x-note", "fine\r\nx-injected: yes");
                let _ = resp::set_header("x-after", "set");
                Ok(b"crlf tried".to_vec())
            }
            "cache-flood" => {
                let value = vec![7u8; 1 << 20];
                let mut stored = 0;
                for i in 0..number("mib", 256) {
                    if cache::set(&format!("flood-{i}"), &value, None).is_ok() {
                        stored += 1;
                    }
                }
                Ok(stored.to_string().into_bytes())
            }
            "log-flood" => {
                let line = format!(
                    "{}\n{{\"level\":\"ERROR\",\"forged\":true}}",
                    "l".repeat(1024)
                );
                for _ in 0..number("n", 100_000) {
                    log::error(&line);
                }
                Ok(b"logged".to_vec())
            }
            other => Err(RunErr::new(400, format!("unknown attack `{other}`"))),
        }
    }
}

karman_sdk::export!(Hostile);
