"""Alpaca's official Python SDK (alpaca-py) against `mtf replay`: REST through StockHistoricalDataClient and the
stream through StockDataStream, both with `url_override`. Prints what it got as JSON for crates/cli/tests/alpaca_sdk.rs.

usage: alpaca_sdk.py HISTORY_URL STREAM_URL KEY SECRET
"""
import json
import sys
import threading
import time
from datetime import datetime, timezone

from alpaca.data.enums import DataFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.live import StockDataStream
from alpaca.data.requests import (
    StockBarsRequest,
    StockLatestBarRequest,
    StockLatestQuoteRequest,
    StockLatestTradeRequest,
    StockSnapshotRequest,
)
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

history, stream_url, key, secret = sys.argv[1:5]
utc = timezone.utc
c = StockHistoricalDataClient(key, secret, url_override=history)
out = {}

# Minute bars of two symbols over several pages (the SDK follows next_page_token, 10,000 bars a page).
bars = c.get_stock_bars(
    StockBarsRequest(
        symbol_or_symbols=["SPY", "AAPL"],
        timeframe=TimeFrame.Minute,
        start=datetime(2011, 1, 1, tzinfo=utc),
        end=datetime(2016, 12, 31, tzinfo=utc),
        feed=DataFeed.IEX,
    )
)
out["minute"] = {
    s: [len(v), v[0].timestamp.isoformat(), v[0].open, v[0].high, v[0].low, v[0].close, v[0].volume, v[0].trade_count, v[0].vwap]
    for s, v in bars.data.items()
}
df = bars.df  # the pandas frame users build on
out["df"] = [len(df), sorted(df.columns)]
weeks = c.get_stock_bars(
    StockBarsRequest(symbol_or_symbols="MSFT", timeframe=TimeFrame.Week, start=datetime(2024, 1, 1, tzinfo=utc))
)
out["weeks"] = [[b.timestamp.isoformat(), b.open, b.close, b.volume] for b in weeks["MSFT"]]
months = c.get_stock_bars(
    StockBarsRequest(symbol_or_symbols="MSFT", timeframe=TimeFrame.Month, start=datetime(2023, 1, 1, tzinfo=utc))
)
out["months"] = [b.timestamp.isoformat() for b in months["MSFT"]]
q15 = c.get_stock_bars(
    StockBarsRequest(symbol_or_symbols="JPM", timeframe=TimeFrame(15, TimeFrameUnit.Minute), start=datetime(2019, 1, 1, tzinfo=utc))
)
out["jpm15"] = len(q15["JPM"])

lt = c.get_stock_latest_trade(StockLatestTradeRequest(symbol_or_symbols=["SPY", "AAPL"]))
out["latest_trade"] = {s: [t.price, t.timestamp.isoformat()] for s, t in lt.items()}
lq = c.get_stock_latest_quote(StockLatestQuoteRequest(symbol_or_symbols=["SPY"]))
out["latest_quote"] = {s: [q.bid_price, q.ask_price] for s, q in lq.items()}
lb = c.get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols=["SPY"]))
out["latest_bar"] = {s: [b.timestamp.isoformat(), b.close] for s, b in lb.items()}
snap = c.get_stock_snapshot(StockSnapshotRequest(symbol_or_symbols=["SPY"]))
out["snapshot"] = {s: [x.latest_trade.price, x.minute_bar.close, x.daily_bar.close] for s, x in snap.items()}

# The stream: MessagePack frames (the SDK asks for them), bars as the replay clock passes them.
stream = StockDataStream(key, secret, url_override=stream_url)
got = []


async def on_bar(b):
    got.append([b.symbol, b.timestamp.isoformat(), b.open, b.close, b.volume])


stream.subscribe_bars(on_bar, "SPY")
t = threading.Thread(target=stream.run, daemon=True)
t.start()
deadline = time.time() + 40
while len(got) < 3 and time.time() < deadline:
    time.sleep(0.1)
try:
    stream.stop()
except Exception:
    pass
out["stream"] = got
print(json.dumps(out))
