# Sourced by scripts/serve-example and scripts/test: makes sure the machine can build the host.
# Besides Rust, librdkafka (the Kafka client, compiled into karman with TLS) needs a C compiler,
# make, pkg-config and OpenSSL's headers. On Debian/Ubuntu the missing ones are installed with
# apt-get (sudo when not root); elsewhere the message names them.
require_host_build_deps() {
  local missing=()
  command -v cc >/dev/null || missing+=(build-essential)
  command -v make >/dev/null || missing+=(make)
  command -v pkg-config >/dev/null || missing+=(pkg-config)
  pkg-config --exists openssl 2>/dev/null || missing+=(libssl-dev)
  [ ${#missing[@]} -eq 0 ] && return
  if ! command -v apt-get >/dev/null; then
    echo "error: building karman needs a C compiler, make, pkg-config and OpenSSL's headers;" \
      "missing: ${missing[*]} (Debian's package names): install them with your package manager" >&2
    exit 1
  fi
  local as_root=()
  [ "$(id -u)" = 0 ] || as_root=(sudo)
  echo "==> apt-get install ${missing[*]} (to build librdkafka with TLS)"
  if ! { "${as_root[@]}" apt-get update -qq && "${as_root[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
    echo "error: cannot install ${missing[*]} from Debian's packages; building karman needs them" >&2
    exit 1
  fi
}
