# syntax=docker/dockerfile:1
# gaia-validator production image.
#   docker build -t gaia-validator:$(git describe --tags --always) .
# Stages: chef (Rust + cargo-chef) -> planner (dependency recipe) -> builder (dependencies cooked in
# their own layer, then our crates) -> runtime (debian slim, non-root, the binary + CA certificates).
# Settings are environment variables (.env.example lists them all); docs/operations.md explains
# deployment, upgrades and rollback.
# Only the production binary is built: the developer binary `gaia-dev` (crates/dev: demo, simulated
# miners, benchmarks, diagnostic jobs) is not in the image; scripts/check-lean-binary checks that
# `gaia-validator` links none of it.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# ---- chef: the Rust toolchain plus cargo-chef ---------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS chef
ARG CARGO_CHEF_VERSION=0.1.76
RUN cargo install cargo-chef --locked --version "${CARGO_CHEF_VERSION}"
WORKDIR /src

# ---- planner: the recipe changes only when a manifest or Cargo.lock changes ---------------------
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# ---- builder: dependencies first (cached layer), then the workspace -----------------------------
FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json -p gaia-validator --bin gaia-validator
COPY . .
RUN cargo build --release --locked -p gaia-validator --bin gaia-validator \
 && install -D -m 0755 target/release/gaia-validator /out/gaia-validator

# ---- runtime -------------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
ARG GAIA_UID=10001
# ca-certificates follows the base image's security updates; pinning it would freeze them.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid "${GAIA_UID}" gaia \
 && useradd --system --uid "${GAIA_UID}" --gid gaia --home-dir /data --shell /usr/sbin/nologin gaia \
 && install -d -o gaia -g gaia -m 0750 /data
COPY --from=builder /out/gaia-validator /usr/local/bin/gaia-validator

# Container defaults; everything else comes from the environment (env_file in docker-compose.yml).
# METRICS_ADDR must listen on all interfaces inside the container for Prometheus to reach it;
# publish the port only where it should be reachable.
ENV METRICS_ADDR=0.0.0.0:9090 \
    DATA_DIR=/data \
    SHM_DIR=/dev/shm \
    LOG_LEVEL=info
USER ${GAIA_UID}:${GAIA_UID}
WORKDIR /data
VOLUME ["/data"]
EXPOSE 9090
# The supervisor drains on SIGTERM within SHUTDOWN_GRACE_S (default 30 s): give `docker stop` more
# (docker-compose.yml sets stop_grace_period: 45s).
STOPSIGNAL SIGTERM
# /health of the IO-Engine, with bash's /dev/tcp (no curl in the image). Answers 200 while the
# IO-Engine serves and its database answers (503 while draining or when the database does not
# answer); the port is taken from METRICS_ADDR.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${METRICS_ADDR##*:} && printf 'GET /health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
# The binary is the entry point and `run` (the supervisor) the default command; any other command
# is the container's command: `docker run --rm IMAGE check-config` (or `migrate --status`,
# `version`, `docker compose run --rm validator migrate`).
ENTRYPOINT ["/usr/local/bin/gaia-validator"]
CMD ["run"]
