#!/usr/bin/env python3
"""Merge `dsgd bench round` and scripts/gloo_allreduce.py output into one JSON document.

Used by scripts/bench-round. Inputs are JSON-lines files; the document goes to stdout:

    {
      "benchmark": "bench_round_vs_gloo",
      "args": [...],                     # arguments given to `dsgd bench round`
      "dsgd": [ {sync_round result}, ... ],
      "gloo": [ {gloo_allreduce result}, ... ] | null,
      "comparison": [ {"workers","dim","transport","dsgd_median_ms","gloo_median_ms",
                       "ratio","target_ratio","meets_target"}, ... ] | null,
      "targets": {"workers": 2, "max_ratio": {"1000": 0.25, "100000": 0.5, "1000000": 1.0}},
      "all_targets_met": true | false | null,
      "note": "..."                      # only when there is something to say
    }

ratio = dsgd_median_ms / gloo_median_ms for the same worker count (gloo world size) and dim.
target_ratio / meets_target are set for the target rows (2 workers, D in 1e3/1e5/1e6), null otherwise.
"""

import argparse
import json
import math
import sys

TARGET_WORKERS = 2
TARGET_MAX_RATIO = {1_000: 0.25, 100_000: 0.5, 1_000_000: 1.0}


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


def compare(dsgd, gloo):
    by_key = {(g.get("world"), g.get("dim")): g for g in gloo}
    rows = []
    for d in dsgd:
        workers, dim, transport = d.get("workers"), d.get("dim"), d.get("transport")
        g = by_key.get((workers, dim))
        dsgd_ms = number(d.get("median_ms"))
        gloo_ms = number(g.get("median_ms")) if g else None
        ratio = dsgd_ms / gloo_ms if dsgd_ms is not None and gloo_ms else None
        target = TARGET_MAX_RATIO.get(dim) if workers == TARGET_WORKERS else None
        meets = (ratio is not None and ratio <= target) if target is not None else None
        rows.append({
            "workers": workers,
            "dim": dim,
            "transport": transport,
            "dsgd_median_ms": dsgd_ms,
            "gloo_median_ms": gloo_ms,
            "ratio": round(ratio, 4) if ratio is not None else None,
            "target_ratio": target,
            "meets_target": meets,
        })
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dsgd", required=True, help="JSON-lines output of `dsgd bench round`")
    p.add_argument("--gloo", help="JSON-lines output of scripts/gloo_allreduce.py (omit: gloo is null)")
    p.add_argument("--note", default="", help="note to include in the document")
    p.add_argument("args", nargs="*", help="arguments that were passed to `dsgd bench round` (after --)")
    a = p.parse_args()

    dsgd = read_jsonl(a.dsgd, "sync_round")
    doc = {"benchmark": "bench_round_vs_gloo", "args": a.args, "dsgd": dsgd}
    notes = [a.note] if a.note else []
    if a.gloo is None:
        doc["gloo"] = None
        doc["comparison"] = None
        doc["all_targets_met"] = None
    else:
        gloo = read_jsonl(a.gloo, "gloo_allreduce")
        rows = compare(dsgd, gloo)
        doc["gloo"] = gloo
        doc["comparison"] = rows
        judged = [r["meets_target"] for r in rows if r["target_ratio"] is not None]
        doc["all_targets_met"] = all(judged) if judged else None
        if not judged:
            notes.append("no target configuration (2 workers, dim 1000/100000/1000000) was measured")
        missing = [r for r in rows if r["ratio"] is None]
        if missing:
            notes.append(f"{len(missing)} configuration(s) have no ratio (missing or null median)")
    doc["targets"] = {
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
