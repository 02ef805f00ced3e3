# The CI environment as an image: the packages .ci/run installs (so that it finds them all and
# needs no network at run time), then exactly what .ci/run does.
# (Docker cannot build on the project's own machines; keep this true to .ci/run.)
FROM node:20-bookworm
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      g++ make python3 cmake util-linux uidmap strace runc bubblewrap libcap2-bin systemd zsh \
      g++-aarch64-linux-gnu graphviz busybox-static golang-github-opencontainers-specs-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ENV CI=true
# Credential tests need root and CAP_SYS_ADMIN-level privilege: run with --privileged.
CMD ["bash", ".ci/run"]
