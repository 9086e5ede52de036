# syntax=docker/dockerfile:1.7
# One image with both binaries: the ECS task definition picks the command
# (/usr/local/bin/search-service, or /usr/local/bin/ecs-autoscaler run). It ships no
# policy: the autoscaler reads its policy from S3 (ECS_AUTOSCALER_POLICIES_DIR=s3://...),
# rendered and uploaded by Terraform.
#
# Platform: both stages are pinned to linux/amd64, the platform the task definitions ask
# for (runtime_platform X86_64), so an image built on an ARM laptop still runs on x86
# Fargate (built under emulation there: slow, but correct). For Graviton, build with
# linux/arm64 in both FROM lines and set cpu_architecture = "ARM64" in the two
# task definitions' runtime_platform (terraform/modules/*/main.tf).
#
# Base images are pinned by digest (multi-platform index digests; --platform picks the
# amd64 image out of the index). The digests below are the ones these tags resolved to
# as last checked (rust:1.95-bookworm, distroless cc-debian12:nonroot); to refresh one,
# or to check it before trusting it:
#   docker buildx imagetools inspect rust:1.95-bookworm
#   docker buildx imagetools inspect gcr.io/distroless/cc-debian12:nonroot
# and pass the "Digest:" line as a build argument, or edit it here:
#   docker build --build-arg RUST_IMAGE=rust:1.95-bookworm@sha256:<digest> ...
#
# Dependency caching: BuildKit cache mounts keep cargo's registry and target directory
# between builds, so a code change recompiles only the workspace crates, not every
# dependency. (cargo-chef would do the same with an extra tool and image layer.) The
# release profile strips the binaries (Cargo.toml), which keeps the image small and
# Fargate's pull on every scale-out short.

ARG RUST_IMAGE=rust:1.95-bookworm@sha256:6258907abe69656e41cd992e0b705cdcfabcbbe3db374f92ed2d47121282d4a1
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f

# DL3029: the platform is pinned on purpose (see the top).
# hadolint ignore=DL3029
FROM --platform=linux/amd64 ${RUST_IMAGE} AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock rustfmt.toml ./
COPY src ./src
COPY service ./service
COPY hardened-http ./hardened-http
# Compiled in (the demo's and the simulator's built-in policies); not shipped as files.
COPY policies ./policies
COPY scenarios ./scenarios
COPY benches ./benches
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p ecs-autoscaler -p search-service \
 && mkdir -p /out/bin /out/state \
 && cp target/release/ecs-autoscaler target/release/search-service /out/bin/

# distroless/cc: glibc and CA certificates, no shell, no package manager; runs as
# uid 65532 ("nonroot"). DL3029: the platform is pinned on purpose (see the top).
# hadolint ignore=DL3029
FROM --platform=linux/amd64 ${RUNTIME_IMAGE}
COPY --from=build /out/bin/ /usr/local/bin/
# The autoscaler's state directory for the file state store (one daemon, e.g. `docker
# run`; the Terraform deployment keeps state in DynamoDB), owned by the user it runs as.
# On Fargate a bind mount is root-owned unless the image declares the same path as a
# VOLUME, in which case it copies this directory, owner included, into the volume.
COPY --from=build --chown=65532:65532 /out/state /var/lib/ecs-autoscaler
VOLUME ["/var/lib/ecs-autoscaler"]
USER 65532:65532
# Two malloc arenas instead of eight per core: the daemon's threads mostly wait, and
# with 1,000 policies this keeps its RSS at 62 MB instead of 77 (benches/thousand-services.sh).
ENV MALLOC_ARENA_MAX=2
EXPOSE 8080 9090
# No shell or curl in the image: the binaries probe themselves.
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD ["/usr/local/bin/search-service", "healthcheck", "--url", "http://127.0.0.1:8080/health"]
ENTRYPOINT []
CMD ["/usr/local/bin/search-service"]
