#!/usr/bin/env bash
# Set up .venv with every extra plus test tools, install headless Chromium for the browser test,
# and run the whole test suite (extra pytest arguments are passed through).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "all,test"
if [ "${CHATFACE_SKIP_BROWSER:-0}" != "1" ] && [ -f .ci/install_browser.sh ]; then
  bash .ci/install_browser.sh
fi
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
exec .venv/bin/python -m pytest -ra --nbval-lax tests notebooks "$@"
