//! [`CapFailure`]: how a capability call fails — a `cap-error` for the guest, or a trap — and
//! its conversion back to the guest's `cap-error` (bindgen's `trappable_error_type`).

use wasmtime::component::ResourceTableError;

use crate::bindings::types::CapError;

/// Why a capability call failed: a `cap-error` for the guest, or a trap.
///
/// The host functions of every interface whose functions return `result<_, cap-error>`
/// (`resp`, `cache`, `sql`, `http`) return this, so they use `?` on either kind; the bindings
/// (`trappable_error_type`) turn it back into the guest's `cap-error`, or trap.
#[derive(Debug)]
pub enum CapFailure {
    /// Returned to the guest as its `cap-error`.
    Guest(CapError),
    /// Traps the guest: resource misuse (a handle it does not own) or a host fault.
    Trap(wasmtime::Error),
}

impl From<CapError> for CapFailure {
    fn from(error: CapError) -> Self {
        Self::Guest(error)
    }
}

impl From<ResourceTableError> for CapFailure {
    fn from(error: ResourceTableError) -> Self {
        Self::Trap(error.into())
    }
}

impl From<wasmtime::Error> for CapFailure {
    fn from(error: wasmtime::Error) -> Self {
        Self::Trap(error)
    }
}

/// `types.convert-cap-error` for the data of every interface that returns a `cap-error` (the
/// bindings require it of each): the guest's error, or the trap.
macro_rules! convert_cap_error {
    ($($data:ty),+) => {$(
        impl $crate::bindings::types::Host for $data {
            fn convert_cap_error(
                &mut self,
                failure: $crate::capabilities::CapFailure,
            ) -> wasmtime::Result<$crate::bindings::types::CapError> {
                match failure {
                    $crate::capabilities::CapFailure::Guest(error) => Ok(error),
                    $crate::capabilities::CapFailure::Trap(trap) => Err(trap),
                }
            }
        }
    )+};
}

pub(crate) use convert_cap_error;
