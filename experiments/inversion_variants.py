"""Which codes should inversion refine? encoding.invert's loop with the codes
not listed frozen, on the shipped model, scored by motion transfer on fresh
shape_motion pairs: the table of experiments/RESULTS.md, "Inversion".

    .venv/bin/python experiments/inversion_variants.py [PAIRS]    # default 60

About 3 min per row on 2 CPU cores.
"""
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mocogan_jax import workdir, encoding, video_io
from mocogan_jax.data import shape_motion
from mocogan_jax.evaluation import metrics
from mocogan_jax.pixels import to_float
config, settings, enc, gen = workdir.load_encoders(None, params="shape_motion")
cf = settings.content_from
T, nth = config.video_length, config.every_nth
rng = np.random.default_rng(1)
drawn = [shape_motion.render_video(rng, 32, 32) for _ in range(600)]
clips = np.stack([v[:(T-1)*nth+1:nth] for v, *_ in drawn]); motions = np.array([m for _,_,m,_ in drawn]); colours = np.stack([c for *_,c in drawn])
ok = np.flatnonzero(metrics.distinct_pairs(colours[0::2], colours[1::2], motions[0::2], motions[1::2]))[:int(sys.argv[1]) if len(sys.argv) > 1 else 60]
A, B = clips[0::2][ok], clips[1::2][ok]
ca, cb, ma, mb = colours[0::2][ok], colours[1::2][ok], motions[0::2][ok], motions[1::2][ok]

def invert(videos, steps, free, lr=0.05):
  guess = encoding.encode(enc, config, cf, videos)
  target = to_float(videos)
  p0 = {"content": guess["content"], "motion": guess["motion"], "logits": guess["category_logits"]}
  def codes(p):
    q = {k: (p[k] if k in free else jax.lax.stop_gradient(p0[k])) for k in p0}
    return {"content": q["content"], "motion": q["motion"], "category": jax.nn.softmax(q["logits"], -1)}
  def err(p):
    d = encoding.decode(gen, config, codes(p)); return jnp.mean((d - target) ** 2, axis=(1,2,3,4))
  tx = optax.adam(lr)
  def step(c, _):
    p, o = c; e, pb = jax.vjp(err, p); u, o = tx.update(pb(jnp.ones_like(e))[0], o)
    return (optax.apply_updates(p, u), o), e
  (p, _), curve = jax.lax.scan(step, (p0, tx.init(p0)), None, length=steps)
  return codes(p), jnp.concatenate([curve, err(p)[None]])
for name, steps, free in [("encoders", 0, ()), ("content", 100, ("content",)), ("content+category", 100, ("content","logits")), ("all", 100, ("content","logits","motion"))]:
  f = jax.jit(invert, static_argnums=(1, 2))
  t0 = time.time()
  a, ea = f(A, steps, free); b, eb = f(B, steps, free); jax.block_until_ready(eb)
  moved = video_io.to_uint8(encoding.decode(gen, config, {"content": a["content"], "category": b["category"], "motion": b["motion"]}))
  s = metrics.transfer_scores(moved, ca, cb, ma, mb)
  recon = video_io.to_uint8(encoding.decode(gen, config, a))
  rs = metrics.transfer_scores(recon, ca, cb, ma, mb)
  print(f"{name:18s} steps {steps}: mse {float(ea[0].mean()):.4f}->{float(ea[-1].mean()):.4f} | transfer colour_of_a {s['colour_of_a']:.2f} dir_b {s['direction_of_b']:.2f} err {s['colour_error']:.1f} | recon of A: colour {rs['colour_of_a']:.2f} dir_a {rs['direction_of_a']:.2f} | {time.time()-t0:.1f}s", flush=True)
