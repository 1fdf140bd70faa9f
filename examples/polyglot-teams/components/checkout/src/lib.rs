//! The checkout team's Runnable (Rust): `POST /checkout` with an order,
//! `{"lines": [{"sku": "tea", "quantity": 3, "unitCents": 450}]}`, answers what it costs, priced
//! by the pricing team's `acme:pricing/calc` — which another component of the app implements
//! (in Python), with its own grants and configuration.
//!
//! The bindings of the team's interface come from the team's WIT package, in its own directory;
//! the Karman capabilities from `karman-sdk`.

use karman_sdk::{RunErr, Runnable, resp};
use serde::{Deserialize, Serialize};

mod pricing {
    wit_bindgen::generate!({ path: "../../wit/acme-pricing", world: "consumer" });
}

use pricing::acme::pricing::calc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Order {
    lines: Vec<OrderLine>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OrderLine {
    sku: String,
    quantity: u32,
    unit_cents: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Priced {
    items: u64,
    subtotal_cents: u64,
    discount_percent: u32,
    total_cents: u64,
    priced_by: &'static str,
}

struct Checkout;

impl Runnable for Checkout {
    fn run(input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let order: Order = serde_json::from_slice(&input)
            .map_err(|e| RunErr::new(400, format!("the order is not valid JSON: {e}")))?;
        let lines: Vec<calc::Line> = order
            .lines
            .into_iter()
            .map(|line| calc::Line {
                sku: line.sku,
                quantity: line.quantity,
                unit_cents: line.unit_cents,
            })
            .collect();
        let quote = calc::price(&lines).map_err(|error| match error {
            calc::PriceError::Empty => RunErr::new(422, "the order has no lines"),
            calc::PriceError::BadQuantity(line) => {
                RunErr::new(422, format!("a quantity is out of range: {line}"))
            }
        })?;
        let priced = Priced {
            items: lines.iter().map(|line| u64::from(line.quantity)).sum(),
            subtotal_cents: quote.subtotal_cents,
            discount_percent: quote.discount_percent,
            total_cents: quote.total_cents,
            priced_by: "acme:pricing/calc",
        };
        resp::set_header("content-type", "application/json")?;
        Ok(serde_json::to_vec(&priced).expect("a Priced serializes"))
    }
}

karman_sdk::export!(Checkout);
