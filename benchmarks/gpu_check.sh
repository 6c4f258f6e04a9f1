#!/usr/bin/env bash
# GPU correctness check + latency benchmarks (ffhq256, T = 8): one JSON line per run in $OUT/gpu_bench.jsonl.
#
#   OUT=/some/dir bash benchmarks/gpu_check.sh      # from the repository root or anywhere; ~5 minutes
#
# Each run times the fast path against the plain float32 path (TF32 off) on the same random weights
# and inputs; max_abs_diff is on the final image in [-1, 1] (render) or on x_T (open). Runs are
# ordered by importance, each under its own timeout, and skipped once BUDGET_S (default 290 s) is spent.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results}
BUDGET_S=${BUDGET_S:-290}
mkdir -p "$OUT"
LOG="$OUT/gpu_bench.jsonl"
START=$(date +%s)

pick_python() {  # the carried venv first, then an offline install from carried wheels
    for py in .venv/bin/python python3; do
        if "$py" -c "import torch, chatface_widgets; assert torch.cuda.is_available()" 2>/dev/null; then
            echo "$py"; return 0
        fi
    done
    if [ -d wheels ] || [ -d shared/wheels ]; then
        python3 -m venv /tmp/cf-venv && /tmp/cf-venv/bin/pip install -q --no-index \
            --find-links wheels --find-links shared/wheels -e . >&2 && echo /tmp/cf-venv/bin/python && return 0
    fi
    return 1
}
PY=$(pick_python) || { echo '{"error": "no python with torch+CUDA and chatface_widgets"}' | tee -a "$LOG"; exit 1; }
"$PY" - <<'PYEOF' | tee -a "$LOG"
import json, torch
p = torch.cuda.get_device_properties(0)
print(json.dumps({"bench": "env", "gpu": p.name, "mem_gb": round(p.total_memory / 2**30, 1),
                  "torch": torch.__version__, "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version()}))
PYEOF

run() {  # run TIMEOUT_S ARGS...: one benchmark line, or an error line naming the arguments
    local limit=$1; shift
    local left=$(( BUDGET_S - ($(date +%s) - START) ))
    if [ "$left" -lt 20 ]; then
        echo "{\"skipped\": \"$*\", \"reason\": \"budget\"}" | tee -a "$LOG"; return
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    local line
    line=$(timeout "$limit" "$PY" -m chatface_widgets.bench "$@" --device cuda --json 2>"$OUT/last_err.txt" | tail -1)
    if [ -n "$line" ]; then
        echo "$line" | tee -a "$LOG"
    else
        local why; why=$(tail -3 "$OUT/last_err.txt" | tr '"\n\\' "'  ")
        echo "{\"error\": \"$*\", \"timeout_s\": $limit, \"stderr\": \"$why\"}" | tee -a "$LOG"
    fi
}

# 1. The goals: auto mode (fp16 autocast + channels-last + CUDA graphs), correctness against float32.
run 60 render --arch ffhq256 --steps 8 --batch 1 --repeat 20 --baseline
run 60 render --arch ffhq256 --steps 8 --batch 8 --repeat 10 --baseline
run 45 open --arch ffhq256 --steps 8 --repeat 20 --baseline
# 2. One option at a time (same card): what each contributes and what it costs in accuracy.
run 40 render --arch ffhq256 --steps 8 --batch 1 --repeat 10 --baseline --mode off --opt channels_last=1 --opt cuda_graph=1
run 40 render --arch ffhq256 --steps 8 --batch 1 --repeat 10 --baseline --mode off --opt channels_last=1 --opt cuda_graph=1 --opt tf32=1
run 40 render --arch ffhq256 --steps 8 --batch 1 --repeat 10 --baseline --opt autocast=bf16
run 40 render --arch ffhq256 --steps 8 --batch 1 --repeat 10 --baseline --opt reduced_max_t=500
run 40 render --arch ffhq256 --steps 8 --batch 1 --repeat 10 --baseline --opt cuda_graph=0
# 3. Compiled (inductor; compile time is in ms_first), last because compiling can take minutes.
run 150 render --arch ffhq256 --steps 8 --batch 1 --repeat 10 --baseline --mode gpu-fast --opt compile=reduce-overhead
echo "elapsed $(( $(date +%s) - START )) s; results in $LOG" >&2
