# Sourced by scripts/build-guests and scripts/serve-example: fails with a clear message when the
# toolchain cannot build wasm32-wasip2 components. rust-toolchain.toml names the target, and
# rustup installs it on first use; this only checks, and says what to run when it is missing.
require_wasm_target() {
  local sysroot
  if ! command -v cargo >/dev/null; then
    echo "error: cargo not found: install Rust with rustup (https://rustup.rs)" >&2
    exit 1
  fi
  sysroot=$(rustc --print sysroot)
  [ -d "$sysroot/lib/rustlib/wasm32-wasip2" ] && return
  if command -v rustup >/dev/null; then
    echo "error: the wasm32-wasip2 target is not installed: run \`rustup show\` in the repository" \
      "(it installs what rust-toolchain.toml names) or \`rustup target add wasm32-wasip2\`" >&2
  else
    echo "error: the wasm32-wasip2 target is not installed and rustup is not found: install Rust" \
      "with rustup (https://rustup.rs), which reads rust-toolchain.toml" >&2
  fi
  exit 1
}
