#!/usr/bin/env python3
"""Write TA-Lib golden outputs for every CSV in $MTF_DATA_DIR (default ../shared/data).

Usage:
    python3 -m venv .venv && .venv/bin/pip install TA-Lib numpy
    .venv/bin/python scripts/talib_fixtures.py

Output: crates/features/tests/fixtures/talib/<file stem>.csv.gz, one row per input bar, columns
`sma_50, ema_20, rsi_14, macd, macd_signal, macd_hist, bb_upper, bb_middle, bb_lower, atr_14, adx_14,
plus_di_14, minus_di_14, stoch_k, stoch_d, obv, mfi_14` (the `mtf indicators` columns), values in
Python's repr (exact round-trip), empty where TA-Lib returns NaN (warm-up). The first line is a comment
naming the source file, its sha256 and the TA-Lib version. Inputs are the raw columns of the file
(no validation or repair), so the Rust tests feed the same raw columns.
"""
import csv
import gzip
import hashlib
import os
import pathlib

import numpy as np
import talib

ROOT = pathlib.Path(__file__).resolve().parent.parent
DATA = pathlib.Path(os.environ.get("MTF_DATA_DIR", ROOT.parent / "shared" / "data"))
OUT = ROOT / "crates" / "features" / "tests" / "fixtures" / "talib"

COLUMNS = ["sma_50", "ema_20", "rsi_14", "macd", "macd_signal", "macd_hist", "bb_upper", "bb_middle",
           "bb_lower", "atr_14", "adx_14", "plus_di_14", "minus_di_14", "stoch_k", "stoch_d", "obv", "mfi_14"]


def indicators(o, h, l, c, v):
    macd, sig, hist = talib.MACD(c, 12, 26, 9)
    up, mid, lo = talib.BBANDS(c, 20, 2.0, 2.0, talib.MA_Type.SMA)
    k, d = talib.STOCH(h, l, c, 14, 3, talib.MA_Type.SMA, 3, talib.MA_Type.SMA)
    return [talib.SMA(c, 50), talib.EMA(c, 20), talib.RSI(c, 14), macd, sig, hist, up, mid, lo,
            talib.ATR(h, l, c, 14), talib.ADX(h, l, c, 14), talib.PLUS_DI(h, l, c, 14),
            talib.MINUS_DI(h, l, c, 14), k, d, talib.OBV(c, v), talib.MFI(h, l, c, v, 14)]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for path in sorted(DATA.glob("*.csv")):
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        cols = {k: np.array([float(r[k]) for r in rows]) for k in ("open", "high", "low", "close", "volume")}
        outs = indicators(cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"])
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        target = OUT / (path.stem + ".csv.gz")
        with gzip.GzipFile(target, "wb", mtime=0) as gz:
            lines = [f"# source={path.name} sha256={sha} talib={talib.__version__}", ",".join(COLUMNS)]
            for i in range(len(rows)):
                lines.append(",".join("" if np.isnan(x[i]) else repr(float(x[i])) for x in outs))
            gz.write(("\n".join(lines) + "\n").encode())
        print(f"{target.relative_to(ROOT)}: {len(rows)} rows")


if __name__ == "__main__":
    main()
