"""Precision and recall of "same matter / same event" on the labelled set, and the sweep that chose the measure.

    .venv/bin/python bench/repeats_quality.py              # the configured rule at its threshold
    .venv/bin/python bench/repeats_quality.py --sweep      # every candidate measure × threshold (docs/REPEATS.md)

A pair of appeals is a positive when both carry the same ``matter`` label. The pairs judged are the
ones the rules ever compare: any two within the 一事多人 window (72 h), and two calls from one phone
within the 一人多次 window (30 days) — in every village and category, so a pair in another village or
category counts as an (easy) negative and cannot hide a false positive. The prediction is
``app.domain.repeats.same_matter`` (category, place and text). tests/test_repeats_quality.py imports
``measure()`` from here and fails below the targets.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rapidfuzz import fuzz  # noqa: E402
from rapidfuzz.distance import Indel  # noqa: E402

from app.domain import repeats  # noqa: E402

DATA = ROOT / "tests/data/repeats_labelled.jsonl"
TARGET_PRECISION, TARGET_RECALL = 0.90, 0.85


def load(path: Path = DATA) -> list[tuple[repeats.Appeal, int, str]]:
    """(appeal, matter label, scenario) for every line of the labelled file."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        a = repeats.Appeal(
            id=r["id"], received_at=datetime.fromisoformat(r["received_at"]), phone=r["phone"],
            anonymous=r["anonymous"], territory_code=r["territory"], township_code=r["township"],
            category_code=r["category"], title=r["title"], content=r["content"],
        )
        out.append((a, r["matter"], r["scenario"]))
    return out


def score(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """(precision, recall, F1)."""
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def compared(a: repeats.Appeal, b: repeats.Appeal, rules: repeats.Rules) -> bool:
    """Would either rule ever put these two side by side?"""
    gap = abs(a.received_at - b.received_at)
    return gap <= rules.mass_event_window or (repeats.same_caller(a, b) and gap <= rules.repeat_caller_window)


def measure(rules: repeats.Rules | None = None, path: Path = DATA) -> dict:
    """Pairwise counts, precision and recall of the domain rule over the pairs the rules compare."""
    rules = rules or repeats.Rules()
    rows = load(path)
    tp = fp = fn = judged = 0
    missed, wrong = [], []
    for (a, ma, _), (b, mb, _) in combinations(rows, 2):
        if not compared(a, b, rules):
            continue
        judged += 1
        predicted = repeats.same_matter(a, b, rules, repeats.Relations())
        if predicted and ma == mb:
            tp += 1
        elif predicted:
            fp += 1
            wrong.append((a, b))
        elif ma == mb:
            fn += 1
            missed.append((a, b))
    p, r, f1 = score(tp, fp, fn)
    return {"appeals": len(rows), "pairs": judged, "tp": tp, "fp": fp, "fn": fn,
            "precision": p, "recall": r, "f1": f1, "missed": missed, "wrong": wrong}


# --- the sweep: other measures the rule could have used ------------------------------------

def _grams(a: repeats.Appeal) -> set[str]:
    return {a.norm[i:i + 2] for i in range(len(a.norm) - 1)} or {a.norm}


def _overlap(x: set, y: set) -> float:
    return len(x & y) / min(len(x), len(y)) if x and y else 0.0


def _indel(a, b) -> float:
    return Indel.normalized_similarity(a.norm, b.norm)


MEASURES = {
    "Indel ratio": _indel,
    "partial_ratio": lambda a, b: fuzz.partial_ratio(a.norm, b.norm) / 100,
    "token_set_ratio over bigrams": lambda a, b: fuzz.token_set_ratio(" ".join(sorted(_grams(a))),
                                                                      " ".join(sorted(_grams(b)))) / 100,
    "bigram Jaccard": lambda a, b: len(_grams(a) & _grams(b)) / len(_grams(a) | _grams(b)),
    "bigram overlap": lambda a, b: _overlap(_grams(a), _grams(b)),
    "bigram overlap + Indel": lambda a, b: 0.5 * _overlap(_grams(a), _grams(b)) + 0.5 * _indel(a, b),
    "character overlap": lambda a, b: _overlap(set(a.norm), set(b.norm)),
    "character overlap + Indel (chosen)": repeats.similarity,
}


def sweep(path: Path = DATA, rules: repeats.Rules | None = None) -> list[tuple[str, float, float, float, float, str]]:
    """Per measure: (name, best F1, its threshold, P, R, the threshold range that meets both targets)."""
    rules = rules or repeats.Rules()
    rows = load(path)
    judged = [(a, b, ma == mb) for (a, ma, _), (b, mb, _) in combinations(rows, 2) if compared(a, b, rules)]
    positives = sum(1 for _, _, same in judged if same)
    candidates = [(a, b, same) for a, b, same in judged if a.category_code == b.category_code and repeats.same_place(a, b)]
    out = []
    for name, fn in MEASURES.items():
        scores = [(fn(a, b), same) for a, b, same in candidates]
        best, ok = (0.0, 0.0, 0.0, 0.0), []
        for t in [x / 100 for x in range(5, 96)]:
            tp = sum(1 for s, same in scores if s >= t and same)
            fp = sum(1 for s, same in scores if s >= t and not same)
            p, r, f1 = score(tp, fp, positives - tp)
            if p >= TARGET_PRECISION and r >= TARGET_RECALL:
                ok.append(t)
            if f1 > best[0]:
                best = (f1, t, p, r)
        out.append((name, *best, f"{ok[0]:.2f}–{ok[-1]:.2f}" if ok else "—"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="repeat-appeal matching quality")
    parser.add_argument("--sweep", action="store_true", help="compare measures and thresholds")
    parser.add_argument("--data", type=Path, default=DATA, help="labelled file (another seed of repeats_dataset.py)")
    parser.add_argument("--similarity", type=float, default=repeats.Rules().similarity)
    parser.add_argument("--show", type=int, default=0, help="print this many missed and wrong pairs")
    args = parser.parse_args()
    if args.sweep:
        print("| measure | best F1 | at threshold | precision | recall | thresholds meeting P ≥ 0.90 and R ≥ 0.85 |")
        print("|---|---|---|---|---|---|")
        for name, f1, t, p, r, ok in sweep(args.data):
            print(f"| {name} | {f1:.3f} | {t:.2f} | {p:.3f} | {r:.3f} | {ok} |")
        return
    m = measure(repeats.Rules(similarity=args.similarity), args.data)
    print(f"{m['appeals']} appeals, {m['pairs']} pairs; threshold {args.similarity}: TP {m['tp']}, FP {m['fp']}, "
          f"FN {m['fn']}; precision {m['precision']:.3f}, recall {m['recall']:.3f}, F1 {m['f1']:.3f}")
    for label, pairs in (("missed", m["missed"]), ("wrong", m["wrong"])):
        for a, b in pairs[:args.show]:
            print(f"{label} {repeats.similarity(a, b):.2f}\n  {a.title}｜{a.content}\n  {b.title}｜{b.content}")


if __name__ == "__main__":
    main()
