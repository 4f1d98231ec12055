"""Helpers shared by the benchmark scripts (gloo_allreduce.py, zmq_fanout.py, ddp_logreg.py, bench-vs-ddp).

The scripts are run as `python3 scripts/X.py` from any directory and import this
module via their own directory (also in multiprocessing 'spawn' children, which
re-import the main module). Standard library only.
"""

import argparse
import os
import platform
import signal
import socket
import statistics
import sys
import time


def die(prog, message, code=1):
    """Print `PROG: error: MESSAGE` to stderr and exit with `code`."""
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def positive_int(text):
    """argparse `type=` for integers >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def parse_checked(parser, argv):
    """Parse `argv`, then reject `--warmup` < 0 and `--timeout` <= 0 through `parser.error` (exit 2)."""
    args = parser.parse_args(argv)
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    if args.timeout <= 0:
        parser.error("--timeout must be > 0")
    return args


def percentile(sorted_values, q):
    """The nearest-rank `q` quantile (0..1) of an already sorted list; NaN if it is empty."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[k]


def median_p90_ms(samples):
    """(median, p90) of `samples` in seconds, as milliseconds rounded to 6 decimals."""
    s = sorted(samples)
    return round(statistics.median(s) * 1e3, 6), round(percentile(s, 0.9) * 1e3, 6)


def parent_gone(parent_pid):
    """True once this process has been re-parented, i.e. the process `parent_pid` that started it is gone."""
    return os.getppid() != parent_pid


def watch_parent(parent_pid, interval=0.5):
    """Loop forever (run it in a daemon thread); `os._exit(1)` as soon as `parent_gone(parent_pid)`."""
    while True:
        if parent_gone(parent_pid):
            os._exit(1)
        time.sleep(interval)


def join_within(procs, seconds):
    """Join the processes `procs`, all of them together within `seconds`; some may still be alive after."""
    deadline = time.monotonic() + seconds
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))


def stop_children(procs, grace):
    """Join every process; terminate, then kill, any that do not finish within `grace` seconds.

    Bounded: `grace` seconds for the join, 2 s after terminate, then 2 s per process still to kill.
    """
    join_within(procs, grace)
    for p in procs:
        if p.is_alive():
            p.terminate()
    join_within(procs, 2.0)
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join(2.0)


def exit_on_signals(signals=(signal.SIGTERM, signal.SIGHUP)):
    """Turn `signals` into SystemExit(128 + signum) so `finally` blocks run and reap the children."""
    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)

    for sig in signals:
        signal.signal(sig, on_signal)


def run_main(prog, main):
    """`sys.exit(main())`; on ^C print `PROG: interrupted` to stderr and exit 130."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        sys.exit(130)


def machine_info():
    """The machine a benchmark ran on: {"cpu_model", "cores" (logical CPUs), "usable_cores" (this
    process's affinity), "kernel" ("Linux 6.1.0-..."), "arch"}. Standard library only."""
    cpu = None
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    uname = platform.uname()
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    return {"cpu_model": cpu or uname.processor or uname.machine or "unknown", "cores": os.cpu_count(),
            "usable_cores": usable, "kernel": f"{uname.system} {uname.release}", "arch": uname.machine}


def machine_line(info):
    """`machine_info()` as one line: "CPU MODEL, N cores, kernel Linux X (arch)"."""
    return f"{info['cpu_model']}, {info['cores']} cores, kernel {info['kernel']} ({info['arch']})"


def free_port():
    """A TCP port on loopback that was free a moment ago (bind to port 0, let the kernel choose)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_gloo(prog, baseline, exit_code):
    """Import torch with its torch.distributed gloo backend, or die with one line (`exit_code`
    when torch is missing); keep gloo on loopback unless GLOO_SOCKET_IFNAME is set. Returns torch."""
    try:
        import torch
        import torch.distributed as dist
    except ImportError as e:
        die(prog, f"PyTorch is not installed ({e}); install torch to run the {baseline} baseline", exit_code)
    if not dist.is_available() or not dist.is_gloo_available():
        die(prog, "this torch build has no torch.distributed gloo backend")
    if "GLOO_SOCKET_IFNAME" not in os.environ and os.path.exists("/sys/class/net/lo"):
        os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    return torch
