//! The market-data proxy: `/api/v1/bars`, `/quote`, `/news`, over the cached Alpaca upstream. Paths are built
//! with `mtf-alpaca`'s request builders and answers decoded into its wire types.

use chrono::{DateTime, TimeZone, Utc};
use mtf_alpaca::request::{self, BarsPager, BarsRequest, Sort};
use mtf_alpaca::rest::{BarsResponse, LatestQuoteResponse, LatestTradeResponse, NewsResponse};
use mtf_market::Timeframe;
use serde_json::json;
use worker::{Env, Request};

use crate::config::Config;
use crate::http::{Res, query};
use crate::logic::{self, ApiError, CacheKind};
use crate::upstream::{alpaca_get_as, cached};

fn bad_request(e: request::RequestError) -> ApiError {
    ApiError::bad_request("invalid_request", e.to_string())
}

pub async fn bars(req: &Request, env: &Env, cfg: &Config) -> Res {
    let q = query(req)?;
    let symbol = logic::parse_symbol(q.get("symbol").map(String::as_str))?;
    let tf = logic::parse_timeframe(q.get("timeframe").map(String::as_str))?;
    let start = logic::parse_time(q.get("start").map(String::as_str), "start")?;
    let end = logic::parse_time(q.get("end").map(String::as_str), "end")?;
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return Err(ApiError::bad_request("invalid_range", "`start` is after `end`"));
    }
    let limit = logic::parse_limit(q.get("limit").map(String::as_str), 1000, 50_000)?;
    let kind = if tf == Timeframe::D1 { CacheKind::DailyBars } else { CacheKind::IntradayBars };
    // Normalised so that varying `start`, `end` and `limit` cannot bust the cache (and spend the operator's
    // Alpaca rate limit): bars start on whole minutes, so a start rounded up and an end rounded down to the
    // minute select the same bars; the limit is fetched as the next of a few sizes and cut afterwards.
    let (start, end) = (start.map(logic::ceil_minute), end.map(logic::floor_minute));
    let wanted = limit;
    let limit = logic::limit_bucket(limit);
    let t = |x: Option<DateTime<Utc>>| x.map_or("-".to_string(), |t| t.timestamp().to_string());
    let key = format!("bars:v2:{symbol}:{}:{}:{}:{limit}", tf.short(), t(start), t(end));
    let r = cached(env, &key, kind, || async {
        // Newest first, then reversed: when `limit` cuts, it is the oldest bars that are dropped.
        let from = start.or_else(|| Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single());
        let per_page = limit.min(10_000);
        let request =
            BarsRequest::new([symbol.clone()], tf).range(from, end).limit(per_page).sort(Sort::Desc).feed(cfg.feed);
        let mut pager = BarsPager::new(request, limit.div_ceil(10_000) as usize);
        let mut next = Some(pager.first().clone());
        while let Some(r) = next {
            let path = r.path_and_query().map_err(bad_request)?;
            let page: BarsResponse = alpaca_get_as(cfg, &path).await?;
            next = pager.push_single(page);
        }
        let mut bars = pager.finish().remove(&symbol).unwrap_or_default();
        if bars.len() > limit as usize {
            bars.drain(..bars.len() - limit as usize);
        }
        Ok(json!({ "symbol": symbol, "timeframe": tf.short(), "bars": bars }))
    })
    .await?;
    if wanted == limit {
        return Ok(r);
    }
    // The newest `wanted` of the bucket's bars, with the cache's headers kept.
    let headers = r.headers().clone();
    let mut r = r;
    let mut v: serde_json::Value =
        r.json().await.map_err(|e| ApiError::internal(format!("cached bars are not JSON: {e}")))?;
    if let Some(b) = v.get_mut("bars").and_then(serde_json::Value::as_array_mut)
        && b.len() > wanted as usize
    {
        b.drain(..b.len() - wanted as usize);
    }
    Ok(worker::Response::from_json(&v)?.with_headers(headers))
}

pub async fn quote(req: &Request, env: &Env, cfg: &Config) -> Res {
    let q = query(req)?;
    let symbol = logic::parse_symbol(q.get("symbol").map(String::as_str))?;
    cached(env, &format!("quote:v1:{symbol}"), CacheKind::Quote, || async {
        let quote_path = request::latest_quote_path(&symbol, Some(cfg.feed)).map_err(bad_request)?;
        let trade_path = request::latest_trade_path(&symbol, Some(cfg.feed)).map_err(bad_request)?;
        let quote: LatestQuoteResponse = alpaca_get_as(cfg, &quote_path).await?;
        let trade: LatestTradeResponse = alpaca_get_as(cfg, &trade_path).await?;
        Ok(json!({ "symbol": symbol, "quote": quote.quote, "trade": trade.trade }))
    })
    .await
}

pub async fn news(req: &Request, env: &Env, cfg: &Config) -> Res {
    let q = query(req)?;
    let symbols = logic::parse_symbols(q.get("symbols").map(String::as_str), 50)?;
    let limit = logic::parse_limit(q.get("limit").map(String::as_str), 10, 50)?;
    let joined = symbols.join(",");
    cached(env, &logic::kv_key("news:v1:", &format!("{joined}:{limit}")), CacheKind::News, || async {
        let refs: Vec<&str> = symbols.iter().map(String::as_str).collect();
        let path = request::news_path(&refs, limit, None).map_err(bad_request)?;
        let v: NewsResponse = alpaca_get_as(cfg, &path).await?;
        Ok(json!({ "news": v.news }))
    })
    .await
}
