#!/usr/bin/env python3
"""Writes layernorm_mlp.json: the loss and gradient of dsgd's layer-normalized MLP
(MLP(..., layerNorm: true)) for one small fixed case, computed independently of dsgd with numpy.

Network 4 -> 10 -> 3 -> 3 classes (dsgd normalizes eight features at a time, then the rest). Every hidden layer is H = relu(LayerNorm(H_prev W^T + b)) with
LayerNorm(z) = gamma * (z - mean) / sqrt(var + 1e-5) + beta row by row (biased variance over the
row, as PyTorch's nn.LayerNorm); the output layer is affine, the loss the mean softmax
cross-entropy over the minibatch (which repeats an example and is not in order).

Parameters, in dsgd's flat layout [W1, b1, gamma1, beta1, W2, b2, gamma2, beta2, W3, b3] (W row-major,
n_out x n_in), and inputs are drawn from a fixed numpy generator and rounded to float32, so dsgd
reads exactly the same numbers; everything after that is float64. The gradient is the analytic
backward; the script checks it against central finite differences of the loss before writing.

Run from the repository root:  python3 Tests/DSGDCoreTests/Fixtures/layernorm_mlp.py
"""
import json
import os

import numpy as np

EPS = 1e-5
sizes = [4, 10, 3, 3]
examples = 6
batch = [4, 1, 1, 5, 0, 3, 2]

rng = np.random.default_rng(20261129)


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


blocks = []  # (name, array) in dsgd's order
for l in range(1, len(sizes)):
    n_in, n_out = sizes[l - 1], sizes[l]
    blocks.append(("W%d" % l, f32(rng.normal(0, (2 / n_in) ** 0.5, (n_out, n_in)))))
    blocks.append(("b%d" % l, f32(rng.normal(0, 0.3, n_out))))
    if l < len(sizes) - 1:
        blocks.append(("gamma%d" % l, f32(1 + rng.normal(0, 0.3, n_out))))
        blocks.append(("beta%d" % l, f32(rng.normal(0, 0.3, n_out))))
x = f32(rng.normal(0, 1, (examples, sizes[0])))
y = rng.integers(0, sizes[-1], examples)


def flatten(bs):
    return np.concatenate([a.ravel() for _, a in bs])


def unflatten(theta):
    out, k = [], 0
    for name, a in blocks:
        out.append((name, theta[k:k + a.size].reshape(a.shape)))
        k += a.size
    return dict(out)


def loss_and_gradient(theta):
    p = unflatten(theta)
    L = len(sizes) - 1
    h = x[batch]
    yb = y[batch]
    B = h.shape[0]
    cache = []
    for l in range(1, L + 1):
        z = h @ p["W%d" % l].T + p["b%d" % l]
        if l < L:
            mu = z.mean(axis=1, keepdims=True)
            r = 1 / np.sqrt(((z - mu) ** 2).mean(axis=1, keepdims=True) + EPS)
            xhat = (z - mu) * r
            n = p["gamma%d" % l] * xhat + p["beta%d" % l]
            cache.append((h, xhat, r, n))
            h = np.maximum(n, 0)
        else:
            cache.append((h, None, None, None))
    m = z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    loss = np.mean(lse - z[np.arange(B), yb])

    grads = {}
    prob = np.exp(z - lse[:, None])
    dz = prob
    dz[np.arange(B), yb] -= 1
    dz /= B
    for l in range(L, 0, -1):
        h_in, _, _, _ = cache[l - 1]
        grads["W%d" % l] = dz.T @ h_in
        grads["b%d" % l] = dz.sum(axis=0)
        if l > 1:
            dh = dz @ p["W%d" % l]
            _, xhat, r, n = cache[l - 2]
            dn = dh * (n > 0)
            grads["gamma%d" % (l - 1)] = (dn * xhat).sum(axis=0)
            grads["beta%d" % (l - 1)] = dn.sum(axis=0)
            dxhat = dn * p["gamma%d" % (l - 1)]
            dz = r * (dxhat - dxhat.mean(axis=1, keepdims=True)
                      - xhat * (dxhat * xhat).mean(axis=1, keepdims=True))
    return loss, np.concatenate([grads[name].ravel() for name, _ in blocks])


theta = flatten(blocks)
loss, grad = loss_and_gradient(theta)

# Self-check: the analytic gradient against central differences of the loss.
h = 1e-6
numeric = np.empty_like(theta)
for j in range(theta.size):
    e = np.zeros_like(theta)
    e[j] = h
    numeric[j] = (loss_and_gradient(theta + e)[0] - loss_and_gradient(theta - e)[0]) / (2 * h)
check = np.linalg.norm(grad - numeric) / np.linalg.norm(grad)
assert check < 1e-7, check

out = {
    "source": "Tests/DSGDCoreTests/Fixtures/layernorm_mlp.py (numpy %s)" % np.__version__,
    "sizes": sizes,
    "epsilon": EPS,
    "blocks": [{"name": name, "shape": list(a.shape)} for name, a in blocks],
    "parameters": theta.tolist(),
    "examples": examples,
    "features": x.ravel().tolist(),
    "targets": [int(t) for t in y],
    "batch": batch,
    "loss": float(loss),
    "gradient": grad.tolist(),
    "finite_difference_check": float(check),
}
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "layernorm_mlp.json"), "w") as f:
    json.dump(out, f, indent=2)
    f.write("\n")
print("loss %.12g, |gradient| %.6g, analytic vs finite differences %.3g" % (loss, np.linalg.norm(grad), check))
