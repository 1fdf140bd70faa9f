//! A Runnable that imports `acme:pricing/calc` (calc-provider's WIT) from another component:
//!
//! | query | answer |
//! |-------|--------|
//! | `?op=total&lines=sku:quantity:cents,…` | the total in cents |
//! | `?op=discount&quantity=N` | the discount in percent (the exporter traps for 13) |
//! | `?op=calls&n=N` | the exporter's `calls()` N times, comma-separated |
//! | `?op=probe` | `provider: <what the exporter reaches>; consumer: cache <ok or denied>` |

use karman_sdk::{RunErr, Runnable, cache, req};

mod bindings {
    wit_bindgen::generate!({ path: "../calc-provider/wit", world: "consumer" });
}

use bindings::acme::pricing::calc;

struct CalcUser;

fn number(name: &str) -> Result<u32, RunErr> {
    req::query_param(name)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| RunErr::new(400, format!("missing ?{name}=")))
}

impl Runnable for CalcUser {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let answer = match req::query_param("op").as_deref() {
            Some("total") => {
                let lines = req::query_param("lines").unwrap_or_default();
                let lines: Vec<calc::Line> = lines
                    .split(',')
                    .filter(|line| !line.is_empty())
                    .map(|line| {
                        let parts: Vec<&str> = line.split(':').collect();
                        calc::Line {
                            sku: parts[0].to_string(),
                            quantity: parts.get(1).and_then(|q| q.parse().ok()).unwrap_or(1),
                            unit_cents: parts.get(2).and_then(|c| c.parse().ok()).unwrap_or(0),
                        }
                    })
                    .collect();
                calc::total(&lines).to_string()
            }
            Some("discount") => calc::discount(number("quantity")?).to_string(),
            Some("calls") => (0..number("n")?)
                .map(|_| calc::calls().to_string())
                .collect::<Vec<_>>()
                .join(","),
            Some("probe") => {
                let own = match cache::get("probe") {
                    Ok(_) => "ok",
                    Err(_) => "denied",
                };
                format!("provider: {}; consumer: cache {own}", calc::probe())
            }
            _ => {
                return Err(RunErr::new(
                    400,
                    "?op= must be total, discount, calls or probe",
                ));
            }
        };
        Ok(answer.into_bytes())
    }
}

karman_sdk::export!(CalcUser);
