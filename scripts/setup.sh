#!/usr/bin/env bash
# Create .venv (if missing) and install chatface-widgets with the given extras (default: all).
# Torch is installed first at a version this machine serves from disk; elsewhere any torch>=2.1 works.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-all}"
python3 -m venv .venv 2>/dev/null || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/pip install -q "${CHATFACE_TORCH_SPEC:-torch==2.14.1}" || .venv/bin/pip install -q "torch>=2.1"
fi
.venv/bin/pip install -q -e ".[${extras}]"
