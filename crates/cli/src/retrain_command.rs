//! `mtf retrain`: backfill → challenger → both models scored on the same unseen holdout → promotion rule →
//! register (and activate) at the edge → retrain record (local JSONL log + `POST /api/v1/retrains`).
//!
//! The holdout is the newest `holdout_sessions` days of the store's samples that neither model saw: after the
//! champion's training range (plus the embargo, applied by `experiment::evaluate_on`) and after the challenger's
//! training window, which ends the day before the holdout. Both models are scored by the same evaluation code on
//! the same instants, next to baselines fit on everything before each block.
//!
//! Crash safety: before registering, the run writes a journal (`<work>/pending-<id>.json`) with its decision and
//! the challenger's bytes on disk; the champion keeps serving until `activate` succeeds. The next run finishes a
//! journal it finds (register is idempotent for the same bytes, then activate if promoted, then the record).
//! Idempotence: the run id hashes the inputs (snapshot, config bytes, seed, champion, search trials); a run
//! whose id is already in the log prints the earlier decision and stops.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use mtf_market::Timeframe;
use mtf_model::artifact;
use mtf_model::data::Prepared;
use mtf_model::experiment::{self, EvalConfig, Progress, Report};
use mtf_model::predict::Predictor;
use mtf_retrain::health::Validation;
use mtf_retrain::record::{Candidate, Decision, RetrainInputs, RetrainRecord, Score, SearchTrial, SymbolScore};
use mtf_retrain::rule::{self, Promotion};
use mtf_retrain::triggers::{self, Check, Observed, Triggers};
use serde::{Deserialize, Serialize};

use crate::edge_client::{EdgeClient, ModelVersion};
use crate::model_commands::{self, TrainFile};

/// `[retrain]` in the training config.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrainSection {
    /// Days (UTC dates of the prediction instants) at the end of the data scored by both models.
    pub holdout_sessions: usize,
    /// Days of data before the holdout the challenger trains on (`None`: from `[inputs] start`).
    pub train_sessions: Option<usize>,
    /// Recent days compared with the champion's training window for drift and volatility.
    pub drift_sessions: usize,
    /// Where to backfill from (Alpaca's data API or `mtf replay`); `None`: no backfill, the store as it is.
    pub data_url: Option<String>,
    /// First day to backfill when a symbol has nothing stored.
    pub backfill_start: Option<NaiveDate>,
    /// Bar sizes to backfill (default: the finest configured timeframe, plus 1Day when `1d` is an input).
    pub backfill_timeframes: Vec<Timeframe>,
    /// Days re-fetched before each symbol's last stored bar (late corrections).
    pub refresh_days: u32,
    /// The promotion rule.
    pub promotion: Promotion,
    /// The `--if-needed` triggers.
    pub triggers: Triggers,
}

impl Default for RetrainSection {
    fn default() -> Self {
        Self {
            holdout_sessions: 5,
            train_sessions: None,
            drift_sessions: 5,
            data_url: None,
            backfill_start: None,
            backfill_timeframes: Vec::new(),
            refresh_days: 3,
            promotion: Promotion::default(),
            triggers: Triggers::default(),
        }
    }
}

/// The flags of `mtf retrain`.
#[derive(Debug, clap::Args)]
pub struct RetrainArgs {
    /// Training config (TOML) with store `[inputs]` and an optional `[retrain]` section.
    #[arg(long)]
    config: PathBuf,
    /// The edge's base URL (its admin token from MTF_ADMIN_TOKEN).
    #[arg(long)]
    edge: String,
    /// Run only when a trigger fires (schedule, no champion, live coverage, hit rate, interval score, drift,
    /// volatility); prints every check.
    #[arg(long)]
    if_needed: bool,
    /// Random hyper-parameter search trials on the training window (validation loss only) before the fit.
    #[arg(long, default_value_t = 0)]
    search: usize,
    /// The local retrain log, one JSON record per line (default: retrains.jsonl beside the config).
    #[arg(long)]
    log: Option<PathBuf>,
    /// Where challengers and journals are written (default: retrains/ beside the config).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Print the record as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// An interrupted run: its record (decision made) and the challenger's artifact on disk.
#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    record: RetrainRecord,
    artifact: PathBuf,
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Test hook: `MTF_RETRAIN_FAULT=after_register` ends the process between register and activate (a crash).
fn fault(point: &str) {
    if std::env::var("MTF_RETRAIN_FAULT").as_deref() == Ok(point) {
        eprintln!("MTF_RETRAIN_FAULT={point}: stopping here as a crash would");
        std::process::exit(75);
    }
}

/// Runs `mtf retrain`.
pub fn retrain(a: RetrainArgs) -> anyhow::Result<()> {
    let clock = Instant::now();
    let started = Utc::now();
    let text = std::fs::read(&a.config).with_context(|| format!("reading {}", a.config.display()))?;
    let config_sha256 = mtf_envelope::sha256_hex(&text);
    let file: TrainFile = toml::from_str(std::str::from_utf8(&text).context("the config is not UTF-8")?)
        .with_context(|| format!("{}: invalid training config", a.config.display()))?;
    let section = file.retrain.clone().unwrap_or_default();
    let base = a.config.parent().unwrap_or_else(|| Path::new(".")).to_path_buf();
    let store_dir = base.join(file.inputs.store.as_deref().with_context(|| {
        format!("{}: `mtf retrain` trains from a store: set [inputs] store and symbols", a.config.display())
    })?);
    let token = std::env::var("MTF_ADMIN_TOKEN").context("MTF_ADMIN_TOKEN is not set (the edge's ADMIN_TOKEN)")?;
    let edge = EdgeClient::new(&a.edge, token);
    let log = a.log.clone().unwrap_or_else(|| base.join("retrains.jsonl"));
    let work = a.work_dir.clone().unwrap_or_else(|| base.join("retrains"));

    recover(&edge, &work, &log)?;
    if let Some(url) = &section.data_url {
        backfill(&file, &section, url, &store_dir)?;
    }
    let store = mtf_store::Store::open(&store_dir);
    let snapshot = store.head()?.with_context(|| {
        format!(
            "store {} is empty: set [retrain] data_url and backfill_start, or `mtf import` bars",
            store_dir.display()
        )
    })?;
    // The champion is the active model of the challenger's horizon (the edge serves one per horizon).
    let champion = edge.active(file.experiment.data.horizon_minutes())?;
    let champ = match &champion {
        Some(m) => Some(load_champion(&edge, m)?),
        None => None,
    };
    let mut inputs = file.inputs.clone();
    inputs.snapshot = Some(snapshot.clone());
    inputs.end = None;
    let cfg = &file.experiment;
    // Every sample of the snapshot; the champion's samples are the same unless its spec differs, then read once
    // for both drift and scoring.
    let (_, full) = model_commands::load_store(&inputs, &store_dir, &cfg.data, &a.config)?;
    let champ_data: Option<Result<Cow<'_, Prepared>, String>> = champ.as_ref().map(|p| {
        if serde_json::to_value(&p.header.data).ok() == serde_json::to_value(&cfg.data).ok() {
            Ok(Cow::Borrowed(&full))
        } else {
            model_commands::load_store(&inputs, &store_dir, &p.header.data, &a.config)
                .map(|(_, d)| Cow::Owned(d))
                .map_err(|e| format!("{e:#}"))
        }
    });
    let champ_data = champ_data.as_ref().map(|r| r.as_ref().map(AsRef::as_ref).map_err(String::as_str));

    let mut fired = vec!["manual".to_string()];
    let (observed, drift) = observe(&edge, &log, &section, champion.as_ref(), champ.as_ref(), champ_data)?;
    let checks = triggers::evaluate(&section.triggers, &observed);
    print_checks(&checks);
    if a.if_needed {
        fired = checks.iter().filter(|c| c.fired).map(|c| c.trigger.clone()).collect();
        if fired.is_empty() {
            eprintln!("no trigger fired: no retrain needed");
            return Ok(());
        }
        eprintln!("retraining: {} fired", fired.join(", "));
    }

    let retrain_inputs = RetrainInputs {
        snapshot: snapshot.clone(),
        config_sha256,
        seed: cfg.train.seed,
        champion: champion.as_ref().map(|m| [m.version.clone(), m.sha256.clone()]),
        search_trials: a.search,
    };
    let id = retrain_inputs.run_id();
    if let Some(prev) = read_log(&log)?.into_iter().find(|r| r.id == id) {
        eprintln!(
            "run {id} (the same snapshot, config, seed and champion) was decided before: {} ({})",
            prev.decision.as_str(),
            prev.reasons.join("; ")
        );
        return Ok(());
    }
    let mut record = RetrainRecord {
        id: id.clone(),
        started_at: iso(started),
        finished_at: String::new(),
        duration_s: 0.0,
        triggers: fired,
        inputs: retrain_inputs,
        holdout: None,
        champion: champion.as_ref().map(|m| Candidate {
            version: m.version.clone(),
            sha256: m.sha256.clone(),
            training_range: champ.as_ref().map_or([String::new(), String::new()], |p| p.header.training_range.map(iso)),
            score: None,
        }),
        challenger: None,
        baselines: BTreeMap::new(),
        decision: Decision::Skipped,
        reasons: Vec::new(),
        activated: false,
        search: Vec::new(),
        checks,
        drift,
    };
    let finish = |mut record: RetrainRecord| -> anyhow::Result<RetrainRecord> {
        record.finished_at = iso(Utc::now());
        record.duration_s = clock.elapsed().as_secs_f64();
        append_log(&log, &record)?;
        edge.record(&record)?;
        Ok(record)
    };

    // The holdout: the newest days of the data the champion did not see.
    let days = sample_days(&full);
    let champ_end = champ.as_ref().map(|p| p.header.training_range[1].date_naive());
    let unseen: Vec<NaiveDate> = days.iter().copied().filter(|d| champ_end.is_none_or(|e| *d > e)).collect();
    let holdout_days: Vec<NaiveDate> = unseen[unseen.len().saturating_sub(section.holdout_sessions)..].to_vec();
    let Some(&holdout_first) = holdout_days.first() else {
        record.reasons.push(format!(
            "no unseen holdout: the champion was trained through {}, the store's newest sample is on {}",
            champ_end.map_or("-".into(), |d| d.to_string()),
            days.last().map_or("-".into(), |d| d.to_string())
        ));
        return report(finish(record)?, a.json);
    };
    let train_days: Vec<NaiveDate> = days.iter().copied().filter(|d| *d < holdout_first).collect();
    if train_days.is_empty() {
        record.reasons.push(format!("no training data before the holdout (which starts {holdout_first})"));
        return report(finish(record)?, a.json);
    }
    let mut train_inputs = inputs.clone();
    train_inputs.end = Some(holdout_first);
    // The window limits the samples, not the bars: coarser timeframes keep their history for warm-up.
    let window_start = section.train_sessions.map(|n| train_days[train_days.len().saturating_sub(n)]);
    let (_, mut train_p) = model_commands::load_store(&train_inputs, &store_dir, &cfg.data, &a.config)?;
    if let Some(d) = window_start {
        train_p.samples.retain(|s| s.at.date_naive() >= d);
    }
    let holdout_start = holdout_first.and_time(chrono::NaiveTime::MIN).and_utc();
    eprintln!(
        "run {id}: snapshot {}, champion {}, training {} → {} ({} samples), holdout {} → {} ({} days)",
        &snapshot[..12],
        champion.as_ref().map_or("none", |m| m.version.as_str()),
        window_start.or(train_inputs.start).map_or("the first day".into(), |d| d.to_string()),
        holdout_first.pred_opt().unwrap_or(holdout_first),
        train_p.samples.len(),
        holdout_first,
        holdout_days.last().unwrap_or(&holdout_first),
        holdout_days.len()
    );

    // The challenger (after an optional search on the training window).
    let mut cfg = cfg.clone();
    let created_at = full.samples.last().map_or(started, |s| s.at);
    if a.search > 0 {
        let bar = progress(a.search as u64, "{bar:30} {pos}/{len} search trials {elapsed} {msg}");
        let ranked = experiment::search(&train_p, &cfg, a.search, cfg.train.seed, created_at, &mut |t| {
            bar.inc(1);
            bar.set_message(format!("trial {} valid loss {:.4}", t.trial, t.mean_valid_loss));
        })?;
        bar.finish_and_clear();
        if let Some(best) = ranked.first() {
            cfg.model = best.model.clone();
            cfg.train.lr = best.lr;
        }
        record.search = ranked
            .iter()
            .map(|t| SearchTrial {
                trial: t.trial,
                mean_valid_loss: t.mean_valid_loss,
                params: serde_json::json!({ "model": t.model, "lr": t.lr, "parameters": t.parameters }),
            })
            .collect();
    }
    cfg.version = format!("{}-r{}", cfg.version, &id[..8]);
    let bar = progress((cfg.eval.folds * cfg.train.epochs) as u64, "{bar:30} {pos}/{len} epochs {elapsed} {msg}");
    let epochs = cfg.train.epochs;
    let mut fold_start = 0;
    let outcome = experiment::train_walk_forward(&train_p, &cfg, created_at, None, &mut |p| match p {
        Progress::Fold { fold, of, train } => {
            fold_start = (fold - 1) * epochs;
            bar.set_position(fold_start as u64);
            bar.set_message(format!("challenger fold {fold}/{of} ({train} samples)"));
        }
        Progress::Epoch(e) => {
            bar.set_position((fold_start + e.epoch) as u64);
            bar.set_message(format!("train {:.4} valid {:.4}", e.train_loss, e.valid_loss));
        }
    })?;
    bar.finish_and_clear();
    let mut header = outcome.header;
    header.training_data = Some(artifact::TrainingData {
        snapshot: snapshot.clone(),
        symbols: train_p.symbols(),
        holdout_symbols: Vec::new(),
    });
    let bytes = artifact::to_bytes(&outcome.model, header, cfg.weights_dtype)?;
    let run_dir = work.join(&id);
    model_commands::write(&run_dir.join("model.mtf"), &bytes)?;
    model_commands::write(&run_dir.join("report.json"), serde_json::to_string_pretty(&outcome.report)?.as_bytes())?;
    let challenger = Predictor::from_bytes(&bytes, model_commands::burn_device())?;

    // Both on the same holdout.
    let eval = EvalConfig {
        folds: 0,
        valid_len: cfg.eval.valid_len,
        embargo: cfg.eval.embargo,
        inner_valid_frac: 0.0,
        min_train: cfg.eval.min_train,
        clip: cfg.eval.clip,
        holdout_symbols: Vec::new(),
        conformal: cfg.eval.conformal,
    };
    let keep = |s: &mtf_model::labels::Sample| s.at >= holdout_start;
    let chall_report =
        experiment::evaluate_on(&challenger, &full, &eval, &keep).context("scoring the challenger on the holdout")?;
    let chall_score = score(&chall_report);
    record.holdout = Some([iso(holdout_start), iso(created_at)]);
    record.baselines = chall_report.baselines.iter().map(|(k, m)| (k.clone(), metrics_score(m, None))).collect();
    record.challenger = Some(Candidate {
        version: format!("{}@{}", challenger.header.name, challenger.header.version),
        sha256: mtf_envelope::sha256_hex(&bytes),
        training_range: challenger.header.training_range.map(iso),
        score: Some(chall_score.clone()),
    });
    let champ_score = match (&champ, champ_data) {
        (Some(p), Some(data)) => {
            match data
                .map_err(|e| anyhow::anyhow!("{e}"))
                .and_then(|d| Ok(experiment::evaluate_on(p, d, &eval, &keep)?))
            {
                Ok(r) => Some(score(&r)),
                Err(e) => {
                    record.reasons.push(format!("the champion could not be scored on the holdout: {e:#}"));
                    None
                }
            }
        }
        _ => None,
    };
    if let (Some(c), Some(cand)) = (&mut record.champion, &champ_score) {
        c.score = Some(cand.clone());
    }
    let (mut decision, reasons) = rule::decide(&section.promotion, champ_score.as_ref(), &chall_score);
    record.reasons.extend(reasons);
    if let Some(c) = &champ_score
        && c.n != chall_score.n
    {
        decision = Decision::Rejected;
        record.reasons.push(format!(
            "fail: the models were scored on different samples ({} vs {}): their specs differ",
            c.n, chall_score.n
        ));
    }
    record.decision = decision;

    // Journal, register, activate, record.
    let journal = work.join(format!("pending-{id}.json"));
    let artifact_path = run_dir.join("model.mtf");
    model_commands::write(
        &journal,
        serde_json::to_string_pretty(&Journal { record: record.clone(), artifact: artifact_path })?.as_bytes(),
    )?;
    let record = complete(&edge, record, &bytes)?;
    let record = finish(record)?;
    std::fs::remove_file(&journal).with_context(|| format!("removing {}", journal.display()))?;
    report(record, a.json)
}

/// Registers the challenger, activates it when promoted (the champion serves until then).
fn complete(edge: &EdgeClient, mut record: RetrainRecord, bytes: &[u8]) -> anyhow::Result<RetrainRecord> {
    let registered = edge.register(bytes)?;
    fault("after_register");
    if record.decision == Decision::Promoted {
        edge.activate(&registered.version)?;
        record.activated = true;
    } else {
        // (Registration activates only when no model of its horizon was active.)
        record.activated = registered.active;
    }
    Ok(record)
}

/// Finishes runs interrupted after their decision (a journal left in `work`).
fn recover(edge: &EdgeClient, work: &Path, log: &Path) -> anyhow::Result<()> {
    let Ok(dir) = std::fs::read_dir(work) else { return Ok(()) };
    let mut journals: Vec<PathBuf> = dir
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("pending-")))
        .collect();
    journals.sort();
    for path in journals {
        let j: Journal = serde_json::from_slice(&std::fs::read(&path)?)
            .with_context(|| format!("{}: not a retrain journal", path.display()))?;
        let bytes = std::fs::read(&j.artifact).with_context(|| format!("reading {}", j.artifact.display()))?;
        eprintln!(
            "recovering interrupted run {} ({}): finishing registration",
            j.record.id,
            j.record.decision.as_str()
        );
        let mut record = complete(edge, j.record, &bytes)?;
        record.reasons.push("recovered: finished by the next run after an interruption".into());
        record.finished_at = iso(Utc::now());
        append_log(log, &record)?;
        edge.record(&record)?;
        std::fs::remove_file(&path)?;
        eprintln!("recovered run {}: {}, active: {}", record.id, record.decision.as_str(), record.activated);
    }
    Ok(())
}

fn load_champion(edge: &EdgeClient, m: &ModelVersion) -> anyhow::Result<Predictor> {
    let bytes = edge.artifact(m)?;
    Predictor::from_bytes(&bytes, model_commands::burn_device())
        .with_context(|| format!("loading the champion {}", m.version))
}

fn metrics_score(m: &mtf_model::metrics::Metrics, by_symbol: Option<BTreeMap<String, SymbolScore>>) -> Score {
    Score {
        n: m.n_predictions,
        interval_score: m.interval_score,
        coverage: m.coverage_q10_q90,
        band_width: m.band_width,
        directional_accuracy: m.directional_accuracy,
        mae_ratio_vs_persistence: m.mae_ratio_vs_persistence,
        by_symbol: by_symbol.unwrap_or_default(),
    }
}

fn score(r: &Report) -> Score {
    let by = r
        .by_symbol
        .iter()
        .map(|(s, x)| {
            let m = &x.model;
            (
                s.clone(),
                SymbolScore { n: m.n_predictions, interval_score: m.interval_score, coverage: m.coverage_q10_q90 },
            )
        })
        .collect();
    metrics_score(&r.model, Some(by))
}

fn progress(len: u64, template: &str) -> ProgressBar {
    ProgressBar::new(len)
        .with_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()))
}

fn read_log(log: &Path) -> anyhow::Result<Vec<RetrainRecord>> {
    let Ok(text) = std::fs::read_to_string(log) else { return Ok(Vec::new()) };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).with_context(|| format!("{}:{}: not a retrain record", log.display(), i + 1))
        })
        .collect()
}

fn append_log(log: &Path, r: &RetrainRecord) -> anyhow::Result<()> {
    use std::io::Write;
    if let Some(d) = log.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(d)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    writeln!(f, "{}", serde_json::to_string(r)?)?;
    Ok(())
}

fn print_checks(checks: &[Check]) {
    for c in checks {
        eprintln!("  {} {:<15} {}", if c.fired { "FIRED" } else { "  -  " }, c.trigger, c.why);
    }
}

fn report(r: RetrainRecord, json: bool) -> anyhow::Result<()> {
    let fmt = |c: &Option<Candidate>| {
        c.as_ref().map_or("-".to_string(), |c| match &c.score {
            Some(s) => format!(
                "{}: interval score {:.5}, coverage {:.3}, dir. acc. {:.3}, n {}",
                c.version, s.interval_score, s.coverage, s.directional_accuracy, s.n
            ),
            None => format!("{}: not scored", c.version),
        })
    };
    eprintln!("champion   {}", fmt(&r.champion));
    eprintln!("challenger {}", fmt(&r.challenger));
    for why in &r.reasons {
        eprintln!("  {why}");
    }
    eprintln!("decision: {} (active: {}), run {} in {:.1} s", r.decision.as_str(), r.activated, r.id, r.duration_s);
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    }
    Ok(())
}

/// Backfills the config's symbols into the store.
fn backfill(file: &TrainFile, s: &RetrainSection, url: &str, store_dir: &Path) -> anyhow::Result<()> {
    let key = std::env::var("APCA_API_KEY_ID").context("APCA_API_KEY_ID is not set (the Alpaca key id)")?;
    let secret = std::env::var("APCA_API_SECRET_KEY").context("APCA_API_SECRET_KEY is not set")?;
    let spec = &file.experiment.data;
    let mut tfs = s.backfill_timeframes.clone();
    if tfs.is_empty() {
        tfs.extend(spec.timeframes.iter().min().copied());
        if spec.timeframes.contains(&Timeframe::D1) && !tfs.contains(&Timeframe::D1) {
            tfs.push(Timeframe::D1);
        }
    }
    let start = s
        .backfill_start
        .or(file.inputs.start)
        .context("[retrain] backfill_start (or [inputs] start) is needed to backfill")?
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    let store = mtf_store::Store::open(store_dir);
    for tf in tfs {
        let cfg = mtf_backfill::Config {
            symbols: file.inputs.symbols.clone(),
            timeframe: tf,
            start,
            end: None,
            feed: mtf_alpaca::request::Feed::Iex,
            adjustment: mtf_alpaca::request::Adjustment::Raw,
            refresh_days: Some(s.refresh_days),
            data_url: url.to_string(),
            key: key.clone(),
            secret: secret.clone(),
            requests_per_minute: 200,
            retry: mtf_backfill::limits::RetryPolicy {
                max_retries: 6,
                base: Duration::from_millis(500),
                max_wait: Duration::from_secs(60),
            },
            page_limit: 10_000,
            checkpoint_bars: 200_000,
        };
        let http = mtf_backfill::http::UreqHttp::new(Duration::from_secs(120));
        let clock = mtf_backfill::limits::SystemClock::default();
        let summary = mtf_backfill::backfill(&cfg, &store, &http, &clock, &mut |_| {})
            .map_err(|f| anyhow::Error::new(f.error).context("backfill stopped (what was fetched is stored)"))?;
        eprintln!(
            "backfill {}: {} bars added, {} replaced{}",
            tf.alpaca(),
            summary.bars_added,
            summary.bars_replaced,
            if summary.failed.is_empty() { String::new() } else { format!("; refused: {:?}", summary.failed) }
        );
    }
    Ok(())
}

/// The UTC dates of the samples' instants, in order, each once.
fn sample_days(p: &Prepared) -> Vec<NaiveDate> {
    let mut days: Vec<NaiveDate> = p.samples.iter().map(|s| s.at.date_naive()).collect();
    days.dedup();
    days
}

/// What the triggers read: the last run, the champion's live health and validation numbers, and drift and
/// volatility of the recent days against the champion's training window (`data`: the champion's samples of the
/// store, or why they could not be read). Also the largest PSI per input timeframe, for the record.
fn observe(
    edge: &EdgeClient,
    log: &Path,
    s: &RetrainSection,
    champion: Option<&ModelVersion>,
    champ: Option<&Predictor>,
    data: Option<Result<&Prepared, &str>>,
) -> anyhow::Result<(Observed, BTreeMap<String, f64>)> {
    let last_edge = edge.retrains(1)?.into_iter().next();
    let last_local = read_log(log)?.pop();
    let last_retrain = [last_edge, last_local]
        .into_iter()
        .flatten()
        .filter_map(|r| DateTime::parse_from_rfc3339(&r.finished_at).ok().map(|t| t.with_timezone(&Utc)))
        .max();
    let mut o = Observed { now: Some(Utc::now()), last_retrain, champion: champion.is_some(), ..Observed::default() };
    let (Some(m), Some(p), Some(data)) = (champion, champ, data) else { return Ok((o, BTreeMap::new())) };
    let minutes = p.header.data.horizon_minutes();
    if let Some(h) = edge.health(&m.version)? {
        o.live = h.horizons.iter().find(|x| x.horizon_minutes == minutes).map(|x| x.last_100.clone());
        o.validation = Some(h.validation);
    }
    if o.validation.is_none() {
        o.validation = Some(Validation::from_metrics(&p.header.metrics));
    }
    let drift = match data.map_err(|e| anyhow::anyhow!("{e}")).and_then(|d| drift_and_volatility(&mut o, s, p, d)) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("drift and volatility not measured: {e:#}");
            BTreeMap::new()
        }
    };
    Ok((o, drift))
}

/// Fills `o.psi` and `o.volatility` from the champion's samples; returns the largest PSI per timeframe.
fn drift_and_volatility(
    o: &mut Observed,
    s: &RetrainSection,
    p: &Predictor,
    data: &Prepared,
) -> anyhow::Result<BTreeMap<String, f64>> {
    let [from, to] = p.header.training_range;
    let reference: Vec<usize> =
        (0..data.samples.len()).filter(|&i| (from..=to).contains(&data.samples[i].at)).collect();
    let days = sample_days(data);
    let recent_from = days.get(days.len().saturating_sub(s.drift_sessions)).copied();
    let recent: Vec<usize> = (0..data.samples.len())
        .filter(|&i| recent_from.is_some_and(|d| data.samples[i].at.date_naive() >= d) && data.samples[i].at > to)
        .collect();
    if reference.is_empty() || recent.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut by_tf: BTreeMap<String, f64> = BTreeMap::new();
    for (tf, feature, v) in feature_psi(data, p, &reference, &recent)? {
        let e = by_tf.entry(tf.clone()).or_insert(0.0);
        *e = e.max(v);
        o.psi.push((format!("{tf} {feature}"), v));
    }
    // Per day: a return is taken only between two instants of one session.
    let vol = |idx: &[usize]| {
        let mut days: BTreeMap<NaiveDate, Vec<f64>> = BTreeMap::new();
        for &i in idx {
            days.entry(data.samples[i].at.date_naive()).or_default().push(data.samples[i].last_close);
        }
        mtf_retrain::drift::realised_volatility(&days.into_values().collect::<Vec<_>>())
    };
    if data.parts.len() == 1
        && let (Some(a), Some(b)) = (vol(&reference), vol(&recent))
    {
        o.volatility = Some((a, b));
    }
    Ok(by_tf)
}

/// PSI of each input feature's newest value (per timeframe) between two sets of samples, on the champion's
/// normalisation (a monotone map per feature, which PSI's quantile bins do not see): (timeframe, feature, PSI).
fn feature_psi(
    data: &Prepared,
    p: &Predictor,
    reference: &[usize],
    recent: &[usize],
) -> anyhow::Result<Vec<(String, &'static str, f64)>> {
    let thin = |idx: &[usize]| -> Vec<usize> {
        let step = idx.len().div_ceil(2000).max(1);
        idx.iter().step_by(step).copied().collect()
    };
    let last_step = |idx: &[usize]| -> anyhow::Result<(Vec<Vec<f64>>, usize, usize)> {
        let w = data.windows(idx, &p.header.norm)?;
        let (t, k, f) = (w.lookback, w.timeframes, w.features);
        let mut cols = vec![Vec::new(); k * f];
        for n in 0..w.batch {
            for tf in 0..k {
                if w.mask[(n * t + t - 1) * k + tf] == 0 {
                    continue;
                }
                for j in 0..f {
                    cols[tf * f + j].push(f64::from(w.values[((n * t + t - 1) * k + tf) * f + j]));
                }
            }
        }
        Ok((cols, k, f))
    };
    let (a, k, f) = last_step(&thin(reference))?;
    let (b, _, _) = last_step(&thin(recent))?;
    let names = mtf_features::spec::FEATURE_NAMES;
    let mut out = Vec::new();
    for tf in 0..k {
        for j in 0..f {
            if let Some(v) =
                mtf_features::reference::psi(&a[tf * f + j], &b[tf * f + j], mtf_features::reference::DRIFT_BINS)
            {
                let tf_name = p.header.data.timeframes.get(tf).map_or("?", |t| t.short());
                out.push((tf_name.to_string(), names.get(j).copied().unwrap_or("?"), v));
            }
        }
    }
    Ok(out)
}
