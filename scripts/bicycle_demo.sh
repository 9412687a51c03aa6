#!/usr/bin/env bash
# BicycleGAN on a CPU: outlines -> coloured shapes (datasets/make_shape_pairs.py), one outline, many colourings.
# Makes the pairs (or checks them), trains, writes test.py's page (encoded output and random samples per input)
# and a latent walk video, and scores the results (scripts/evaluate_shape_pairs.py). Extra flags go to train.py.
# The figures and time it reached are in the README.
set -euo pipefail
cd "$(dirname "$0")/.."
# networks this small gain nothing from a second thread, and lose much when another program takes a core
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
DATA=./datasets/shape_pairs
NAME=shape_pairs_bicycle
python datasets/make_shape_pairs.py --save_root "$DATA"   # skips the files already there
MODEL=(--dataroot "$DATA" --name "$NAME" --model bicycle_gan --gpu_ids -1 --load_size 64 --crop_size 64
       --netG unet_64 --netE resnet_128 --ngf 16 --nef 16 --nz 8 --num_threads 0)
python train.py "${MODEL[@]}" --netD basic_128_multi --netD2 basic_128_multi --ndf 16 --niter 15 --niter_decay 10 \
    --display_id 0 --print_freq 2000 --seed 0 --overwrite "$@"
python test.py "${MODEL[@]}" --results_dir "results/$NAME" --n_samples 5 --num_test 20 --seed 0
python scripts/latent_walk.py "${MODEL[@]}" --results_dir "results/$NAME/video" --num_test 6 --format gif
python scripts/evaluate_shape_pairs.py "results/$NAME/val"
echo "Results: $(pwd)/results/$NAME/val/index.html"
