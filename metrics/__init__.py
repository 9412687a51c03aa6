"""Measuring translations: FID, KID and IS (torch-fidelity), LPIPS diversity (lpips) and the InstaGAN paper's
classification score (a fine-tuned VGG-16), for scripts/evaluate.py and for scoring a held-out split during
training (`train.py --eval_freq N`).

One module per role: weights.py (the networks' weight files, offline), images.py (test.py's results and real
images), fidelity.py, lpips_diversity.py, classifier.py, evaluate.py (scoring and its report), options.py (the
shared flags), training.py (--eval_freq). Nothing here downloads: every weight file comes from a flag or from
the packages' own cache location (README, "Measuring translations").
"""
