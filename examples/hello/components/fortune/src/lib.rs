//! A fortune for `:name` (the same name always gets the same one).

use karman_sdk::{RunErr, Runnable, req};

const FORTUNES: &[&str] = &[
    "A sandboxed function is a happy function.",
    "Your capabilities are exactly what you were granted.",
    "Fresh instances bring fresh starts.",
    "The shortest path to production is a small component.",
];

struct Fortune;

impl Runnable for Fortune {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let name = req::url_param("name").unwrap_or_default();
        let index = name.bytes().map(usize::from).sum::<usize>() % FORTUNES.len();
        Ok(FORTUNES[index].as_bytes().to_vec())
    }
}

karman_sdk::export!(Fortune);
