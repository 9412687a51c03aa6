#!/usr/bin/env bash
# MUNIT (or UNIT) on a CPU: disks <-> squares of the Shapes data set (datasets/make_shapes_dataset.py; its masks
# are not used). Makes the data (or checks it), trains, and writes test.py's page: one row per input with its
# translations A -> B and B -> A (MUNIT: 4 random styles each).
#     bash scripts/munit_demo.sh [munit|unit] [extra train.py flags]
# The time it took is in the README.
set -euo pipefail
cd "$(dirname "$0")/.."
# networks this small gain nothing from a second thread, and lose much when another program takes a core
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
MODEL_NAME="${1:-munit}"
shift || true
DATA=./datasets/shapes
NAME="shapes_$MODEL_NAME"
python datasets/make_shapes_dataset.py --save_root "$DATA"   # skips the files already there
MODEL=(--dataroot "$DATA" --name "$NAME" --model "$MODEL_NAME" --gpu_ids -1 --load_size 64 --crop_size 64
       --ngf 16 --n_res 2 --num_threads 0)
[ "$MODEL_NAME" = munit ] && MODEL+=(--mlp_dim 64)
python train.py "${MODEL[@]}" --ndf 16 --n_layers_D 3 --num_scales 2 --batch_size 4 --lr 2e-4 --max_iter 2400 \
    --display_id 0 --print_freq 400 --seed 0 --overwrite "$@"
python test.py "${MODEL[@]}" --num_style 4 --num_test 12 --seed 0 --display_winsize 128
echo "Results: $(pwd)/results/$NAME/test_latest/index.html"
