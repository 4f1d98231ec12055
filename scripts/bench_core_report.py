"""The report of scripts/bench-core: dsgd's compute core against torch, per instruction-set row.

Usage: python3 scripts/bench_core_report.py TMP TORCH_OK TORCH_NOTE TRIALS ROW...
reads, for trial t in 1..TRIALS and row (isa) r, TMP/t.r.dsgd.jsonl, TMP/t.r.torch.jsonl and
TMP/t.r.note, and prints one JSON document on stdout and a table on stderr.

With one trial the document is {"cpu", "rows", "note"} (see scripts/bench-core). With several it
adds "trials" (each trial's "rows") and its "rows" are the medians over the trials: every
comparison entry's figures are the medians of the per-trial figures (each ratio computed within
its trial, dsgd and torch seconds apart), with "<figure>_min" and "<figure>_max" their range, and
the targets judged on the medians; an entry's "yardstick_range" and "run_range" (the two sides of
its fraction over dsgd's pairs) span all its trials. Standard library only.
"""

import json
import statistics
import sys

# Ratios to torch asked of dsgd (none for logistic regression at b=1024), and fractions of the
# yardsticks: every logistic row of the read bandwidth, every SGEMM product of the fma peak (none
# is set for the MLP).
TARGETS = {("logreg d=100", 64): 10.0, ("mlp 784-256-256-10", 64): 1.0, ("mlp 784-256-256-10", 256): 1.0}
BANDWIDTH_TARGET = 0.85
PEAK_TARGETS = {"sgemm": 0.75}
TORCH_ENV = {"avx2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}, "avx512": {}}
# The pairs' ranges of the two sides of a fraction (GB/s or GFLOP/s), taken from dsgd's lines and,
# over trials, widened to the lowest low and the highest high.
RANGES = ("yardstick_range", "run_range")
# The figures of an entry that are summarised over trials.
FIGURES = ("dsgd_samples_per_s", "torch_samples_per_s", "ratio", "dsgd_gflop_per_s",
           "dsgd_fraction_of_read_bandwidth", "dsgd_fraction_of_fma_peak")


def meets(value, target):
    return None if value is None or target is None else value >= target


def read(path):
    try:
        return [json.loads(line) for line in open(path) if line.strip().startswith("{")]
    except FileNotFoundError:
        return []


def comparison(dsgd, torch):
    """The entries of one row of one trial: each core workload against torch, each SGEMM product."""
    entries = []
    base = {(r["workload"], r["batch"]): r["samples_per_s"] for r in torch}
    for r in dsgd:
        if r.get("benchmark") != "core":
            continue
        key = (r["workload"], r["batch"])
        theirs = base.get(key)
        ratio = round(r["samples_per_s"] / theirs, 2) if theirs else None
        yardstick = "read_bandwidth" if "fraction_of_read_bandwidth" in r else "fma_peak"
        entry = {"workload": key[0], "batch": key[1], "dsgd_samples_per_s": r["samples_per_s"],
                 "torch_samples_per_s": theirs, "ratio": ratio, "target": TARGETS.get(key),
                 "dsgd_fraction_of_" + yardstick: r.get("fraction_of_" + yardstick)}
        entry.update({k: r[k] for k in RANGES if k in r})
        if yardstick == "read_bandwidth":
            entry["bandwidth_target"] = BANDWIDTH_TARGET
        else:
            entry["peak_target"] = PEAK_TARGETS.get(key[0])
        entries.append(entry)
    for r in dsgd:
        if r.get("benchmark") == "sgemm":
            entries.append({"workload": "sgemm", "op": r["op"], "m": r["m"], "n": r["n"], "k": r["k"],
                            "dsgd_gflop_per_s": r["gflop_per_s"], "dsgd_fraction_of_fma_peak": r.get("fraction_of_fma_peak"),
                            "peak_target": PEAK_TARGETS["sgemm"], **{k: r[k] for k in RANGES if k in r}})
    return entries


def judge(entry):
    """Adds the meets_* verdicts of `entry` (on its figures, medians when summarised)."""
    if "target" in entry:
        entry["meets_target"] = meets(entry.get("ratio"), entry["target"])
    if "bandwidth_target" in entry:
        entry["meets_bandwidth_target"] = meets(entry.get("dsgd_fraction_of_read_bandwidth"), entry["bandwidth_target"])
    if "peak_target" in entry:
        entry["meets_peak_target"] = meets(entry.get("dsgd_fraction_of_fma_peak"), entry["peak_target"])
    return entry


def key(entry):
    return (entry["workload"], entry.get("batch"), entry.get("op"), entry.get("m"), entry.get("n"), entry.get("k"))


def summarise(per_trial):
    """One entry per key: the medians over trials of each figure, with their range."""
    merged = {}
    for entries in per_trial:
        for e in entries:
            merged.setdefault(key(e), []).append(e)
    out = []
    for group in merged.values():
        entry = {k: v for k, v in group[0].items() if k not in FIGURES}
        for k in RANGES:
            ranges = [e[k] for e in group if e.get(k)]
            if ranges:
                entry[k] = [min(r[0] for r in ranges), max(r[1] for r in ranges)]
        for figure in (f for f in FIGURES if f in group[0]):
            values = [e[figure] for e in group if e.get(figure) is not None]
            entry[figure] = round(statistics.median(values), 4) if values else None
            if values and len(group) > 1:
                entry[figure + "_min"], entry[figure + "_max"] = min(values), max(values)
        entry["trials"] = len(group)
        out.append(judge(entry))
    return out


def spread(entry, figure, fmt):
    low, high = entry.get(figure + "_min"), entry.get(figure + "_max")
    return "" if low is None else f" ({fmt.format(low)}-{fmt.format(high)})"


def sides(e, unit):
    """The pairs' yardstick and run ranges of entry `e`, or nothing when dsgd's lines lack them."""
    y, r = e.get("yardstick_range"), e.get("run_range")
    return "" if not (y and r) else f"; yardstick {y[0]:.2f}-{y[1]:.2f}, run {r[0]:.2f}-{r[1]:.2f} {unit}"


def line(isa, e):
    """One stderr line for entry `e` of row `isa`."""
    verdict = lambda met: {True: "met", False: "missed", None: "n/a"}[met]
    if e["workload"] == "sgemm":
        fraction = e.get("dsgd_fraction_of_fma_peak")
        return (f"{isa:7s} sgemm {e['op']} {e['m']}x{e['n']}x{e['k']:<10} {e['dsgd_gflop_per_s']:7.2f} GFLOP/s  "
                f"({'n/a' if fraction is None else f'{fraction:.2f}'}{spread(e, 'dsgd_fraction_of_fma_peak', '{:.2f}')} of fma_peak, "
                f"target {e['peak_target']:.2f}: {verdict(e['meets_peak_target'])}{sides(e, 'GFLOP/s')})")
    theirs, ratio = e.get("torch_samples_per_s"), e.get("ratio")
    text = f"{isa:7s} {e['workload']:20s} b={e['batch']:<5d} dsgd {e['dsgd_samples_per_s']:>11,.0f}/s  torch "
    text += f"{theirs:>11,.0f}/s  ratio {ratio:5.2f}{spread(e, 'ratio', '{:.2f}')}" if theirs and ratio is not None else "        n/a"
    if theirs and e.get("target"):
        text += f" (target {e['target']:g}x: {verdict(e['meets_target'])})"
    yardstick = "read_bandwidth" if "bandwidth_target" in e else "fma_peak"
    fraction = e.get("dsgd_fraction_of_" + yardstick)
    text += f"  ({'n/a' if fraction is None else f'{fraction:.2f}'}{spread(e, 'dsgd_fraction_of_' + yardstick, '{:.2f}')} of {yardstick}"
    target = e.get("bandwidth_target", e.get("peak_target"))
    if target is not None:
        text += f", target {target:.2f}: {verdict(e.get('meets_bandwidth_target', e.get('meets_peak_target')))}"
    return text + sides(e, "GB/s" if yardstick == "read_bandwidth" else "GFLOP/s") + ")"


def main(argv):
    tmp, torch_ok, torch_note, trials, rows = argv[1], argv[2] == "1", argv[3], int(argv[4]), argv[5:]
    cpu, trial_docs = None, []
    for t in range(1, trials + 1):
        out_rows = []
        for isa in rows:
            dsgd = read(f"{tmp}/{t}.{isa}.dsgd.jsonl")
            torch = read(f"{tmp}/{t}.{isa}.torch.jsonl") if torch_ok else []
            note = open(f"{tmp}/{t}.{isa}.note").read().strip() or None
            cpu = next((r.get("cpu") for r in dsgd if r.get("benchmark") == "machine"), cpu)
            entries = [judge(e) for e in comparison(dsgd, torch)]
            out_rows.append({"isa": isa, "env": TORCH_ENV[isa], "dsgd": dsgd, "torch": torch if torch_ok else None,
                             "comparison": entries or None, "note": note})
        trial_docs.append(out_rows)
    if trials == 1:
        rows_out = trial_docs[0]
    else:
        rows_out = []
        for i, isa in enumerate(rows):
            per_trial = [doc[i]["comparison"] for doc in trial_docs if doc[i]["comparison"]]
            notes = sorted({doc[i]["note"] for doc in trial_docs if doc[i]["note"]})
            rows_out.append({"isa": isa, "env": TORCH_ENV[isa], "comparison": summarise(per_trial) if per_trial else None,
                             "note": "; ".join(notes) or None})
    for row in rows_out:
        for e in row["comparison"] or []:
            print("bench-core: " + line(row["isa"], e), file=sys.stderr)
        if row["note"] and row["note"].startswith("skipped"):
            print(f"bench-core: {row['isa']:7s} {row['note']}", file=sys.stderr)
    doc = {"cpu": cpu, "rows": rows_out, "note": torch_note or None}
    if trials > 1:
        doc["trials"] = [{"trial": t + 1, "rows": r} for t, r in enumerate(trial_docs)]
    print(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main(sys.argv)
