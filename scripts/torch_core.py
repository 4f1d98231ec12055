#!/usr/bin/env python3
"""PyTorch baseline for `dsgd bench core`: single-thread forward+backward+SGD step throughput.

The workloads are the usual single-thread baselines (logistic regression
d=100 with BCEWithLogitsLoss at b=64 and b=1024; MLP 784-256-256-10 with CrossEntropyLoss at b=64
and b=256; minibatches of consecutive rows j = (i*b) % (n-b); SGD lr 0.01; 50 warm-up steps).
One JSON object per line, with the same "workload" and "batch" keys as `dsgd bench core`; the
fastest of --repeats timed runs is reported, as dsgd does.

Usage: python3 scripts/torch_core.py [--threads 1] [--repeats 3]
"""
import argparse
import json
import sys
import time

import torch


def bench(model, X, y, lossf, batch, steps, repeats):
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    n = X.shape[0]
    last = [0.0]

    def run(k):
        for i in range(k):
            j = (i * batch) % (n - batch)
            xb, yb = X[j:j + batch], y[j:j + batch]
            opt.zero_grad()
            loss = lossf(model(xb), yb)
            loss.backward()
            opt.step()
        last[0] = float(loss.detach())

    run(50)
    best = float("inf")
    for _ in range(repeats):
        s = time.perf_counter()
        run(steps)
        best = min(best, time.perf_counter() - s)
    return steps * batch / best, last[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.threads < 1 or args.repeats < 1:
        parser.error("--threads and --repeats must be positive")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    def emit(workload, batch, steps, rate, loss):
        print(json.dumps({"benchmark": "core", "workload": workload, "batch": batch, "steps": steps,
                          "samples_per_s": round(rate), "last_loss": round(loss, 4),
                          "threads": args.threads, "torch": torch.__version__}), flush=True)

    X = torch.randn(200_000, 100)
    y = (X[:, 0] > 0).float().unsqueeze(1)
    lr = torch.nn.Linear(100, 1)
    for batch, steps in [(64, 3000), (1024, 300)]:
        emit("logreg d=100", batch, steps, *bench(lr, X, y, torch.nn.BCEWithLogitsLoss(), batch, steps, args.repeats))
    X2 = torch.randn(60_000, 784)
    y2 = torch.randint(0, 10, (60_000,))
    mlp = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                              torch.nn.ReLU(), torch.nn.Linear(256, 10))
    for batch, steps in [(64, 300), (256, 100)]:
        emit("mlp 784-256-256-10", batch, steps, *bench(mlp, X2, y2, torch.nn.CrossEntropyLoss(), batch, steps, args.repeats))


if __name__ == "__main__":
    sys.exit(main())
