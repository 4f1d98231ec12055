#!/usr/bin/env python3
"""Merge `dsgd bench round`, scripts/gloo_allreduce.py and scripts/zmq_fanout.py output into one JSON document.

Used by scripts/bench-round. Inputs are JSON-lines files; the document goes to stdout:

    {
      "benchmark": "bench_round_vs_gloo",
      "args": [...],                     # arguments given to `dsgd bench round`
      "machine": {"cpu": "...", "kernel": "avx512"},  # from the dsgd lines
      "dsgd": [ {sync_round result}, ... ],
      "gloo": [ {gloo_allreduce result}, ... ] | null,
      "zmq_floor": [ {zmq_fanout result}, ... ] | null,
      "comparison": [ {"workers","dim","transport","compress","bytes_per_round","trials",
                       "dsgd_median_ms","gloo_median_ms","ratio","ratio_min","ratio_max",
                       "target_ratio","meets_target","zmq_floor_median_ms","ratio_to_zmq_floor",
                       "zmq_floor_to_gloo","floor_target_ratio","meets_floor_target",
                       "cpu_ms_per_round_total","cpu_bound_ms","cpu_bound_to_gloo"}, ... ] | null,
      "targets": {"workers": 2, "max_ratio": {"1000": 0.25, "100000": 0.5, "1000000": 1.0}},
      "all_targets_met": true | false | null,
      "note": "..."                      # only when there is something to say
    }

ratio = dsgd_median_ms / gloo_median_ms for the same worker count (gloo world size) and dim.
With several trials (input lines tagged "trial": t by scripts/bench-round --trials N) every ratio
is first taken within a trial, then the row reports the median over trials (ratio_min and
ratio_max give the range), and each *_median_ms is the median over trials of that trial's median;
lines without a "trial" field count as trial 1.
target_ratio / meets_target are set for the target rows (2 workers, D in 1e3/1e5/1e6 in float32;
D = 1e6 with --compress bf16 (0.7) and topk:0.01 (0.2), against gloo's float32 all-reduce), null
otherwise; floor_target_ratio / meets_floor_target for float32 at 2 workers, D = 1e6 (1.1x the
ZeroMQ floor).
ratio_to_zmq_floor = dsgd_median_ms / zmq_floor_median_ms for the same transport, worker count and
bytes: how far dsgd's round is above what raw libzmq moves for the same traffic (1.0 = at the
floor). The floor moves float32 both ways: for float32 rows it is the floor at dim, for bf16 and
fp16 rows (2 bytes a value each way) the floor at ceil(dim / 2); the other encodings move
different bytes each way and have none.
zmq_floor_to_gloo = zmq_floor_median_ms / gloo_median_ms (median of the per-trial ratios): the
ratio to gloo a round would have if it cost nothing but its bytes over ZeroMQ, the lowest a
target can be met at.

cpu_ms_per_round_total and cpu_bound_ms: the medians over trials of dsgd's own fields (the processor
time the coordinator and the workers spend on a round, libzmq's threads included, and that divided
by the machine's cores: the shortest round its cores allow for that work, with no core ever idle).
cpu_bound_to_gloo = cpu_bound_ms / gloo_median_ms (median of the per-trial ratios): the lowest
ratio to gloo dsgd's round could reach on this machine without doing less work.

comparison is null only when neither baseline was given. With --zmq but no --gloo the rows carry
null gloo fields, meets_target is null and all_targets_met is null (no gloo: no verdict).
"""

import argparse
import json
import math
import sys

TARGET_WORKERS = 2
TARGET_MAX_RATIO = {1_000: 0.25, 100_000: 0.5, 1_000_000: 1.0}
# Compressed gradients (bf16 parameters) against gloo's float32 all-reduce, at 2 workers and D = 1e6.
TARGET_COMPRESSED = {"bf16": 0.7, "topk:0.01": 0.2}
# The float32 round against the raw ZeroMQ floor for the same bytes, at 2 workers and D = 1e6.
TARGET_FLOOR = 1.1


def read_jsonl(path, benchmark):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                print(f"bench_round_report: {path}:{n}: skipping non-JSON line: {line[:120]}", file=sys.stderr)
                continue
            if isinstance(obj, dict) and obj.get("benchmark") == benchmark:
                rows.append(obj)
            else:
                print(f"bench_round_report: {path}:{n}: skipping unexpected object", file=sys.stderr)
    return rows


def number(x):
    return x if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def floor_for(zmq_ms, trial, transport, workers, dim, compress):
    """The ZeroMQ floor (ms) for the bytes of one dsgd configuration, or None."""
    if compress == "none":
        return zmq_ms.get((trial, transport, workers, dim))
    if compress in ("bf16", "fp16") and isinstance(dim, int):
        return zmq_ms.get((trial, transport, workers, (dim + 1) // 2))
    return None


def compare(dsgd, gloo, zmq_floor):
    """One row per dsgd configuration. gloo / zmq_floor: lists of baseline results, or None when not run."""
    trial = lambda r: r.get("trial", 1)
    gloo_ms = {(trial(g), g.get("world"), g.get("dim")): number(g.get("median_ms")) for g in gloo or []}
    zmq_ms = {(trial(z), z.get("transport"), z.get("workers"), z.get("dim")): number(z.get("median_ms"))
              for z in zmq_floor or []}
    configs = {}
    for d in dsgd:
        configs.setdefault((d.get("workers"), d.get("dim"), d.get("transport"), d.get("compress", "none")), []).append(d)
    rows = []
    for (workers, dim, transport, compress), results in configs.items():
        dsgd_t, gloo_t, zmq_t, ratios, zmq_ratios, floor_ratios = [], [], [], [], [], []
        cpu_t, bound_t, bound_ratios = [], [], []
        for d in results:
            t = trial(d)
            ms = number(d.get("median_ms"))
            g = gloo_ms.get((t, workers, dim))
            # The floor moves float32 both ways: the same bytes as float32 at dim, or as a 16-bit
            # encoding at twice the floor's dim; no floor for the others.
            z = floor_for(zmq_ms, t, transport, workers, dim, compress)
            dsgd_t.append(ms)
            gloo_t.append(g)
            zmq_t.append(z)
            if ms is not None and g:
                ratios.append(ms / g)
            if ms is not None and z:
                zmq_ratios.append(ms / z)
            if z and g:
                floor_ratios.append(z / g)
            cpu, bound = number(d.get("cpu_ms_per_round_total")), number(d.get("cpu_bound_ms"))
            cpu_t.append(cpu)
            bound_t.append(bound)
            if bound is not None and g:
                bound_ratios.append(bound / g)
        ratio = median(ratios)
        zmq_ratio = median(zmq_ratios)
        if compress == "none":
            target = TARGET_MAX_RATIO.get(dim) if workers == TARGET_WORKERS else None
        else:
            target = TARGET_COMPRESSED.get(compress) if workers == TARGET_WORKERS and dim == 1_000_000 else None
        floor_target = TARGET_FLOOR if compress == "none" and workers == TARGET_WORKERS and dim == 1_000_000 else None
        if gloo is None:
            meets = None
        else:
            meets = (ratio is not None and ratio <= target) if target is not None else None
        rows.append({
            "workers": workers,
            "dim": dim,
            "transport": transport,
            "compress": compress,
            "bytes_per_round": results[0].get("bytes_per_round"),
            "trials": len(results),
            "dsgd_median_ms": median(dsgd_t),
            "gloo_median_ms": median(gloo_t),
            "ratio": round(ratio, 4) if ratio is not None else None,
            "ratio_min": round(min(ratios), 4) if ratios else None,
            "ratio_max": round(max(ratios), 4) if ratios else None,
            "target_ratio": target,
            "meets_target": meets,
            "zmq_floor_median_ms": median(zmq_t),
            "ratio_to_zmq_floor": round(zmq_ratio, 4) if zmq_ratio is not None else None,
            "zmq_floor_to_gloo": round(median(floor_ratios), 4) if floor_ratios else None,
            "floor_target_ratio": floor_target,
            "meets_floor_target": (zmq_ratio is not None and zmq_ratio <= floor_target) if floor_target and zmq_floor is not None else None,
            "cpu_ms_per_round_total": median(cpu_t),
            "cpu_bound_ms": median(bound_t),
            "cpu_bound_to_gloo": round(median(bound_ratios), 4) if bound_ratios else None,
        })
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dsgd", required=True, help="JSON-lines output of `dsgd bench round`")
    p.add_argument("--gloo", help="JSON-lines output of scripts/gloo_allreduce.py (omit: gloo is null)")
    p.add_argument("--zmq", help="JSON-lines output of scripts/zmq_fanout.py (omit: zmq_floor is null)")
    p.add_argument("--note", action="append", default=[],
                   help="note to include in the document (may be repeated; empty notes are ignored)")
    p.add_argument("args", nargs="*", help="arguments that were passed to `dsgd bench round` (after --)")
    a = p.parse_args()

    dsgd = read_jsonl(a.dsgd, "sync_round")
    doc = {"benchmark": "bench_round_vs_gloo", "args": a.args, "dsgd": dsgd}
    # The CPU and kernel variant every dsgd line names (one run: all the same).
    machine = next(({"cpu": d.get("cpu"), "kernel": d.get("kernel")} for d in dsgd if "cpu" in d), None)
    if machine is not None:
        doc["machine"] = machine
    notes = [n for n in a.note if n]
    zmq_floor = read_jsonl(a.zmq, "zmq_fanout") if a.zmq is not None else None
    if a.gloo is None:
        doc["gloo"] = None
        doc["zmq_floor"] = zmq_floor
        doc["comparison"] = compare(dsgd, None, zmq_floor) if zmq_floor is not None else None
        doc["all_targets_met"] = None
    else:
        gloo = read_jsonl(a.gloo, "gloo_allreduce")
        rows = compare(dsgd, gloo, zmq_floor)
        doc["gloo"] = gloo
        doc["zmq_floor"] = zmq_floor
        doc["comparison"] = rows
        judged = [r["meets_target"] for r in rows if r["target_ratio"] is not None]
        judged += [r["meets_floor_target"] for r in rows if r["meets_floor_target"] is not None]
        doc["all_targets_met"] = all(judged) if judged else None
        if not judged:
            notes.append("no target configuration (2 workers, dim 1000/100000/1000000) was measured")
        missing = [r for r in rows if r["ratio"] is None]
        if missing:
            notes.append(f"{len(missing)} configuration(s) have no ratio (missing or null median)")
    if zmq_floor is not None:
        missing = [r for r in doc["comparison"] if r["ratio_to_zmq_floor"] is None and r["compress"] == "none"]
        if missing:
            notes.append(f"{len(missing)} configuration(s) have no ratio_to_zmq_floor (missing or null median)")
    doc["targets"] = {
        "compressed_max_ratio_at_1e6": TARGET_COMPRESSED,
        "float32_max_ratio_to_zmq_floor_at_1e6": TARGET_FLOOR,
        "workers": TARGET_WORKERS,
        "max_ratio": {str(k): v for k, v in TARGET_MAX_RATIO.items()},
        "ratio": "dsgd_median_ms / gloo_median_ms",
    }
    if notes:
        doc["note"] = "; ".join(notes)
    json.dump(doc, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
