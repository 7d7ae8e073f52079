"""What reads videos into codes and continues them: the encoders and
inversion (encoding), their losses in the GAN step and in train-encoder
(encoder_objective), the ConvRNN and SVG-LP baselines (baseline), and every
predictor behind one interface with its scoring (prediction). Their networks
are in models/ (encoders.py, convrnn.py, svg.py)."""
