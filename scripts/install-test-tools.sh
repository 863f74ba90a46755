#!/usr/bin/env bash
# Installs what the browser test of the dashboard drives, when it is missing:
# Debian's chromium at /usr/bin/chromium (playwright-core, an npm
# devDependency, starts it; no browser is downloaded from anywhere but
# Debian's archive). Needs root (or sudo) and apt-get; elsewhere it says what
# to install and exits 0, and the browser test then skips with a message
# unless WEFT_TEST_BROWSER=required.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if ! command -v apt-get >/dev/null; then
  echo "install-test-tools: /usr/bin/chromium is missing; install chromium with your package manager" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "install-test-tools: /usr/bin/chromium is missing; not root and no sudo, skipping" >&2
    exit 0
  fi
fi
echo "install-test-tools: installing chromium" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
