#!/usr/bin/env python3
"""PyTorch DDP baseline for scripts/bench-vs-ddp: synchronous minibatch SGD on logistic regression,
timed to a target training loss.

The data set is a CSV as `dsgd dataset export` writes it (a header x0..x{d-1},label, labels 0/1);
the parent reads it once (untimed) into float32, the same values dsgd trains on. For every world
size W and every repeat it spawns W processes (torch.set_num_threads(1) each) joined in a gloo
process group over 127.0.0.1, and trains

    model = DistributedDataParallel(Linear(d, 1)), weights and bias initialized to 0 (dsgd's
            logistic model starts at 0 too)
    loss  = BCEWithLogitsLoss (mean over the minibatch); DDP averages the ranks' gradients, so a
            step moves the parameters by lr x the mean gradient of W x B examples (dsgd sync's rule)
    SGD(lr), no momentum

Sampling follows dsgd's shard rule: each epoch a permutation of all n examples drawn from
(seed, epoch), the same on every rank; rank r walks the r-th of W equal slices in consecutive
minibatches of B examples and drops the partial last one.

Every --eval-every K steps rank 0 computes the loss on the whole training set (float32) and
broadcasts whether it is at or below --target. The clock is rank 0's *training clock*: it starts
after one untimed warm-up forward/backward (gradients zeroed, no step, so the parameters stay at
0; it keeps DDP's first-iteration set-up out) and a barrier, and it stops during every evaluation
(the loss and the broadcast of the flag), as dsgd's coordinator stops its clock while it
evaluates. time_to_target is that clock at the first evaluation at or below the target.

One JSON object per run on stdout:

    {"benchmark":"ddp_logreg","world":2,"repeat":1,"n":20000,"d":200,"batch":32,"lr":0.1,
     "target":0.3163,"eval_every":10,"reached":true,"time_to_target":0.61,"steps":300,
     "examples":19200,"final_loss":0.3159,"training_seconds":0.61,"evaluation_seconds":0.05,
     "ms_per_step":2.03,"threads":1,"torch":"2.x","attempts":1}

Usage: python3 scripts/ddp_logreg.py --data FILE.csv [--world 1 2 4] [--batch 32] [--lr 0.1]
       --target LOSS [--eval-every 10] [--repeats 1] [--seed 1] [--max-epochs 200]
Diagnostics go to stderr. Exits 3 if torch is not installed, 1 if a run fails; the ranks are always
joined (and terminated if needed) within a bounded time. A rank killed by SIGTERM or SIGHUP from
outside says which process sent it, and the run is repeated (--retries, default once; the line's
"attempts" counts the tries). On a shared 2-core machine with other jobs running, rank 0 of a
world-4 run died of SIGTERM twice in about twenty runs; the sender was not identified.
"""

import argparse
import json
import math
import os
import queue
import shutil
import signal
import sys
import tempfile
import threading
import time

# Run as `python3 scripts/X.py` from any directory, and re-imported by 'spawn' children:
# take the shared helpers from this file's own directory.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

PROG = "ddp_logreg"
EXIT_NO_TORCH = 3


def parse_args(argv):
    p = argparse.ArgumentParser(description="PyTorch DDP (gloo) minibatch SGD on logistic regression: seconds to a target loss.")
    p.add_argument("--data", required=True, help="CSV with a header x0..x{d-1},label (dsgd dataset export)")
    p.add_argument("--world", type=benchlib.positive_int, nargs="+", default=[1, 2, 4],
                   help="world size(s): processes, one thread each (default: 1 2 4)")
    p.add_argument("--batch", type=benchlib.positive_int, default=32, help="examples per minibatch per rank (default: 32)")
    p.add_argument("--lr", type=float, default=0.1, help="SGD learning rate (default: 0.1)")
    p.add_argument("--target", type=float, required=True, help="stop at a full training loss <= this")
    p.add_argument("--eval-every", type=benchlib.positive_int, default=10,
                   help="steps between two evaluations of the full training loss (default: 10)")
    p.add_argument("--repeats", type=benchlib.positive_int, default=1, help="runs per world size (default: 1)")
    p.add_argument("--seed", type=int, default=1, help="seed of the per-epoch permutations (default: 1)")
    p.add_argument("--max-epochs", type=benchlib.positive_int, default=200,
                   help="give up (reached: false) after this many epochs (default: 200)")
    p.add_argument("--threads", type=benchlib.positive_int, default=1, help="torch threads per rank (default: 1)")
    p.add_argument("--warmup", type=int, default=1, help="untimed warm-up forward/backward passes, no step (default: 1)")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="seconds allowed for one run before the ranks are killed (default: 600)")
    p.add_argument("--retries", type=int, default=1,
                   help="times a run whose rank is killed by a signal from outside is run again (default: 1)")
    args = benchlib.parse_checked(p, argv)
    if not (args.lr > 0 and math.isfinite(args.lr)):
        p.error("--lr must be a positive number")
    if not math.isfinite(args.target):
        p.error("--target must be a finite number")
    if args.retries < 0:
        p.error("--retries must be >= 0")
    return args


def load_csv(path):
    """(float32 array n x (d+1): features then the label, d). Checks the header and the labels."""
    import numpy as np

    with open(path, encoding="utf-8") as f:
        header = f.readline().strip().split(",")
    if len(header) < 2 or header[-1] != "label":
        raise ValueError(f"{path}: expected a header x0,...,label (dsgd dataset export), got {','.join(header[:3])}...")
    a = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float32, ndmin=2)
    if a.shape[1] != len(header):
        raise ValueError(f"{path}: {a.shape[1]} columns but {len(header)} names in the header")
    labels = a[:, -1]
    if not np.all((labels == 0) | (labels == 1)):
        raise ValueError(f"{path}: labels must be 0 or 1 (logistic regression)")
    return a, a.shape[1] - 1


def report_termination(rank, parent_pid):
    """Wait for SIGTERM/SIGHUP (blocked in every thread) and exit 128 + signal, naming the sender
    on stderr unless it is the parent (which stops the ranks of a failed run)."""
    sig = signal.sigwaitinfo({signal.SIGTERM, signal.SIGHUP})
    sender = sig.si_pid
    if sender == parent_pid:
        os._exit(128 + sig.si_signo)
    try:
        with open(f"/proc/{sender}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:200]
    except OSError:
        cmd = "?"
    print(f"{PROG}: rank {rank}: signal {sig.si_signo} from pid {sender} ({cmd})", file=sys.stderr, flush=True)
    os._exit(128 + sig.si_signo)


def rank_main(rank, world, port, npy_path, args, parent_pid, results):
    """Body of one spawned rank; rank 0 puts ("result", {...}) on `results`."""
    # SIGTERM/SIGHUP are blocked before any other thread starts (threads inherit the mask) and
    # taken by one thread that says who sent them, then exits.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGHUP})
    threading.Thread(target=report_termination, args=(rank, parent_pid), daemon=True).start()
    threading.Thread(target=benchlib.watch_parent, args=(parent_pid,), daemon=True).start()
    import datetime

    import numpy as np
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(args.threads)
    dist.init_process_group(backend="gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world, timeout=datetime.timedelta(seconds=args.timeout))
    try:
        a = torch.from_numpy(np.load(npy_path))
        X = a[:, :-1].contiguous()
        y = a[:, -1].contiguous()
        n, d = X.shape
        shard = n // world
        per_epoch = shard // args.batch
        if per_epoch < 1:
            raise ValueError(f"a shard of {shard} examples holds no minibatch of {args.batch}")

        model = torch.nn.Linear(d, 1)
        with torch.no_grad():
            model.weight.zero_()
            model.bias.zero_()
        ddp = DistributedDataParallel(model)
        opt = torch.optim.SGD(ddp.parameters(), lr=args.lr)
        lossf = torch.nn.BCEWithLogitsLoss()

        for _ in range(args.warmup):  # untimed; no step, so the parameters stay at 0
            lossf(ddp(X[: args.batch]).squeeze(1), y[: args.batch]).backward()
            opt.zero_grad(set_to_none=True)

        flag = torch.zeros(1)
        full = float("nan")
        clock = 0.0  # training clock: evaluation excluded
        evaluation = 0.0
        step = 0
        reached = None
        dist.barrier()
        segment = time.perf_counter()
        for epoch in range(args.max_epochs):
            g = torch.Generator().manual_seed(args.seed * 1_000_003 + epoch)
            mine = torch.randperm(n, generator=g)[rank * shard:(rank + 1) * shard]
            for j in range(per_epoch):
                idx = mine[j * args.batch:(j + 1) * args.batch]
                opt.zero_grad(set_to_none=True)
                lossf(ddp(X[idx]).squeeze(1), y[idx]).backward()
                opt.step()
                step += 1
                if step % args.eval_every == 0:
                    stopped = time.perf_counter()
                    clock += stopped - segment
                    if rank == 0:
                        with torch.no_grad():
                            full = float(lossf(model(X).squeeze(1), y))
                        flag.fill_(1.0 if full <= args.target else 0.0)
                    dist.broadcast(flag, 0)
                    segment = time.perf_counter()
                    evaluation += segment - stopped
                    if flag.item() > 0:
                        reached = clock
                        break
            if reached is not None:
                break
        if reached is None:
            clock += time.perf_counter() - segment
        dist.barrier()
        if rank == 0:
            results.put(("result", {
                "reached": reached is not None,
                "time_to_target": reached,
                "steps": step,
                "examples": step * world * args.batch,
                "epochs": round(step * world * args.batch / n, 4),
                "final_loss": full,
                "training_seconds": clock,
                "evaluation_seconds": evaluation,
                "ms_per_step": clock / step * 1e3 if step else None,
                "n": n,
                "d": d,
            }))
    finally:
        dist.destroy_process_group()


def killed_by_signal(exitcode):
    """A rank that died of SIGTERM/SIGHUP/SIGKILL (directly, or via report_termination's 128 + signal)."""
    return exitcode is not None and (exitcode < 0 or exitcode in (128 + signal.SIGTERM, 128 + signal.SIGHUP))


def run_once(mp, world, repeat, npy_path, args, torch_version, attempts=1):
    """One training run with `world` ranks; prints its JSON line.

    Returns (error string or None, whether a rank was killed by a signal from outside)."""
    port = benchlib.free_port()
    results = mp.Queue()
    procs = [mp.Process(target=rank_main, args=(rank, world, port, npy_path, args, os.getpid(), results),
                        name=f"ddp-rank{rank}", daemon=True) for rank in range(world)]
    error = None
    result = None
    signalled = False
    try:
        for p in procs:
            p.start()
        deadline = time.monotonic() + args.timeout
        while result is None:
            try:
                msg = results.get(timeout=0.2)
            except queue.Empty:
                failed = [p for p in procs if p.exitcode not in (None, 0)]
                if failed:
                    error = f"world={world}: rank {procs.index(failed[0])} exited with code {failed[0].exitcode}"
                    signalled = killed_by_signal(failed[0].exitcode)
                    break
                if all(p.exitcode == 0 for p in procs):
                    error = f"world={world}: ranks exited without reporting a result"
                    break
                if time.monotonic() > deadline:
                    error = f"world={world}: timed out after {args.timeout:g}s"
                    break
                continue
            result = msg[1]
    finally:
        benchlib.stop_children(procs, grace=10.0 if result is not None else 0.5)
        results.close()
        results.join_thread()
    if error is None:
        bad = [p for p in procs if p.exitcode != 0]
        if bad:
            error = f"world={world}: rank {procs.index(bad[0])} exited with code {bad[0].exitcode}"
    if error is None:
        line = {"benchmark": "ddp_logreg", "world": world, "repeat": repeat, "n": result.pop("n"),
                "d": result.pop("d"), "batch": args.batch, "lr": args.lr, "target": args.target,
                "eval_every": args.eval_every, **result, "threads": args.threads, "torch": torch_version,
                "attempts": attempts}
        print(json.dumps(line, separators=(",", ":")), flush=True)
        shown = f"{line['time_to_target']:.4f} s" if line["reached"] else "not reached"
        print(f"{PROG}: world={world} repeat {repeat}: {shown}, {line['steps']} steps, "
              f"final loss {line['final_loss']:.6f}", file=sys.stderr, flush=True)
    return error, signalled


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    torch = benchlib.require_gloo(PROG, "DDP", EXIT_NO_TORCH)
    try:
        import numpy as np
    except ImportError as e:
        benchlib.die(PROG, f"numpy is not installed ({e}); it reads the CSV")

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    benchlib.exit_on_signals()

    try:
        data, d = load_csv(args.data)
    except (OSError, ValueError) as e:
        benchlib.die(PROG, str(e))
    tmp = tempfile.mkdtemp(prefix="ddp_logreg.")
    try:
        npy_path = os.path.join(tmp, "data.npy")
        np.save(npy_path, data)
        print(f"{PROG}: {data.shape[0]} x {d} from {args.data}; world {args.world}, batch {args.batch}, "
              f"lr {args.lr:g}, target {args.target:.6f}, eval every {args.eval_every} steps",
              file=sys.stderr, flush=True)
        import multiprocessing

        mp = multiprocessing.get_context("spawn")
        for repeat in range(1, args.repeats + 1):
            for world in args.world:
                attempt = 1
                error, signalled = run_once(mp, world, repeat, npy_path, args, torch.__version__)
                while error and signalled and attempt <= args.retries:
                    # A rank killed by a signal from outside (the run itself did not fail): run it again.
                    attempt += 1
                    print(f"{PROG}: {error} (a signal from outside); running it again, attempt {attempt}",
                          file=sys.stderr, flush=True)
                    error, signalled = run_once(mp, world, repeat, npy_path, args, torch.__version__, attempt)
                if error:
                    benchlib.die(PROG, error)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    benchlib.run_main(PROG, main)
