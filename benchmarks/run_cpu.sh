#!/usr/bin/env bash
# All CPU latency benchmarks; appends JSON lines to benchmarks/results/cpu-<date>.jsonl.
#
#   bash benchmarks/run_cpu.sh                 # every core the process may use (torch's default threads)
#   CORES=1 bash benchmarks/run_cpu.sh         # pinned to core 1, one thread (how BENCHMARKS.md's 1-core rows ran)
#   FULL=1 bash benchmarks/run_cpu.sh          # also the slow rows: ffhq128 strip (batch 4) and ffhq256
#
# Each line compares the fast path with the plain float32 path in the same process (--baseline).
set -eu
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT_FILE=${OUT_FILE:-benchmarks/results/cpu-$(date +%Y-%m-%d).jsonl}
mkdir -p "$(dirname "$OUT_FILE")"
PREFIX=()
if [ -n "${CORES:-}" ]; then
    n=$(echo "$CORES" | tr ',' '\n' | wc -l)
    PREFIX=(taskset -c "$CORES" env OMP_NUM_THREADS="$n")
fi

bench() {
    echo "+ bench $*" >&2
    "${PREFIX[@]}" "$PY" -m chatface_widgets.bench "$@" --json | tee -a "$OUT_FILE"
}

# Built-in model (toy, 48 px): slider release → final image, and opening a photo.
bench render --arch toy --steps 8 --repeat 5 --baseline
bench render --arch toy --steps 20 --repeat 3 --baseline
bench render --arch toy --steps 8 --batch 5 --repeat 3 --baseline
bench open --arch toy --steps 8 --repeat 5 --baseline
# ffhq128 at T = 8, batch 1: auto against float32, then the options one by one.
bench render --arch ffhq128 --steps 8 --repeat 2 --baseline
bench render --arch ffhq128 --steps 8 --repeat 2 --baseline --mode off --opt channels_last=1
bench render --arch ffhq128 --steps 8 --repeat 2 --baseline --mode cpu-fast
bench render --arch ffhq128 --steps 8 --repeat 2 --baseline --mode off --opt channels_last=1 --opt autocast=bf16
bench open --arch ffhq128 --steps 8 --repeat 2 --baseline
if [ -n "${FULL:-}" ]; then
    bench render --arch ffhq128 --steps 8 --batch 4 --repeat 1 --baseline
    bench render --arch ffhq256 --steps 8 --repeat 1 --baseline
    bench open --arch ffhq256 --steps 8 --repeat 1 --baseline
fi
echo "results appended to $OUT_FILE" >&2
