"""Sums the operators of Chrome traces, as `morpho bench embed|train|deepnoise --trace FILE` writes them
(Morpho's engine in FILE, PyTorch in FILE.pytorch.json): per operator name, calls and self time (its
duration less that of the operators nested in it on the same thread), in ms per traced run.
Usage: trace_summary.py FILE [OTHER] [--top 30]
With two files the table has both side by side, sorted by the larger self time.
"""
import argparse
import json
from collections import defaultdict


def self_times(path):
    with open(path) as f:
        doc = json.load(f)
    events = doc["traceEvents"] if isinstance(doc, dict) else doc
    ops = [e for e in events if e.get("ph") == "X" and e.get("cat", "cpu_op") == "cpu_op"]
    by_thread = defaultdict(list)
    for e in ops:
        by_thread[(e.get("pid"), e.get("tid"))].append((float(e["ts"]), float(e["dur"]), e["name"]))
    total, calls = defaultdict(float), defaultdict(int)
    for events in by_thread.values():
        events.sort(key=lambda e: (e[0], -e[1]))
        stack = []  # open operators: [end, name, time of their children, duration]

        def close():
            _, n, child, d = stack.pop()
            total[n] += d - child

        for ts, dur, name in events:
            while stack and stack[-1][0] <= ts:
                close()
            if stack:
                stack[-1][2] += dur
            stack.append([ts + dur, name, 0.0, dur])
            calls[name] += 1
        while stack:
            close()
    return {n: (calls[n], total[n] / 1000) for n in total}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("files", nargs="+")
    p.add_argument("--top", type=int, default=30)
    args = p.parse_args()
    tables = [self_times(f) for f in args.files[:2]]
    names = sorted(set().union(*tables), key=lambda n: -max(t.get(n, (0, 0))[1] for t in tables))
    header = "".join(f"{'calls':>7} {'self ms':>9}  " for _ in tables)
    print(f"{header}operator")
    for t in tables:
        print(f"total self ms: {sum(v[1] for v in t.values()):.1f}")
    for n in names[: args.top]:
        print("".join(f"{t.get(n, (0, 0))[0]:7d} {t.get(n, (0, 0))[1]:9.1f}  " for t in tables) + n)


if __name__ == "__main__":
    main()
