#!/usr/bin/env bash
# Train InstaGAN for a few epochs on the small data set shipped with the tests (CPU, about a minute),
# translate its test images, and print where the result page is.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=tests/fixtures/parity/dataset
FLAGS=(--dataroot "$DATA" --name demo --gpu_ids -1 --loadSizeH 72 --loadSizeW 56 --fineSizeH 64 --fineSizeW 48
       --ngf 8 --ndf 8 --n_blocks 3 --ins_max 4 --ins_per 2 --num_threads 0)
python train.py "${FLAGS[@]}" --niter 3 --niter_decay 3 --display_id 0 --print_freq 4 --seed 0 --overwrite "$@"
python test.py "${FLAGS[@]}" --loadSizeH 64 --loadSizeW 48
echo "Results: $(pwd)/results/demo/test_latest/index.html"
