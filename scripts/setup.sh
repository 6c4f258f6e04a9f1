#!/usr/bin/env bash
# Create .venv (if missing) and install chatface-widgets with the given extras (default: what editing
# needs, widgets,llm,embed,align; "all" adds [train] and [clip]).
# Re-runnable: an existing .venv and its torch are kept; only the package is reinstalled. The extras are
# installed under a constraints file (.venv/chatface-constraints.txt) that pins the torch (and torchvision)
# already in .venv, so no dependency can swap it for another build. [clip] (open_clip) needs torchvision,
# and PyPI has none that imports beside a CPU-only "+cpu" torch: with such a torch and no torchvision,
# [clip] is left out, with one line saying how to add it.
#
# Torch is not pinned by the package (any torch>=2.1). Where it comes from, first match wins:
#   1. a torch>=2.1 already in .venv (a re-run);
#   2. $CHATFACE_TORCH_SPEC: pip arguments, e.g. "torch==2.13.0", a wheel file, or
#      "torch --index-url https://download.pytorch.org/whl/cpu";
#   3. a torch>=2.1 that $CHATFACE_PYTHON (default python3) already imports: .venv is created with
#      --system-site-packages and reuses it (nothing is downloaded);
#   4. no `nvidia-smi` on PATH (a machine without CUDA): a CPU-only build, first a "+cpu" wheel that pip
#      finds in its local wheel folders (find-links, no index), then PyTorch's CPU index
#      ($CHATFACE_TORCH_CPU_INDEX, default https://download.pytorch.org/whl/cpu);
#   5. otherwise, or when those fail: `pip install "torch>=2.1"` from pip's configured index.
# `bash scripts/setup.sh --plan [extras]` prints the source step 2-5 would use and changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

plan_only=0
if [ "${1:-}" = "--plan" ]; then
  plan_only=1
  shift
fi
extras="${1:-widgets,llm,embed,align}"
base_python="${CHATFACE_PYTHON:-python3}"
cpu_index="${CHATFACE_TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}"
venv_python=".venv/bin/python"

# Exit status 0 when the given interpreter imports a torch>=2.1.
has_torch() {
  "$1" - <<'PY' >/dev/null 2>&1
import sys
import torch
major, minor = (int(part) for part in torch.__version__.split("+")[0].split(".")[:2])
sys.exit(0 if (major, minor) >= (2, 1) else 1)
PY
}

# Which source gives torch (steps 2-5 above): spec | system | cpu | default.
torch_source() {
  if [ -n "${CHATFACE_TORCH_SPEC:-}" ]; then
    echo spec
  elif has_torch "$base_python"; then
    echo system
  elif ! command -v nvidia-smi >/dev/null 2>&1; then
    echo cpu
  else
    echo default
  fi
}

# The file of a "+cpu" torch wheel pip would take from its local wheel folders, if there is one.
local_cpu_wheel() {
  "$venv_python" -m pip install --dry-run --quiet --no-index --no-deps --ignore-installed --report - "torch>=2.1" \
    2>/dev/null | "$venv_python" -c '
import json, sys
try:
    report = json.load(sys.stdin)
except ValueError:
    sys.exit(1)
for item in report.get("install", []):
    url = item.get("download_info", {}).get("url", "")
    if item["metadata"]["version"].endswith("+cpu") and url.startswith("file://"):
        print(url)
        sys.exit(0)
sys.exit(1)'
}

if [ "$plan_only" = "1" ]; then
  if [ -x "$venv_python" ] && has_torch "$venv_python"; then echo venv; else torch_source; fi
  exit 0
fi

if [ ! -x "$venv_python" ]; then
  if [ "$(torch_source)" = "system" ]; then
    echo "setup.sh: reusing the torch that $base_python imports (.venv sees the system site-packages)"
    "$base_python" -m venv --system-site-packages .venv
  else
    "$base_python" -m venv .venv
  fi
fi
"$venv_python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true

if ! has_torch "$venv_python"; then
  installed=0
  case "$(torch_source)" in
    spec)
      # shellcheck disable=SC2086  # the spec may carry several pip arguments
      "$venv_python" -m pip install -q $CHATFACE_TORCH_SPEC && installed=1 ;;
    cpu)
      if wheel="$(local_cpu_wheel)"; then
        echo "setup.sh: no CUDA here; installing the CPU-only torch wheel $wheel"
        "$venv_python" -m pip install -q --no-compile "$wheel" && installed=1
      fi
      if [ "$installed" = "0" ]; then
        echo "setup.sh: no CUDA here; installing CPU-only torch and torchvision from $cpu_index"
        "$venv_python" -m pip install -q --no-compile torch torchvision --index-url "$cpu_index" && installed=1
      fi ;;
  esac
  if [ "$installed" = "0" ] && ! has_torch "$venv_python"; then
    "$venv_python" -m pip install -q "torch>=2.1"
  fi
fi

# Pin what .venv has now, so that installing the extras can never replace it.
constraints=".venv/chatface-constraints.txt"
"$venv_python" - "$constraints" <<'PY'
import sys
from importlib import metadata

pins = []
for name in ("torch", "torchvision"):
    try:
        pins.append(f"{name}=={metadata.version(name)}\n")
    except metadata.PackageNotFoundError:
        pass
with open(sys.argv[1], "w") as out:
    out.writelines(pins)
PY

# The extras to install, "all" expanded; [clip] dropped beside a "+cpu" torch with no torchvision.
plan="$("$venv_python" - "$extras" "$cpu_index" <<'PY'
import importlib.util
import re
import sys
from importlib import metadata

table, section = {}, False
for line in open("pyproject.toml"):
    if line.startswith("["):
        section = line.strip() == "[project.optional-dependencies]"
    elif section and (m := re.match(r"([A-Za-z0-9_-]+)\s*=\s*\[(.*)\]", line)):
        table[m.group(1)] = m.group(2)


def expand(name, seen):
    """The extras a name stands for: itself, or the extras its self-reference lists."""
    inner = re.search(r"chatface-widgets\[([^\]]*)\]", table.get(name, ""))
    if inner is None or name in seen:
        return [name]
    return [e for part in inner.group(1).split(",") for e in expand(part.strip(), seen | {name})]


wanted = []
for name in sys.argv[1].split(","):
    for extra in expand(name.strip(), set()):
        if extra and extra not in wanted:
            wanted.append(extra)
torch = metadata.version("torch")
if "clip" in wanted and "+cpu" in torch and importlib.util.find_spec("torchvision") is None:
    wanted.remove("clip")
    base = torch.split("+")[0]
    print(f"setup.sh: left out the [clip] extra (open_clip, for train-mapper and its tests): it needs "
          f"torchvision, and PyPI has none that imports beside this CPU-only torch {torch}; to add it: "
          f".venv/bin/pip install torch=={base} torchvision --index-url {sys.argv[2]} && bash scripts/setup.sh all",
          file=sys.stderr)
print(",".join(wanted))
PY
)"
if [ -n "$plan" ]; then
  target=".[${plan}]"
else
  target="."
fi
# --no-compile: Python compiles what it imports on first use; compiling every module of every extra
# up front would add about 0.35 GB of __pycache__ to .venv.
"$venv_python" -m pip install -q --no-compile -c "$constraints" -e "$target"
