#!/usr/bin/python3
"""Baseline for the bootstrap benchmark: the usual Python loop over sklearn.

2,000 image-level replicates of the macro one-vs-rest AUC on the n = 4,200 stats
fixture, as a researcher would write it. Needs Debian's python3-sklearn.
Prints the seconds taken."""
import json, sys, time
import numpy as np
from sklearn.metrics import roc_auc_score

case = json.load(open(sys.argv[1]))
y = np.array(case["inputs"]["y_true"])
s = np.array(case["inputs"]["y_score"])
rng = np.random.default_rng(1)
t0 = time.perf_counter()
values = []
for _ in range(2000):
    idx = rng.integers(0, len(y), len(y))
    if len(np.unique(y[idx])) < 3:
        continue
    values.append(roc_auc_score(y[idx], s[idx], multi_class="ovr", average="macro"))
elapsed = time.perf_counter() - t0
lo, hi = np.percentile(values, [2.5, 97.5])
print(f"{elapsed:.4f} {lo:.4f} {hi:.4f}")
