//! Writes one byte into every other 4 KiB page of a zeroed static span, after checking that
//! each of those bytes still holds its initial zero: `clean <pages>` when they all did (the
//! instance's memory was reset), `dirty <pages>` with the count of those that did not.
//!
//! Its writes make [`PAGES`] separate dirty runs of memory, as a JavaScript or Python engine's
//! heap does: more than the host's reset finds in one scan of the memory.

use karman_sdk::{RunErr, Runnable};

/// The pages written, every other one of the span.
const PAGES: usize = 300;
const PAGE: usize = 4096;

/// Zeroed at instantiation (it lies in the module's initial memory).
static mut SPAN: [u8; 2 * PAGES * PAGE] = [0; 2 * PAGES * PAGE];

struct PageScatter;

impl Runnable for PageScatter {
    fn run(_input: Vec<u8>) -> Result<Vec<u8>, RunErr> {
        let span = &raw mut SPAN;
        let mut dirty = 0;
        for page in 0..PAGES {
            // SAFETY: one thread; the offset lies inside the span.
            unsafe {
                let byte = span.cast::<u8>().add(2 * page * PAGE);
                if byte.read_volatile() != 0 {
                    dirty += 1;
                }
                byte.write_volatile(1);
            }
        }
        Ok(match dirty {
            0 => format!("clean {PAGES}"),
            _ => format!("dirty {dirty}"),
        }
        .into_bytes())
    }
}

karman_sdk::export!(PageScatter);
