#!/usr/bin/env bash
# Set up .venv with every extra plus test tools, install headless Chromium for the browser test,
# and run the tests in two passes (extra pytest arguments go to both):
#   1. the default suite: tests/ and the notebooks, without the tests marked `slow`;
#   2. the `slow` tests (the full-size 168.5M-parameter fixture parity test, under a minute on 2 cores).
# CHATFACE_SLOW=0 skips pass 2 (a quick local run). The exit status is pass 1's if it failed, else pass 2's.
# Pass 2 selecting nothing (pytest's exit status 5, e.g. when the arguments name one file) counts as success;
# pass 1 selecting nothing does not.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh "all,test"
if [ "${CHATFACE_SKIP_BROWSER:-0}" != "1" ] && [ -f .ci/install_browser.sh ]; then
  bash .ci/install_browser.sh
fi
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"

status=0
.venv/bin/python -m pytest -ra --nbval-lax -m "not slow" tests notebooks "$@" || status=$?
if [ "${CHATFACE_SLOW:-1}" != "0" ]; then
  slow=0
  .venv/bin/python -m pytest -ra -m slow tests "$@" || slow=$?
  if [ "$slow" -eq 5 ]; then
    echo "scripts/test.sh: no slow tests selected"
    slow=0
  fi
  if [ "$status" -eq 0 ]; then
    status=$slow
  fi
fi
exit "$status"
