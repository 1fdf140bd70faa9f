# Sourced by scripts/build-guests and scripts/serve-example: fails with a clear message when the
# toolchain cannot build wasm32-wasip2 components. rust-toolchain.toml names the target, and
# rustup installs it on first use (unless RUSTUP_AUTO_INSTALL=0); this only checks, and says
# what to run when it is missing.
require_wasm_target() {
  local sysroot
  if ! command -v cargo >/dev/null; then
    echo "error: cargo not found: install Rust with rustup (https://rustup.rs)" >&2
    exit 1
  fi
  sysroot=$(rustc --print sysroot)
  [ -d "$sysroot/lib/rustlib/wasm32-wasip2" ] && return
  if command -v rustup >/dev/null; then
    echo "error: the wasm32-wasip2 target is not installed (rustup adds the targets" \
      "rust-toolchain.toml names on first use, unless RUSTUP_AUTO_INSTALL=0):" \
      "run \`rustup target add wasm32-wasip2\`" >&2
  else
    echo "error: the wasm32-wasip2 target is not installed and rustup is not found: install Rust" \
      "with rustup (https://rustup.rs), which reads rust-toolchain.toml" >&2
  fi
  exit 1
}
