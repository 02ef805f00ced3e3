# The CI environment as an image: the toolchain, then exactly what .ci/run does.
# (Docker cannot build on the project's own machines; keep this true to .ci/run.)
FROM node:20-bookworm
RUN apt-get update -q \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      g++ make python3 cmake util-linux uidmap strace \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ENV CI=true
# Credential tests need root and CAP_SYS_ADMIN-level privilege: run with --privileged.
CMD ["bash", ".ci/run"]
