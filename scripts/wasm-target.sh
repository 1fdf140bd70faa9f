# Sourced by scripts/build-guests and scripts/serve-example: makes sure the toolchain can build
# wasm32-wasip2 components. rust-toolchain.toml names the target, and
# rustup installs it on first use (unless RUSTUP_AUTO_INSTALL=0, when this adds it); a machine
# without rustup gets a clear message.
require_wasm_target() {
  local sysroot
  if ! command -v cargo >/dev/null; then
    echo "error: cargo not found: install Rust with rustup (https://rustup.rs)" >&2
    exit 1
  fi
  sysroot=$(rustc --print sysroot)
  [ -d "$sysroot/lib/rustlib/wasm32-wasip2" ] && return
  if command -v rustup >/dev/null; then
    # rustup adds the targets rust-toolchain.toml names on first use, unless
    # RUSTUP_AUTO_INSTALL=0: then add it here.
    echo "==> rustup target add wasm32-wasip2"
    rustup target add wasm32-wasip2 && return
    echo "error: the wasm32-wasip2 target is not installed and \`rustup target add wasm32-wasip2\` failed" >&2
  else
    echo "error: the wasm32-wasip2 target is not installed and rustup is not found: install Rust" \
      "with rustup (https://rustup.rs), which reads rust-toolchain.toml" >&2
  fi
  exit 1
}
