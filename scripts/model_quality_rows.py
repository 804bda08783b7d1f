#!/usr/bin/env python3
"""Print BENCHMARKS.md's model-quality tables (issue 13) from the committed reports.

Usage (from the repository root):
    python3 scripts/model_quality_rows.py models/*/report.json

Every number is read from report.json; nothing is typed by hand. Two tables:
1. the goals table: coverage (with live recalibration), interval score against the best band baseline,
   pinball against the lowest baseline, Brier against climatology, direction, signals;
2. coverage against sampling noise: the worst 100-run gap (with live recalibration) next to what an ideal band
   shows on the same counts (`ideal_gap_100`), and the hours whose coverage is off 0.80 beyond the 95 % Wilson
   interval (the same rule as crates/model/src/coverage_noise.rs).
"""
import json
import math
import sys

BANDS = ("realised_vol", "har_vol", "gbdt_quantile")
Z95 = 1.959963984540054


def pct(x):
    return f"{100 * x:.1f} %"


def wilson(k, n, z=Z95):
    if n == 0:
        return 0.0, 1.0
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(c - h, 0.0), min(c + h, 1.0)


def off_hours(m):
    out = []
    for g in m.get("by_time_of_day", []):
        lo, hi = wilson(round(g["coverage"] * g["n"]), g["n"])
        if not lo <= 0.8 <= hi:
            out.append(f"{g['group']} {g['coverage']:.3f}")
    return out


def goals_row(name, label, m):
    b = m["baselines"]
    bands = {k: b[k]["interval_score"] for k in BANDS if k in b}
    best = min(bands, key=bands.get)
    pin = min(b[k]["pinball_loss"] for k in b if b[k].get("pinball_loss") is not None)
    clim = b["persistence"]["brier"]
    a = m["adaptive"]
    s = m["signals"]
    sig = "hold only" if s["count"] == 0 else f"{s['count']:,}, {pct(s['hit_rate'])} vs {pct(s['base_rate'])}"
    ratio = m["interval_score"] / bands[best]
    return (
        f"| {name}, {label} | {m['n_predictions']:,} | {m['coverage_q10_q90']:.3f} ({a['coverage_q10_q90']:.3f}) | "
        f"{ratio:.3f}× ({a['interval_score'] / bands[best]:.3f}×) {best} | {'met' if ratio <= 0.9 else 'missed'} | "
        f"{m['pinball_loss']:.5f} / {pin:.5f} | {m['brier']:.3f} / {clim:.3f} | "
        f"{pct(m['directional_accuracy'])} vs {pct(m['directional_base_rate'])}, "
        f"{pct(m['directional_accuracy_top20'])} | {sig} |"
    )


def noise_row(name, label, m, ideal):
    gap = m.get("max_coverage_gap_100")
    agap = m["adaptive"].get("max_coverage_gap_100")
    fmt = lambda g: "–" if g is None else f"{g:.3f}"
    ideal_txt = "–" if ideal is None else (
        f"{ideal['median']:.3f} / {ideal['p95']:.3f} / {pct(ideal['share_within_goal'])}"
    )
    hours = m.get("by_time_of_day", [])
    off = off_hours(m)
    aoff = off_hours(m["adaptive"])
    hours_txt = "–" if not hours else f"{len(off)} of {len(hours)}" + (f" ({', '.join(off)})" if off else "")
    ahours_txt = "–" if not hours else f"{len(aoff)} of {len(hours)}" + (f" ({', '.join(aoff)})" if aoff else "")
    return f"| {name}, {label} | {fmt(gap)} ({fmt(agap)}) | {ideal_txt} | {hours_txt} | {ahours_txt} |"


def sets(paths):
    for path in paths:
        r = json.load(open(path))
        name = path.split("/")[-2]
        yield name, "walk-forward", r, r.get("ideal_gap_100")
        if r.get("holdout"):
            h = r["holdout"]
            yield name, "held-out " + " + ".join(h["symbols"]), h, h.get("ideal_gap_100")


def main(paths):
    print("| model, set | predictions | coverage (ACI) | interval score: model (ACI) / best band baseline | goal ≤ 0.90× "
          "| pinball: model / lowest baseline | Brier: model / climatology | dir. acc. vs base rate, top fifth "
          "| signals: n, hit vs base |")
    print("|---|---:|---|---|---|---|---|---|---|")
    for name, label, m, _ in sets(paths):
        print(goals_row(name, label, m))
    print()
    print("| model, set | worst 100-run gap (ACI) | ideal band: median / 95th pct / share within ±3 points "
          "| hours off 0.80 beyond noise | with ACI |")
    print("|---|---|---|---|---|")
    for name, label, m, ideal in sets(paths):
        print(noise_row(name, label, m, ideal))
    print()
    for path in paths:
        r = json.load(open(path))
        v = [f["valid_interval_score"] for f in r["folds"] if f.get("valid_interval_score") is not None]
        att = r.get("attention") or {}
        print(f"{path.split('/')[-2]}: mean validation interval score {sum(v) / len(v):.5f} over {len(v)} folds; "
              f"attention entropy {att.get('mean_normalised_entropy', float('nan')):.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
