#!/usr/bin/env python3
"""Baseline for `dsgd bench round`: time torch.distributed (gloo) all_reduce on loopback.

For every world size W and parameter count D this spawns W processes (one CPU
thread each), joins them into a gloo process group over 127.0.0.1, runs some
warm-up all_reduce calls on a float32 tensor of D elements, then times each
iteration as

    barrier(); t0 = perf_counter(); all_reduce(x); t1 = perf_counter()

and reports rank 0's median (and p90) as one JSON object per line on stdout:

    {"benchmark":"gloo_allreduce","world":2,"dim":1000,"iters":50,"median_ms":0.0712,"p90_ms":0.0931}

Diagnostics go to stderr. Exits non-zero with a one-line message if torch is
not installed or a run fails; child processes are always joined (and
terminated if needed) within a bounded time.
"""

import argparse
import json
import os
import queue
import socket
import sys
import threading
import time

# Run as `python3 scripts/X.py` from any directory, and re-imported by 'spawn' children:
# take the shared helpers from this file's own directory.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

PROG = "gloo_allreduce"

DEFAULT_DIMS = [1_000, 100_000, 1_000_000]
EXIT_NO_TORCH = 3


def parse_args(argv):
    p = argparse.ArgumentParser(description="Time gloo all_reduce of float32 vectors on loopback.")
    p.add_argument("--world", type=benchlib.positive_int, nargs="+", default=[2],
                   help="world size(s), i.e. number of processes (default: 2)")
    p.add_argument("--dims", type=benchlib.positive_int, nargs="+", default=DEFAULT_DIMS,
                   help="vector length(s) in float32 elements (default: 1000 100000 1000000)")
    p.add_argument("--iters", type=benchlib.positive_int, default=50, help="timed iterations per dim (default: 50)")
    p.add_argument("--warmup", type=int, default=10, help="untimed warm-up iterations per dim (default: 10)")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="seconds allowed for each world size before the ranks are killed (default: 600)")
    return benchlib.parse_checked(p, argv)


def free_port():
    """A TCP port that was free a moment ago (bind to port 0 on loopback, let the kernel choose)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rank_main(rank, world, port, dims, iters, warmup, timeout, parent_pid, results):
    """Body of one spawned rank. Rank 0 sends ("result", dim, [seconds...]) per dim, then ("done",)."""
    threading.Thread(target=benchlib.watch_parent, args=(parent_pid,), daemon=True).start()
    import datetime

    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group(
        backend="gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(seconds=timeout),
    )
    try:
        for dim in dims:
            x = torch.ones(dim, dtype=torch.float32)
            for _ in range(warmup):
                dist.all_reduce(x)
            samples = []
            for _ in range(iters):
                x.fill_(1.0)  # keep values finite; outside the timed region
                dist.barrier()
                t0 = time.perf_counter()
                dist.all_reduce(x)
                t1 = time.perf_counter()
                samples.append(t1 - t0)
            if x[0].item() != float(world):
                raise RuntimeError(f"all_reduce produced {x[0].item()}, expected {world}")
            if rank == 0:
                results.put(("result", dim, samples))
        dist.barrier()
    finally:
        dist.destroy_process_group()
    if rank == 0:
        results.put(("done",))


def run_world(mp, world, args):
    """Run all dims for one world size; print one JSON line per dim. Returns an error string or None."""
    port = free_port()
    results = mp.Queue()
    procs = [
        mp.Process(
            target=rank_main,
            args=(rank, world, port, args.dims, args.iters, args.warmup, args.timeout, os.getpid(), results),
            name=f"gloo-rank{rank}",
            daemon=True,
        )
        for rank in range(world)
    ]
    error = None
    completed = False  # all results arrived; ranks get time to shut down cleanly
    try:
        for p in procs:
            p.start()
        deadline = time.monotonic() + args.timeout
        pending = list(args.dims)
        done = False
        while not done:
            try:
                msg = results.get(timeout=0.2)
            except queue.Empty:
                failed = [p for p in procs if p.exitcode not in (None, 0)]
                if failed:
                    error = f"world={world}: rank {procs.index(failed[0])} exited with code {failed[0].exitcode}"
                    break
                if all(p.exitcode == 0 for p in procs):
                    error = f"world={world}: ranks exited without reporting results"
                    break
                if time.monotonic() > deadline:
                    error = f"world={world}: timed out after {args.timeout:g}s"
                    break
                continue
            if msg[0] == "done":
                done = True
            elif msg[0] == "result":
                _, dim, samples = msg
                pending.remove(dim)
                median_ms, p90_ms = benchlib.median_p90_ms(samples)
                line = {
                    "benchmark": "gloo_allreduce",
                    "world": world,
                    "dim": dim,
                    "iters": len(samples),
                    "median_ms": median_ms,
                    "p90_ms": p90_ms,
                }
                print(json.dumps(line, separators=(",", ":")), flush=True)
        if error is None and pending:
            error = f"world={world}: no result for dims {pending}"
        completed = error is None
    finally:
        # On errors, timeouts and signals (SystemExit/KeyboardInterrupt) the ranks are stopped promptly.
        benchlib.stop_children(procs, grace=10.0 if completed else 0.5)
        results.close()
        results.join_thread()
    if error is None:
        bad = [p for p in procs if p.exitcode != 0]
        if bad:
            error = f"world={world}: rank {procs.index(bad[0])} exited with code {bad[0].exitcode}"
    return error


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    benchlib.require_gloo(PROG, "gloo", EXIT_NO_TORCH)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    # SIGTERM/SIGHUP -> SystemExit so the `finally` blocks reap the ranks.
    benchlib.exit_on_signals()

    import multiprocessing

    mp = multiprocessing.get_context("spawn")
    for world in args.world:
        print(f"gloo_allreduce: world={world} dims={args.dims} iters={args.iters}", file=sys.stderr, flush=True)
        error = run_world(mp, world, args)
        if error:
            benchlib.die(PROG, error)
    return 0


if __name__ == "__main__":
    benchlib.run_main(PROG, main)
