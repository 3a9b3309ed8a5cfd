# syntax=docker/dockerfile:1.10
#
# The ooloi-server image: a release build in the official Rust image, then only the binary on
# distroless (glibc, libgcc and CA certificates; no shell, no package manager), as a numeric
# non-root user, with one writable place: /data.
#
#   docker build -t ooloi-server .
#   docker run --read-only -v ooloi-data:/data -p 127.0.0.1:10700:10700 -p 127.0.0.1:10701:10701 \
#     -e OOLOI__AUTH__MODE=jwt -e OOLOI__AUTH__HS256_SECRET_FILE=/run/secrets/jwt \
#     -e OOLOI__AUTH__ISSUER=... -e OOLOI__AUTH__AUDIENCE=... ooloi-server
#
# The image listens on 0.0.0.0 but leaves auth at its default, `none`, and the server refuses to
# listen on a non-loopback address without authentication: the operator either configures JWT
# (OOLOI__AUTH__MODE=jwt and its keys) or, on a network they trust, says so explicitly with
# OOLOI__AUTH__ALLOW_INSECURE_NETWORK=true. The image carries no secret and no such default.
#
# Read-only root filesystem: the server writes nothing outside its data directory (the SQLite
# store, when no PostgreSQL URL is given); logs go to stdout; it needs no /tmp (SQLite's
# occasional temporary files, for a large sort, go to /data too: SQLITE_TMPDIR). So the container
# runs with `--read-only` (Compose `read_only: true`, Kubernetes `readOnlyRootFilesystem`) and
# only /data mounted writable.

# ---- build ------------------------------------------------------------------------------------
FROM rust:1.95.0-slim-bookworm AS build

# make: tikv-jemalloc-sys builds jemalloc with its configure script and make (the slim image has
# gcc and libc6-dev for the bundled SQLite and jemalloc, but not make); pinned to bookworm's
# version. No protoc is needed: build.rs compiles proto/ with protox (pure Rust).
RUN apt-get update \
    && apt-get install -y --no-install-recommends make=4.3-4.1 \
    && rm -rf /var/lib/apt/lists/*

# Debug info is left out of the image's binary (the repository's release profile keeps it for
# profiling); function names stay in backtraces.
ENV CARGO_PROFILE_RELEASE_DEBUG=0 \
    CARGO_PROFILE_RELEASE_STRIP=debuginfo

WORKDIR /src

# Dependencies first, in a layer of their own that changes only with the manifest, the lock file,
# build.rs or proto/: the real manifest and build script over placeholder sources (the library,
# both binaries and one stub for each [[bench]] the manifest declares, since cargo refuses a
# manifest whose declared targets are missing).
COPY Cargo.toml Cargo.lock build.rs ./
COPY proto ./proto
RUN mkdir -p src/bin/ooloi benches \
    && echo 'fn main() {}' > src/bin/ooloi-server.rs \
    && echo 'fn main() {}' > src/bin/ooloi/main.rs \
    && : > src/lib.rs \
    && awk '/^\[\[bench\]\]/ { bench = 1; next } \
            /^\[/ { bench = 0 } \
            bench && /^name[ \t]*=/ { gsub(/^name[ \t]*=[ \t]*"|"[ \t]*$/, ""); \
                                      print "fn main() {}" > ("benches/" $0 ".rs"); bench = 0 }' \
           Cargo.toml
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    cargo build --release --locked --bin ooloi-server

# The sources. COPY keeps the build context's modification times, which may be older than the
# placeholders': touching them makes cargo rebuild the crate itself (and only it).
COPY src ./src
COPY migrations ./migrations
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    find src -name '*.rs' -exec touch {} + \
    && cargo build --release --locked --bin ooloi-server \
    && install -D -m 0755 target/release/ooloi-server /out/bin/ooloi-server \
    && install -d -m 0750 -o 10001 -g 10001 /out/rootfs/data

# ---- runtime ----------------------------------------------------------------------------------
FROM gcr.io/distroless/cc-debian12:nonroot

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="ooloi-server" \
      org.opencontainers.image.description="Collaborative music-notation server: scores in a software transactional memory, edited and watched over gRPC" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MPL-2.0" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"

# The binary belongs to root and is read-only to the server; /data (made in the build stage, as
# distroless has no shell to run mkdir; copied as an entry of a tree so that it keeps its mode
# and takes the owner) belongs to the server's user, and a new volume mounted there inherits both.
COPY --from=build /out/bin/ooloi-server /usr/local/bin/ooloi-server
COPY --from=build --chown=10001:10001 /out/rootfs/ /

ENV OOLOI__GRPC__LISTEN=0.0.0.0:10700 \
    OOLOI__HTTP__LISTEN=0.0.0.0:10701 \
    OOLOI__STORE__DATA_DIR=/data \
    OOLOI__LOG__FORMAT=json \
    SQLITE_TMPDIR=/data

VOLUME ["/data"]
WORKDIR /data
USER 10001:10001

# gRPC, then the HTTP sidecar (/metrics, /livez, /readyz).
EXPOSE 10700 10701

# The image has no shell or curl: the server probes its own sidecar (/livez; exit 0 on 200).
# Readiness (`health --ready`, /readyz) is for orchestrators that route traffic.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/ooloi-server", "health"]

# SIGTERM drains gRPC and flushes the store (~30 s), then trace spans (~5 s): `docker stop -t 45`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/ooloi-server"]
