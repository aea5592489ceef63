#!/usr/bin/env python3
"""Whole-image classifier accuracy on a synthetic screen, split by how visible each treatment's phenotype is.

The screen writer records every treatment's dose effect in <screen>/truth/treatments.csv: f = 0 renders DMSO
cells, f = 1 the mechanism's full phenotype (Hill curve of the dose). This script joins it with the
classifier's predictions/treatments.csv and prints, per holdout, accuracy within bins of f.

    python3 scripts/accuracy_by_effect.py runs/bbbc021-wholeimage-synthetic
"""
import csv
import sys
from collections import defaultdict
from pathlib import Path

BINS = [0.0, 0.2, 0.5, 0.8, 1.0001]


def main(run: Path) -> None:
    truth_path = run / "screen" / "truth" / "treatments.csv"
    predictions_path = run / "predictions" / "treatments.csv"
    for p in (truth_path, predictions_path):
        if not p.exists():
            sys.exit(f"error: {p} does not exist (run the pipeline first; the truth table comes from a synthetic screen)")
    effect = {}
    with truth_path.open() as f:
        for r in csv.DictReader(f):
            effect[(r["compound"], round(float(r["concentration"]), 6))] = float(r["effect"])
    counts = defaultdict(lambda: [0, 0])
    with predictions_path.open() as f:
        for r in csv.DictReader(f):
            if r["scored"] != "yes":
                continue
            key = (r["compound"], round(float(r["concentration"]), 6))
            if key not in effect:
                sys.exit(f"error: {predictions_path}: treatment {key[0]} {key[1]} is not in {truth_path}")
            b = next(i for i in range(len(BINS) - 1) if effect[key] < BINS[i + 1])
            for k in ((r["holdout"], b), (r["holdout"], "all")):
                counts[k][0] += r["predicted"] == r["moa"]
                counts[k][1] += 1
    print("holdout  effect      correct  accuracy")
    for holdout in sorted({h for h, _ in counts}):
        for b in list(range(len(BINS) - 1)) + ["all"]:
            if (holdout, b) not in counts:
                continue
            ok, n = counts[(holdout, b)]
            label = "all" if b == "all" else f"{BINS[b]:.1f}-{min(BINS[b + 1], 1):.1f}"
            print(f"{holdout:8s} {label:10s} {ok:3d}/{n:<3d}   {ok / n:6.1%}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
