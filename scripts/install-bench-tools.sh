#!/usr/bin/env bash
# Installs the Debian packages the benchmarks measure against or drive load
# with, when they are missing: wrk (load), nginx-light and haproxy (peers),
# nghttp2-client (h2load, for gRPC/HTTP/2 runs). Nothing is downloaded from
# anywhere but Debian's archive. Needs root (or sudo) and apt-get; on other
# systems it says what to install and exits 0 (the benchmark then skips the
# missing peers and says so).
set -euo pipefail
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v h2load >/dev/null || need+=(nghttp2-client)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if ! command -v apt-get >/dev/null; then
  echo "install-bench-tools: missing ${need[*]}; install them with your package manager" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "install-bench-tools: missing ${need[*]}; not root and no sudo, skipping" >&2
    exit 0
  fi
fi
echo "install-bench-tools: installing ${need[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
