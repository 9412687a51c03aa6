#!/usr/bin/env bash
# The paper's COCO setting on one GPU, in stages that each finish on their own (a short device lease may end any
# time): 200x200, ngf = ndf = 64, 9 blocks, ins_max 4, ins_per 2, training unless said otherwise.
#   1 batch x precision:   --batch_size 1,4,8,16 x fp32,bf16 (the first row, batch 1 fp32, is the reference's)
#   2 memory:              batch 1 fp32, --ins_max 2,8,16
#   3 inference:           --mode test, batch 1 and the best batch of stage 1 x fp32 and its best precision
#   4 layout and compile:  the best of stage 1 with channels_last x compile
# Each stage is one scripts/benchmark.py grid (a process per configuration) in RESULTS/N_stage/, rewritten after
# every configuration, and cut at its share of BUDGET seconds (the rows done by then stay); RESULTS/benchmark_gpu.md
# gathers the stages written so far. Settings come from the environment: RESULTS (default results/gpu_benchmark)
# DEVICE SIZE NGF BATCHES ITERS WARMUP BUDGET (seconds for all stages, default 480). The python3 that runs it needs
# torch, torchvision, numpy, tqdm and pillow (nothing else is imported on this path).
# A CPU rehearsal: DEVICE=cpu SIZE=32 NGF=8 BATCHES=1,2 ITERS=2 WARMUP=1 BUDGET=300 bash scripts/gpu_benchmark.sh
set -uo pipefail
cd "$(dirname "$0")/.."
RESULTS="${RESULTS:-results/gpu_benchmark}"
DEVICE="${DEVICE:-cuda}"
BUDGET="${BUDGET:-480}"
COMMON=(--device "$DEVICE" --size "${SIZE:-200}" --ngf "${NGF:-64}" --n_blocks 9 --ins_per 2
        --iters "${ITERS:-6}" --warmup "${WARMUP:-2}")
mkdir -p "$RESULTS"

stage() {   # stage NAME PERCENT FLAGS...: one grid, cut at PERCENT of BUDGET or at the budget's end
    local name=$1 cap=$(( BUDGET * $2 / 100 )) left=$(( BUDGET - SECONDS )); shift 2
    (( cap < left )) || cap=$left
    if (( cap < 20 )); then echo "== $name skipped: the budget is spent"; return; fi
    echo "== $name (at most ${cap} s): scripts/benchmark.py ${COMMON[*]} $*"
    timeout "$cap" python3 scripts/benchmark.py "${COMMON[@]}" "$@" --out "$RESULTS/$name" \
        || echo "== $name ended with exit code $? (124: cut at ${cap} s)"
    gather
}

best() {    # the batch size and precision of stage 1's fastest row (images/s), as "BATCH PRECISION"
    python3 - "$RESULTS/1_batch/benchmark.csv" <<'EOF'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["images_per_s"]]
top = max(rows, key=lambda r: float(r["images_per_s"]))
print(top["batch_size"], top["precision"])
EOF
}

gather() {  # RESULTS/benchmark_gpu.md: the machine, then every stage's report
    {
        echo "# InstaGAN on a GPU: the paper's setting (scripts/gpu_benchmark.sh)"
        echo
        echo "- torch $(python3 -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda)')"
        if command -v nvidia-smi >/dev/null; then
            echo "- $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader)"
        fi
        for md in "$RESULTS"/*_*/benchmark.md; do
            [ -f "$md" ] && { echo; sed 's/^# /## /' "$md"; }
        done
    } > "$RESULTS/benchmark_gpu.md"
}

stage 1_batch 40 --batch_size "${BATCHES:-1,4,8,16}" --ins_max 4 --precision fp32,bf16
stage 2_memory 15 --batch_size 1 --ins_max 2,8,16 --precision fp32
if read -r BATCH PRECISION < <(best); then
    stage 3_inference 15 --mode test --batch_size "1,$BATCH" --ins_max 4 --precision "fp32,$PRECISION"
    stage 4_layout 100 --batch_size "$BATCH" --ins_max 4 --precision "$PRECISION" --channels_last off,on \
        --compile off,on
else
    echo "== stage 1 has no timed row: stages 3 and 4 skipped"
fi
echo "== $RESULTS/benchmark_gpu.md"
