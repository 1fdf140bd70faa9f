//! Renders the greeting, the visit count and the fortune (named by the step's `with:`) as JSON.

use karman_sdk::{RunErr, Runnable, req, resp};

struct Render;

fn quoted(text: &str) -> String {
    let escaped: String = text
        .chars()
        .flat_map(|c| match c {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            c if (c as u32) < 0x20 => vec![' '],
            c => vec![c],
        })
        .collect();
    format!("\"{escaped}\"")
}

impl Runnable for Render {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let greeting =
            req::state_text("greeting").ok_or_else(|| RunErr::new(500, "no greeting"))?;
        let visits = req::state_text("visits").unwrap_or_else(|| "0".into());
        let fortune = req::state_text("fortune").unwrap_or_default();
        resp::set_header("content-type", "application/json")?;
        let visits: u64 = visits.parse().unwrap_or(0);
        let body = format!(
            "{{\"greeting\":{},\"visits\":{visits},\"fortune\":{}}}\n",
            quoted(&greeting),
            quoted(&fortune)
        );
        Ok(body.into_bytes())
    }
}

karman_sdk::export!(Render);
