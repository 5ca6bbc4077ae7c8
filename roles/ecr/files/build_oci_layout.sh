#!/bin/sh
# Build an OCI image layout holding the app's files, without a Docker engine or base image
# (the emulator path: no registry to pull python:3.12-slim from). Deterministic: the same
# files give the same digest (fixed creation time, no history entry, caches left out).
#   build_oci_layout.sh <app dir> <layout dir> <tag> <os/arch> <uid:gid>
# It holds no Python: the ecr role allows it only against the emulator. A real build is the
# app's Dockerfile: docker buildx build --output type=oci,dest=...
set -eu
context=$1 layout=$2 tag=$3 platform=$4 user=$5
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT

# Only what the image needs: no bytecode caches, tests or local settings.
tar -C "$context" --exclude=__pycache__ --exclude='*.pyc' --no-wildcards-match-slash --exclude=tests --exclude='.?*' -cf - . \
  | tar -C "$staging" -xf -
# Same timestamps for the same content, wherever the checkout came from.
find "$staging" -exec touch -h -d @0 {} +

rm -rf "$layout"
mkdir -p "$(dirname "$layout")"
umoci init --layout "$layout"
umoci new --image "$layout:$tag"
umoci insert --rootless --no-history --image "$layout:$tag" "$staging" /app
umoci config --no-history --image "$layout:$tag" \
  --created 1970-01-01T00:00:00Z \
  --os "${platform%%/*}" --architecture "${platform#*/}" \
  --config.user "$user" \
  --config.workingdir /app \
  --config.entrypoint /app/docker-entrypoint.sh \
  --config.cmd serve \
  --config.exposedports 8000/tcp \
  --config.label "org.opencontainers.image.version=$tag"
# umoci keeps the blobs of the intermediate images; drop them.
umoci gc --layout "$layout"
