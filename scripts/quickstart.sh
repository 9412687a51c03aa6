#!/usr/bin/env bash
# The README's main command: InstaGAN turns disks into squares on the built-in Shapes data set, on a CPU.
# Makes the data set (or checks it), trains (a progress bar shows the time left), translates the test images,
# scores them (scripts/evaluate_shapes.py) and prints where the result page is. Extra flags go to train.py.
# About 25-35 minutes on a 2-core Xeon or AMD EPYC with bf16 arithmetic, 47-57 on an older 2-core EPYC (7000 images
# in batches of 4), 11.5 an epoch (of 7) on a 2-core Xeon without bf16 arithmetic (fp32); the figures it reached are
# in the README.
# --amp (bfloat16) only where the CPU computes bf16 natively: emulated, it halves the speed.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=./datasets/shapes
NAME=shapes_quickstart
python datasets/make_shapes_dataset.py --save_root "$DATA"   # skips the files already there
AMP=$(python -c "from util.machine import native_cpu_bf16; print('--amp' if native_cpu_bf16() else '')")
MODEL=(--dataroot "$DATA" --name "$NAME" --gpu_ids -1 --loadSizeH 64 --loadSizeW 64 --fineSizeH 64 --fineSizeW 64
       --ngf 16 --n_blocks 3 --upsample nearest --G_output paste --num_threads 0 $AMP)
# settings chosen by measurement: docs/shapes_benchmark.md
python train.py "${MODEL[@]}" --ndf 16 --n_layers_D 2 --batch_size 4 --lr 4e-4 --niter 4 --niter_decay 3 \
    --display_id 0 --print_freq 1000 --seed 0 --overwrite "$@"
# every instance of the test images (up to 6), translated two at a time as in training
python test.py "${MODEL[@]}" --ins_max 6 --ins_per 2 --num_test 100
python scripts/evaluate_shapes.py "results/$NAME/test_latest"
echo "Results: $(pwd)/results/$NAME/test_latest/index.html"
