#!/usr/bin/env python3
"""Time TA-Lib's C functions on the array the Rust criterion bench uses (`benches/indicators.rs`):
the OHLCV columns of $MTF_DATA_DIR/spy_1min_2011-01.csv tiled to 1,000,000 rows.

Usage: python3 -m venv .venv && .venv/bin/pip install TA-Lib numpy && .venv/bin/python scripts/bench_talib.py
Prints, per indicator, the median of 15 runs in milliseconds (the Python call overhead, ~1 µs, is negligible
at this size). Single-threaded, like the Rust bench.
"""
import csv
import os
import pathlib
import statistics
import time

import numpy as np
import talib

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = pathlib.Path(os.environ.get("MTF_DATA_DIR", ROOT.parent / "shared" / "data"))
N = 1_000_000

with open(DATA / "spy_1min_2011-01.csv", newline="") as f:
    rows = list(csv.DictReader(f))
cols = {k: np.resize(np.array([float(r[k]) for r in rows]), N) for k in ("open", "high", "low", "close", "volume")}
o, h, l, c, v = (np.ascontiguousarray(cols[k]) for k in ("open", "high", "low", "close", "volume"))

cases = {
    "sma50": lambda: talib.SMA(c, 50),
    "ema20": lambda: talib.EMA(c, 20),
    "rsi14": lambda: talib.RSI(c, 14),
    "macd": lambda: talib.MACD(c, 12, 26, 9),
    "bbands20": lambda: talib.BBANDS(c, 20, 2.0, 2.0, 0),
    "atr14": lambda: talib.ATR(h, l, c, 14),
    "adx14": lambda: talib.ADX(h, l, c, 14),
    "di14": lambda: (talib.PLUS_DI(h, l, c, 14), talib.MINUS_DI(h, l, c, 14)),
    "stoch": lambda: talib.STOCH(h, l, c, 14, 3, 0, 3, 0),
    "obv": lambda: talib.OBV(c, v),
    "mfi14": lambda: talib.MFI(h, l, c, v, 14),
}
print(f"TA-Lib {talib.__version__} (C {talib.__ta_version__.decode()}), numpy {np.__version__}, N={N}")
for name, fn in cases.items():
    fn()
    times = []
    for _ in range(15):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    print(f"{name:10s} {statistics.median(times):8.2f} ms")
