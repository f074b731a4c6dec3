"""Speed and memory of `classify` against plain `jieba.lcut` on the same texts, same run.

Run from the repo root: `python bench/classify_speed.py [--n 20000]`.
Texts: the dev set and the real message board cycled to N messages; real messages longer
than 500 characters are truncated to 500 (a WeChat complaint is short; the board has essays).
Also: time to first classification in a fresh process, and RSS after the classifier is loaded.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# run as a script: import the project from the repo root, not from bench/
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared"  # the team's data sets sit beside the checkout
DEV = SHARED / "data" / "complaints-dev.jsonl"
REAL = SHARED / "data" / "real" / "messages-with-replies.jsonl"
TRUNCATE = 500

FIRST = """
import time; t0 = time.perf_counter()
import sys; sys.path.insert(0, %r)
from keywords import classify
classify("社保局窗口的人不理人")
t1 = time.perf_counter()
rss = [l for l in open('/proc/self/status') if l.startswith(('VmRSS', 'VmHWM'))]
print(t1 - t0, *[int(l.split()[1]) for l in rss])
"""


def texts(n: int) -> list[str]:
    rows = [json.loads(x)["text"] for x in DEV.read_text(encoding="utf-8").splitlines() if x]
    rows += [json.loads(x)["text"][:TRUNCATE] for x in REAL.read_text(encoding="utf-8").splitlines()
             if x]
    return list(itertools.islice(itertools.cycle(rows), n))


def fresh_process() -> tuple[float, int, int]:
    """(seconds from interpreter start to first result, VmRSS kB, VmHWM kB) in a new process."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", FIRST % str(ROOT)], capture_output=True,
                         text=True, check=True).stdout.split()
    inner = float(out[0])
    return max(inner, time.perf_counter() - t0), int(out[1]), int(out[2])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    args = ap.parse_args(argv)
    first, rss, hwm = fresh_process()
    import jieba

    from keywords import get_classifier

    clf = get_classifier()
    data = texts(args.n)
    chars = sum(map(len, data))
    clf.classify(data[0])
    # interleaved chunks: load from other processes on the machine hits all three alike
    t_jieba = t_nohmm = t_clf = 0.0
    for k in range(0, len(data), 500):
        chunk = data[k:k + 500]
        t = time.perf_counter()
        for s in chunk:
            jieba.lcut(s)
        t_jieba += time.perf_counter() - t
        t = time.perf_counter()
        for s in chunk:
            jieba.lcut(s, HMM=False)
        t_nohmm += time.perf_counter() - t
        t = time.perf_counter()
        for s in chunk:
            clf.classify(s)
        t_clf += time.perf_counter() - t
    print(f"messages: {len(data)} (dev + real cycled, real truncated to {TRUNCATE} chars; "
          f"{chars / len(data):.0f} chars on average)\n")
    print("| measure | value |\n|---|---|")
    print(f"| jieba.lcut messages/s | {len(data) / t_jieba:,.0f} |")
    print(f"| classify messages/s | {len(data) / t_clf:,.0f} |")
    print(f"| classify time / jieba.lcut time | {t_clf / t_jieba:.2f}x (target <= 1.5x) |")
    print(f"| classify time / jieba.lcut(HMM=False) time (what classify runs inside) | "
          f"{t_clf / t_nohmm:.2f}x |")
    print(f"| first classification, fresh process (incl. interpreter start) | {first:.2f} s |")
    print(f"| RSS after load + first classify (VmRSS / peak VmHWM) | {rss / 1024:.0f} MB / "
          f"{hwm / 1024:.0f} MB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
