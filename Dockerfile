# The karman server image (docs/deploy.md): a build stage that compiles the binary, and a
# distroless runtime stage with the binary, glibc, OpenSSL and the C runtime libraries, CA
# certificates and time zone data, and nothing else (no shell, no package manager), run as
# user 65532.
#
#   docker build -t karman:0.1.0 .
#
# Nothing here installs packages: the build stage's image has the compilers the build needs.

FROM rust:1.95-bookworm AS build
# rust-toolchain.toml names the floating `stable` channel (with the wasm32 targets that only
# guests need); rustup would download whatever is stable on the day of the build. Using the
# image's own toolchain keeps the compiler pinned by the tag above.
ENV RUSTUP_TOOLCHAIN=${RUST_VERSION}
# librdkafka (Kafka streams) links zlib and OpenSSL (for Kafka over TLS and SASL SCRAM). The
# runtime image has no zlib, so it is linked in; it has OpenSSL's libssl3, so that is linked
# dynamically (the build image has libssl-dev and pkg-config).
ENV LIBZ_SYS_STATIC=1
# An empty directory, copied below as the cache directory owned by the runtime user.
RUN mkdir -p /out/cache
WORKDIR /src
COPY . .
# The release build, as docs/deploy.md gives it (scripts/check-deploy holds the two equal).
RUN cargo build --release --locked -p karman

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/karman /usr/local/bin/karman
# The compiled-code cache: writable by the runtime user; mount a volume here when the root
# filesystem is read-only (Docker fills a new named volume with this directory's owner).
COPY --from=build --chown=65532:65532 /out/cache /var/cache/karman
ENV KARMAN_CACHE_DIR=/var/cache/karman
# DL3066 (a user name, not a number): `nonroot` is the distroless image's user 65532, and the
# Kubernetes manifests set runAsUser: 65532 so that runAsNonRoot can be checked.
# hadolint ignore=DL3066
USER nonroot
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/karman"]
CMD ["serve", "/app/Directive.yaml", "--listen", "0.0.0.0:8080", "--admin-listen", "0.0.0.0:9090"]
