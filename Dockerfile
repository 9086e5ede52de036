# syntax=docker/dockerfile:1.7
# One image with both binaries: the ECS task definition picks the command
# (/usr/local/bin/search-service, or /usr/local/bin/ecs-autoscaler run).
#
# Dependency caching: BuildKit cache mounts keep cargo's registry and target directory
# between builds, so a code change recompiles only the workspace crates, not every
# dependency. (cargo-chef would do the same with an extra tool and image layer.)

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY src ./src
COPY service ./service
COPY policies ./policies
COPY scenarios ./scenarios
COPY benches ./benches
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p ecs-autoscaler -p search-service \
 && mkdir -p /out \
 && cp target/release/ecs-autoscaler target/release/search-service /out/

# distroless/cc: glibc and CA certificates, no shell, no package manager; runs as
# uid 65532 ("nonroot").
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ecs-autoscaler /out/search-service /usr/local/bin/
COPY --chown=65532:65532 policies /etc/ecs-autoscaler/policies
USER 65532:65532
EXPOSE 8080 9090
# No shell or curl in the image: the binaries probe themselves.
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD ["/usr/local/bin/search-service", "healthcheck", "--url", "http://127.0.0.1:8080/health"]
ENTRYPOINT []
CMD ["/usr/local/bin/search-service"]
