//! The host-wide budget of guest memory (`--max-guest-memory`): the linear memories of every
//! live instance (running, or warm in a `reuse:` pool) add up to at most this many bytes.
//!
//! `limits.memory` bounds one instance; this bounds them all at once. Without it, the memory
//! the host may hold is the sum of the limits of every instance that can exist at once
//! (`--max-instances` × `limits.memory`: 32 GiB with the defaults), far beyond a machine's RAM.
//! A step whose memory would take the total past the budget fails with 503 and `Retry-After`
//! (the host is full, not the guest at fault), and the memory of an ended instance returns to
//! the budget when its store is dropped.
//!
//! Everything the host copies out of a guest (a step's output, a cache value, a log line) is
//! at most that guest's memory, so the budget bounds those copies too.
//!
//! ```
//! use karman_runtime::MemoryBudget;
//!
//! let budget = MemoryBudget::new(64 << 20);
//! let mut first = budget.reservation();
//! assert!(first.grow(40 << 20).is_ok());
//! let mut second = budget.reservation();
//! assert!(second.grow(40 << 20).is_err()); // 80 MiB would exceed the 64 MiB budget
//! drop(first); // an instance ends: its memory returns to the budget
//! assert!(second.grow(40 << 20).is_ok());
//! assert_eq!(budget.in_use(), 40 << 20);
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes of guest memory the live instances may hold together.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    in_use: AtomicUsize,
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(Self {
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            in_use: AtomicUsize::new(0),
        })
    }

    /// The budget, in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes the live instances hold now.
    pub fn in_use(&self) -> usize {
        self.in_use.load(Ordering::Acquire)
    }

    /// A new, empty reservation for one instance's memories.
    pub fn reservation(self: &Arc<Self>) -> Reservation {
        Reservation {
            budget: self.clone(),
            held: 0,
        }
    }

    fn take(&self, bytes: usize) -> bool {
        // A compare-and-swap loop (`fetch_update`, renamed `try_update` in later Rust, would
        // name the same thing on one toolchain only).
        let mut in_use = self.in_use.load(Ordering::Acquire);
        loop {
            let Some(total) = in_use.checked_add(bytes).filter(|&t| t <= self.limit) else {
                return false;
            };
            match self.in_use.compare_exchange_weak(
                in_use,
                total,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(now) => in_use = now,
            }
        }
    }
}

/// The part of the budget one instance holds; it goes back to the budget when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<MemoryBudget>,
    held: usize,
}

/// A memory could not grow: the live instances already hold the whole budget.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the guest memory budget of {budget} bytes is in use (--max-guest-memory); \
     {wanted} more bytes were refused"
)]
pub struct MemoryBudgetExhausted {
    /// The budget, in bytes.
    pub budget: usize,
    /// The bytes the memory asked for.
    pub wanted: usize,
}

impl Reservation {
    /// Takes `bytes` more from the budget, or refuses when that would exceed it.
    pub fn grow(&mut self, bytes: usize) -> Result<(), MemoryBudgetExhausted> {
        if !self.budget.take(bytes) {
            return Err(MemoryBudgetExhausted {
                budget: self.budget.limit,
                wanted: bytes,
            });
        }
        self.held += bytes;
        Ok(())
    }

    /// Bytes this reservation holds.
    pub fn held(&self) -> usize {
        self.held
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.in_use.fetch_sub(self.held, Ordering::AcqRel);
    }
}

/// The default budget: half the memory this process may use (its cgroup's `memory.max`, else
/// the machine's RAM), or 4 GiB where neither can be read.
pub fn default_guest_memory_budget() -> u64 {
    available_memory().map_or(4 << 30, |bytes| bytes / 2)
}

fn available_memory() -> Option<u64> {
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok());
    let ram = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|line| line.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024)
        });
    match (cgroup, ram) {
        (Some(cgroup), Some(ram)) => Some(cgroup.min(ram)),
        (cgroup, ram) => cgroup.or(ram),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_share_the_budget_and_return_it_when_dropped() {
        let budget = MemoryBudget::new(100);
        let mut a = budget.reservation();
        let mut b = budget.reservation();
        a.grow(60).unwrap();
        assert_eq!(
            b.grow(41),
            Err(MemoryBudgetExhausted {
                budget: 100,
                wanted: 41
            })
        );
        b.grow(40).unwrap();
        assert_eq!((budget.in_use(), a.held(), b.held()), (100, 60, 40));
        drop(a);
        assert_eq!(budget.in_use(), 40);
        b.grow(60).unwrap();
        drop(b);
        assert_eq!(budget.in_use(), 0);
    }

    #[test]
    fn concurrent_growth_never_exceeds_the_budget() {
        let budget = MemoryBudget::new(1000);
        let reservations: Vec<Reservation> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        let mut reservation = budget.reservation();
                        for _ in 0..100 {
                            let _ = reservation.grow(7);
                        }
                        reservation
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let granted: usize = reservations.iter().map(Reservation::held).sum();
        assert_eq!(budget.in_use(), granted);
        assert!(granted <= 1000 && granted > 1000 - 7, "granted {granted}");
        drop(reservations);
        assert_eq!(budget.in_use(), 0);
    }

    #[test]
    fn the_default_is_half_the_memory_this_process_may_use() {
        let available = available_memory().expect("/proc/meminfo is readable on Linux");
        assert_eq!(default_guest_memory_budget(), available / 2);
        assert!(available > 64 << 20);
    }
}
