#!/usr/bin/env bash
# Install Debian's chromium for the Playwright browser test (tests/browser/) unless it is already there.
# Idempotent; uses sudo when not root. Playwright drives it through executable_path, so
# `playwright install` (which downloads its own browsers) is not needed.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  echo "chromium already installed: $(command -v chromium)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
command -v chromium
chromium --version || true
