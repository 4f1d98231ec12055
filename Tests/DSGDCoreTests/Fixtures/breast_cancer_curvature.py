#!/usr/bin/env python3
"""Writes breast_cancer_curvature.json: the curvature of dsgd's linear-regression loss on
data/breast_cancer.csv, computed independently of dsgd with numpy.

Loss E = 1/(2P) sum (y - w.x - b)^2, so the Hessian is H = (1/P) X~^T X~ with X~ = [X, 1] (the raw,
unstandardised inputs with a bias column). dsgd reads the CSV as float32, so the inputs are rounded
to float32 first (without it lambda_min moves by about 3e-8 relative), then everything is float64.
Without the bias column the condition number is about 2.2e12 (the figure of GUIDE.md section 4.3);
with it, as here, about 2.4e12.

lambda_max, lambda_min: the squared singular values of X~ / sqrt(P) (the SVD avoids forming H, so
lambda_min keeps a relative accuracy near 1e-10 despite a condition number near 1e12).
eigvalsh_*: LAPACK's symmetric eigensolver on the formed H, for comparison (absolute error about
1e-16 * lambda_max, so lambda_min only to a few 1e-4 relative).

Run from the repository root:  python3 Tests/DSGDCoreTests/Fixtures/breast_cancer_curvature.py
"""
import json
import os

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.normpath(os.path.join(here, "..", "..", ".."))
table = np.loadtxt(os.path.join(root, "data", "breast_cancer.csv"), delimiter=",", skiprows=1)
x = table[:, :-1].astype(np.float32).astype(np.float64)      # the label is the last column
p = x.shape[0]
xt = np.hstack([x, np.ones((p, 1))])

s = np.linalg.svd(xt / np.sqrt(p), compute_uv=False)
lam = s ** 2
h = xt.T @ xt / p
e = np.linalg.eigvalsh(h)

out = {
    "source": "Tests/DSGDCoreTests/Fixtures/breast_cancer_curvature.py (numpy %s)" % np.__version__,
    "data": "data/breast_cancer.csv",
    "examples": int(p),
    "parameters": int(xt.shape[1]),
    "hessian": "(1/P) X~^T X~, X~ = [x (float32-rounded), 1], float64",
    "lambda_max": float(lam.max()),
    "lambda_min": float(lam.min()),
    "condition": float(lam.max() / lam.min()),
    "eigvalsh_lambda_max": float(e.max()),
    "eigvalsh_lambda_min": float(e.min()),
    "eigvalsh_condition": float(e.max() / e.min()),
}
# Standardized inputs (dsgd analyze --normalize standardize): z = (x - mean) / std per feature with
# the population (1/P) standard deviation, computed in float64 and rounded to float32 as dsgd
# stores it; the Hessian again has the bias column. Zero-mean features make the bias direction an
# eigenvector with eigenvalue 1, so the condition number is that of the correlation matrix.
mean = x.mean(axis=0)
std = x.std(axis=0)
z = ((x - mean) / std).astype(np.float32).astype(np.float64)
zt = np.hstack([z, np.ones((p, 1))])
ls = np.linalg.svd(zt / np.sqrt(p), compute_uv=False) ** 2
out["standardized"] = {
    "lambda_max": float(ls.max()),
    "lambda_min": float(ls.min()),
    "condition": float(ls.max() / ls.min()),
}

with open(os.path.join(here, "breast_cancer_curvature.json"), "w") as f:
    json.dump(out, f, indent=2)
    f.write("\n")
print(json.dumps(out, indent=2))
