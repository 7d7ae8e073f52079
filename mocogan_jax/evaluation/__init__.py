"""Evaluation of video generators: FVD/KVD (I3D), ACD, MCS and IS (a classifier
trained here), PSNR/SSIM. `evaluate.py` runs them; `metrics.py` holds the maths."""
