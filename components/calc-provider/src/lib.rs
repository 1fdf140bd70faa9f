//! Exports `acme:pricing/calc` (`wit/pricing.wit`): a library component other components
//! import. It runs with its own grants: `probe` reports its cache (through `wasi:keyvalue`)
//! and its configuration (`wasi:config`, `discount-percent`).
//!
//! `discount(quantity)` is `discount-percent` from 2 items on, else 0, and traps for 13;
//! `total` sums the lines and takes off the discount for their quantity; `calls` counts the
//! calls this instance has served.

use std::sync::atomic::{AtomicU32, Ordering};

mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "provider" });
}
mod keyvalue {
    wit_bindgen::generate!({ path: "../../wit", world: "wasi:keyvalue/imports" });
}
mod config {
    wit_bindgen::generate!({ path: "../../wit", world: "wasi:config/imports" });
}

use bindings::exports::acme::pricing::calc::{Guest, Line};

static CALLS: AtomicU32 = AtomicU32::new(0);

struct Provider;

fn count() {
    CALLS.fetch_add(1, Ordering::Relaxed);
}

fn discount_percent() -> u32 {
    config::wasi::config::store::get("discount-percent")
        .ok()
        .flatten()
        .and_then(|text| text.parse().ok())
        .unwrap_or(0)
}

fn discount_for(quantity: u32) -> u32 {
    assert_ne!(quantity, 13, "unlucky quantity");
    if quantity >= 2 { discount_percent() } else { 0 }
}

impl Guest for Provider {
    fn total(lines: Vec<Line>) -> u64 {
        count();
        let quantity: u32 = lines.iter().map(|line| line.quantity).sum();
        let gross: u64 = lines
            .iter()
            .map(|line| u64::from(line.quantity) * line.unit_cents)
            .sum();
        gross * u64::from(100 - discount_for(quantity).min(100)) / 100
    }

    fn discount(quantity: u32) -> u32 {
        count();
        discount_for(quantity)
    }

    fn calls() -> u32 {
        count();
        CALLS.load(Ordering::Relaxed)
    }

    fn probe() -> String {
        count();
        use keyvalue::wasi::keyvalue::store;
        let cache = match store::open("") {
            Ok(bucket) => match bucket
                .set("probe", b"seen")
                .and_then(|()| bucket.get("probe"))
            {
                Ok(Some(value)) if value == b"seen" => "ok".to_string(),
                Ok(_) => "lost".to_string(),
                Err(error) => format!("{error:?}"),
            },
            Err(store::Error::AccessDenied) => "denied".to_string(),
            Err(error) => format!("{error:?}"),
        };
        format!("cache {cache}, discount-percent {}", discount_percent())
    }
}

bindings::export!(Provider with_types_in bindings);
