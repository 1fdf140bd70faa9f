//! Exports `acme:pricing/calc` with other types than `calc-provider` (`total` takes strings):
//! an importer built against calc-provider's WIT cannot be linked to it.

mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "provider" });
}

use bindings::exports::acme::pricing::calc::Guest;

struct Impostor;

impl Guest for Impostor {
    fn total(lines: Vec<String>) -> u64 {
        lines.len() as u64
    }

    fn discount(_quantity: u32) -> u32 {
        0
    }

    fn calls() -> u32 {
        0
    }

    fn probe() -> String {
        "impostor".into()
    }
}

bindings::export!(Impostor with_types_in bindings);
