#!/usr/bin/env python3
"""Floor for `dsgd bench round`: time the same traffic over raw ZeroMQ (pyzmq + numpy).

For every transport T (tcp, ipc), worker count N and parameter count D, one
ROUTER (this process) binds -- tcp://127.0.0.1 on a kernel-chosen port, or
ipc:// in a temporary directory -- and N DEALER processes (multiprocessing
spawn, routing ids w0..wN-1) connect. One round is

    t0 = perf_counter()
    send a D-float32 buffer to every DEALER        (copy=False)
    receive one D-float32 reply from every DEALER  (copy=False)
    t1 = perf_counter()

Each DEALER answers every message with a preallocated D-float32 buffer
(copy=False). There is no arithmetic on either side, so this is what libzmq
itself can move for one synchronous parameter-server round. After some
untimed warm-up rounds, --rounds rounds are timed; the median and p90 are
printed as one JSON object per line on stdout:

    {"benchmark":"zmq_fanout","transport":"tcp","workers":2,"dim":1000,"rounds":200,"median_ms":0.05,"p90_ms":0.06}

The DEALERs of one (transport, workers) pair are reused for all dims.
Diagnostics go to stderr. Exits 3 with a one-line message if pyzmq or numpy is
missing, 1 if a run fails. Child processes are always joined (terminated, then
killed, if needed) within a bounded time, and the ipc directory is removed.
"""

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time

# Run as `python3 scripts/X.py` from any directory, and re-imported by 'spawn' children:
# take the shared helpers from this file's own directory.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

PROG = "zmq_fanout"

DEFAULT_DIMS = [1_000, 100_000, 1_000_000]
DEFAULT_WORKERS = [2, 4]
DEFAULT_TRANSPORTS = ["tcp", "ipc"]
EXIT_MISSING_DEPS = 3
HELLO = b"hello"
STOP = b""  # an empty message tells a DEALER to exit
IDLE_POLL_MS = 500  # how often an idle DEALER checks that its parent is still alive


def parse_args(argv):
    p = argparse.ArgumentParser(description="Time ROUTER->N DEALER float32 fan-out/fan-in rounds over raw ZeroMQ.")
    p.add_argument("--workers", type=benchlib.positive_int, nargs="+", default=DEFAULT_WORKERS,
                   help="DEALER process counts (default: 2 4)")
    p.add_argument("--dims", type=benchlib.positive_int, nargs="+", default=DEFAULT_DIMS,
                   help="message length(s) in float32 elements (default: 1000 100000 1000000)")
    p.add_argument("--transports", nargs="+", choices=["tcp", "ipc"], default=DEFAULT_TRANSPORTS,
                   help="transports (default: tcp ipc)")
    p.add_argument("--rounds", type=benchlib.positive_int, default=200,
                   help="timed rounds per configuration (default: 200)")
    p.add_argument("--warmup", type=int, default=10, help="untimed warm-up rounds per configuration (default: 10)")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="seconds allowed for each (transport, workers) pair before giving up (default: 600)")
    return benchlib.parse_checked(p, argv)


def dealer_main(endpoint, index, dims, parent_pid):
    """Body of one spawned DEALER: say hello, then echo a preallocated buffer of the same size until STOP."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles ^C and stops us
    import numpy as np
    import zmq

    replies = {d * 4: np.zeros(d, dtype=np.float32) for d in dims}
    ctx = zmq.Context(io_threads=1)
    sock = ctx.socket(zmq.DEALER)
    try:
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTING_ID, b"w%d" % index)
        sock.setsockopt(zmq.RCVTIMEO, IDLE_POLL_MS)
        sock.connect(endpoint)
        sock.send(HELLO)
        while True:
            try:
                frame = sock.recv(copy=False)
            except zmq.Again:
                if benchlib.parent_gone(parent_pid):
                    return 1  # orphaned: the ROUTER process is gone
                continue
            size = len(frame)
            if size == 0:
                return 0
            reply = replies.get(size)
            if reply is None:
                print(f"zmq_fanout: dealer w{index}: unexpected message of {size} bytes", file=sys.stderr, flush=True)
                return 1
            sock.send(reply, copy=False)
    finally:
        sock.close(linger=0)
        ctx.term()


def dealer_entry(endpoint, index, dims, parent_pid):
    sys.exit(dealer_main(endpoint, index, dims, parent_pid))


class RunError(Exception):
    pass


def check_children(procs):
    for i, p in enumerate(procs):
        if p.exitcode is not None:
            raise RunError(f"dealer w{i} exited early with code {p.exitcode}")


def run_pair(mp, zmq, np, transport, workers, args, scratch):
    """Run all dims for one (transport, workers) pair, printing one JSON line per dim."""
    deadline = time.monotonic() + args.timeout
    op_timeout_ms = int(min(args.timeout, 30.0) * 1000)
    ctx = zmq.Context(io_threads=1)
    sock = ctx.socket(zmq.ROUTER)
    procs = []
    completed = False
    try:
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # sending to an unknown peer raises instead of dropping
        sock.setsockopt(zmq.SNDTIMEO, op_timeout_ms)
        sock.setsockopt(zmq.RCVTIMEO, op_timeout_ms)
        if transport == "tcp":
            port = sock.bind_to_random_port("tcp://127.0.0.1")
            endpoint = f"tcp://127.0.0.1:{port}"
        else:
            endpoint = f"ipc://{os.path.join(scratch, f'fanout-{workers}.ipc')}"
            sock.bind(endpoint)

        procs = [
            mp.Process(target=dealer_entry, args=(endpoint, i, args.dims, os.getpid()),
                       name=f"zmq-dealer{i}", daemon=True)
            for i in range(workers)
        ]
        for p in procs:
            p.start()

        # Wait until every DEALER has connected and said hello, so the ROUTER can address it.
        ids = []
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        while len(ids) < workers:
            if poller.poll(200):
                ident, msg = sock.recv_multipart()
                if msg != HELLO or ident in ids:
                    raise RunError(f"unexpected message from {ident!r} during start-up")
                ids.append(ident)
                continue
            check_children(procs)
            if time.monotonic() > deadline:
                raise RunError(f"only {len(ids)} of {workers} dealers connected within {args.timeout:g}s")
        ids.sort()

        for dim in args.dims:
            payload = np.ones(dim, dtype=np.float32)
            nbytes = payload.nbytes
            samples = []
            for r in range(args.warmup + args.rounds):
                t0 = time.perf_counter()
                for ident in ids:
                    sock.send(ident, zmq.SNDMORE)
                    sock.send(payload, copy=False)
                for _ in range(workers):
                    parts = sock.recv_multipart(copy=False)
                    if len(parts) != 2 or len(parts[1]) != nbytes:
                        raise RunError(f"dim={dim}: malformed reply ({len(parts)} parts)")
                t1 = time.perf_counter()
                if r >= args.warmup:
                    samples.append(t1 - t0)
                if time.monotonic() > deadline:
                    raise RunError(f"timed out after {args.timeout:g}s")
            median_ms, p90_ms = benchlib.median_p90_ms(samples)
            line = {
                "benchmark": "zmq_fanout",
                "transport": transport,
                "workers": workers,
                "dim": dim,
                "rounds": len(samples),
                "median_ms": median_ms,
                "p90_ms": p90_ms,
            }
            print(json.dumps(line, separators=(",", ":")), flush=True)

        for ident in ids:
            sock.send_multipart([ident, STOP])
        completed = True
    except zmq.Again:
        raise RunError(f"a send or receive stalled for {op_timeout_ms / 1000:g}s") from None
    except zmq.ZMQError as e:
        raise RunError(f"zmq error: {e}") from None
    finally:
        # On errors, timeouts and signals (SystemExit/KeyboardInterrupt) the dealers are stopped promptly.
        benchlib.stop_children(procs, grace=5.0 if completed else 0.5)
        sock.close(linger=0)
        ctx.term()
    bad = [i for i, p in enumerate(procs) if p.exitcode != 0]
    if bad:
        raise RunError(f"dealer w{bad[0]} exited with code {procs[bad[0]].exitcode}")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        import numpy as np
        import zmq
    except ImportError as e:
        benchlib.die(PROG, f"pyzmq and numpy are required ({e}); install them to run the zmq floor", EXIT_MISSING_DEPS)

    # SIGTERM/SIGHUP -> SystemExit so the `finally` blocks reap the dealers and remove the ipc directory.
    benchlib.exit_on_signals()

    import multiprocessing

    mp = multiprocessing.get_context("spawn")
    scratch = tempfile.mkdtemp(prefix="zmq_fanout.") if "ipc" in args.transports else None
    try:
        for transport in args.transports:
            for workers in args.workers:
                print(f"zmq_fanout: transport={transport} workers={workers} dims={args.dims} rounds={args.rounds}",
                      file=sys.stderr, flush=True)
                try:
                    run_pair(mp, zmq, np, transport, workers, args, scratch)
                except RunError as e:
                    benchlib.die(PROG, f"transport={transport} workers={workers}: {e}")
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    benchlib.run_main(PROG, main)
