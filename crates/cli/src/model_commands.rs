//! `mtf train | evaluate | predict | export`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use mtf_market::{Bar, Timeframe};
use mtf_model::artifact::{self, WeightDtype};
use mtf_model::data::Prepared;
use mtf_model::experiment::{self, EvalConfig, ExperimentConfig, Progress};
use mtf_model::predict::Predictor;
use serde::Deserialize;

use crate::input;

/// A training config file: the experiment plus where its bars come from.
#[derive(Debug, Deserialize)]
pub(crate) struct TrainFile {
    #[serde(flatten)]
    pub(crate) experiment: ExperimentConfig,
    pub(crate) inputs: Inputs,
    /// `mtf retrain`'s section (holdout, backfill, promotion rule, triggers); `mtf train` ignores it.
    #[serde(default)]
    pub(crate) retrain: Option<crate::retrain_command::RetrainSection>,
}

/// Where the training bars come from: CSV files (`minutes`, `daily`) or a store snapshot (`store`, `snapshot`,
/// `symbols`, optional `start`/`end`), never both.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Inputs {
    /// 1-minute bars, relative to the data directory.
    pub(crate) minutes: Option<String>,
    /// Daily bars for `1d`, relative to the data directory.
    pub(crate) daily: Option<String>,
    /// Repair OHLC inconsistencies (with warnings).
    #[serde(default)]
    pub(crate) repair: bool,
    /// A bar store directory (`mtf import` / `mtf backfill`), relative to the config file's directory.
    pub(crate) store: Option<String>,
    /// The store snapshot to train on (required with `store`: it pins the data; it must verify).
    pub(crate) snapshot: Option<String>,
    /// Symbols pooled into one training set.
    #[serde(default)]
    pub(crate) symbols: Vec<String>,
    /// First bar start used (YYYY-MM-DD, UTC).
    pub(crate) start: Option<chrono::NaiveDate>,
    /// Bars before this day only (YYYY-MM-DD, UTC, exclusive).
    pub(crate) end: Option<chrono::NaiveDate>,
    /// The stored bar sizes to read (e.g. `["1m", "1d"]`); default: every size up to the coarsest input
    /// timeframe. A size not read is resampled from a finer one, as at serving time — so that a symbol stored as
    /// 1-minute bars in one period and 15-minute bars in another trains from one of them only.
    #[serde(default)]
    pub(crate) bar_sizes: Vec<Timeframe>,
    /// Per-symbol ranges replacing `start`/`end` for that symbol, e.g. `SPY = { end = "2012-01-01" }`.
    #[serde(default)]
    pub(crate) ranges: std::collections::BTreeMap<String, SymbolRange>,
}

/// One symbol's `[start, end)` in `[inputs.ranges]` (YYYY-MM-DD, UTC; either may be left out).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SymbolRange {
    pub(crate) start: Option<chrono::NaiveDate>,
    pub(crate) end: Option<chrono::NaiveDate>,
}

/// The card's words for `bar_sizes` and `ranges` (empty when neither is set).
fn range_text(inputs: &Inputs) -> String {
    let mut out = String::new();
    if !inputs.bar_sizes.is_empty() {
        let sizes: Vec<&str> = inputs.bar_sizes.iter().map(|t| t.short()).collect();
        out += &format!("; stored bar sizes read: {} (the others resampled from them)", sizes.join(", "));
    }
    for (sym, r) in &inputs.ranges {
        out += &format!(
            "; {} bars from {} to {}",
            sym.to_uppercase(),
            r.start.map_or("the first".into(), |d| d.to_string()),
            r.end.map_or("the last".into(), |d| format!("before {d}"))
        );
    }
    out
}

/// The training data a store config names: snapshot and symbols (recorded in the artifact and the card).
struct StoreData {
    dir: PathBuf,
    snapshot: String,
    symbols: Vec<String>,
    range: (Option<chrono::NaiveDate>, Option<chrono::NaiveDate>),
}

fn data_dir(explicit: Option<&Path>) -> PathBuf {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("MTF_DATA_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("../shared/data"))
}

fn load_bars(minutes: &Path, daily: Option<&Path>, repair: bool) -> anyhow::Result<(Vec<Bar>, Option<Vec<Bar>>)> {
    let m = input::read(minutes, repair)?;
    if let mtf_market::io::CsvLayout::Daily { .. } = m.layout {
        bail!("{}: daily bars given where 1-minute bars are needed", minutes.display());
    }
    let d = daily.map(|p| input::read(p, repair).map(|f| f.bars)).transpose()?;
    Ok((m.bars, d))
}

/// The bars of `--input` (bar size from the flag, else the file name, else 1 minute) and `--daily`, keyed by
/// timeframe: any bar size the model's coarser timeframes can be resampled from.
fn input_bars(
    input: &Path,
    timeframe: Option<Timeframe>,
    daily: Option<&Path>,
    repair: bool,
) -> anyhow::Result<std::collections::BTreeMap<Timeframe, Vec<Bar>>> {
    let tf = timeframe.or(mtf_market::io::file_name_parts(input).1).unwrap_or(Timeframe::M1);
    let f = input::read(input, repair)?;
    let is_daily = matches!(f.layout, mtf_market::io::CsvLayout::Daily { .. });
    if is_daily == tf.is_intraday() {
        bail!(
            "{}: the file has the {} layout but --timeframe/the name says {}",
            input.display(),
            if is_daily { "daily" } else { "intraday" },
            tf.alpaca()
        );
    }
    let mut given = std::collections::BTreeMap::from([(tf, f.bars)]);
    if let Some(d) = daily {
        given.insert(Timeframe::D1, input::read(d, repair)?.bars);
    }
    Ok(given)
}

pub(crate) fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// A loaded training config: the file, one symbol's bars keyed by timeframe (for the latency measurement),
/// the prepared samples, and the store data when the bars came from a store.
struct Loaded {
    file: TrainFile,
    example: std::collections::BTreeMap<Timeframe, Vec<Bar>>,
    prepared: Prepared,
    store: Option<StoreData>,
}

fn load_config(config: &Path, data: Option<&Path>) -> anyhow::Result<Loaded> {
    let text = std::fs::read_to_string(config).with_context(|| format!("reading {}", config.display()))?;
    let file: TrainFile =
        toml::from_str(&text).with_context(|| format!("{}: invalid training config", config.display()))?;
    file.experiment.model_config().validate().with_context(|| config.display().to_string())?;
    let spec = &file.experiment.data;
    match (&file.inputs.minutes, &file.inputs.store) {
        (Some(minutes), None) => {
            let dir = data_dir(data);
            let daily = file.inputs.daily.as_ref().map(|d| dir.join(d));
            let (minutes, daily) = load_bars(&dir.join(minutes), daily.as_deref(), file.inputs.repair)?;
            let prepared = Prepared::new(&minutes, daily.as_deref(), spec).context("preparing samples")?;
            let mut example = std::collections::BTreeMap::from([(Timeframe::M1, minutes)]);
            if let Some(d) = daily {
                example.insert(Timeframe::D1, d);
            }
            Ok(Loaded { file, example, prepared, store: None })
        }
        (None, Some(store)) => {
            let base = config.parent().unwrap_or_else(|| Path::new("."));
            let dir = base.join(store);
            let (symbols, prepared) = load_store(&file.inputs, &dir, spec, config)?;
            let example = symbols.first().map(|(_, g)| g.clone()).unwrap_or_default();
            let store = StoreData {
                dir,
                snapshot: file.inputs.snapshot.clone().unwrap_or_default(),
                symbols: symbols.into_iter().map(|(s, _)| s).collect(),
                range: (file.inputs.start, file.inputs.end),
            };
            Ok(Loaded { file, example, prepared, store: Some(store) })
        }
        (Some(_), Some(_)) => bail!("{}: [inputs] names both `minutes` and `store`; use one", config.display()),
        (None, None) => {
            bail!("{}: [inputs] needs `minutes` (a 1-minute CSV) or `store` + `snapshot` + `symbols`", config.display())
        }
    }
}

type SymbolBars = Vec<(String, std::collections::BTreeMap<Timeframe, Vec<Bar>>)>;

/// Reads the config's symbols from a verified store snapshot: every stored bar size up to the coarsest input
/// timeframe (the finest ones feed resampling), within `start`/`end`, pooled into one [`Prepared`].
pub(crate) fn load_store(
    inputs: &Inputs,
    dir: &Path,
    spec: &mtf_model::data::DataSpec,
    config: &Path,
) -> anyhow::Result<(SymbolBars, Prepared)> {
    let snapshot = inputs.snapshot.as_deref().with_context(|| {
        format!("{}: [inputs] store needs `snapshot` (see `mtf store ls --store {}`)", config.display(), dir.display())
    })?;
    if inputs.symbols.is_empty() {
        bail!("{}: [inputs] store needs `symbols`", config.display());
    }
    let store = mtf_store::Store::open(dir);
    let report = store.verify(Some(snapshot)).with_context(|| format!("store {}", dir.display()))?;
    if !report.ok() {
        bail!(
            "store {} snapshot {snapshot} does not verify ({} problem(s)): {}",
            dir.display(),
            report.problems.len(),
            report.problems.join("; ")
        );
    }
    let manifest = store.manifest(Some(snapshot))?;
    let day = |d: Option<chrono::NaiveDate>| d.map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc());
    let coarsest = spec.timeframes.iter().max().copied().unwrap_or(Timeframe::D1);
    let upper = |s: &String| s.to_uppercase();
    if let Some(extra) = inputs.ranges.keys().find(|k| !inputs.symbols.iter().map(upper).any(|s| s == upper(k))) {
        bail!("{}: [inputs.ranges] names `{extra}`, which is not in `symbols`", config.display());
    }
    let mut out = Vec::new();
    for sym in &inputs.symbols {
        let sym = sym.to_uppercase();
        let range = inputs.ranges.iter().find(|(k, _)| upper(k) == sym).map(|(_, r)| r);
        let from = day(range.map_or(inputs.start, |r| r.start));
        let to = day(range.map_or(inputs.end, |r| r.end));
        let mut stored: Vec<Timeframe> = manifest
            .partitions
            .iter()
            .filter(|p| p.key.symbol == sym)
            .filter_map(|p| p.key.timeframe.parse::<Timeframe>().ok())
            .filter(|tf| *tf <= coarsest)
            .filter(|tf| inputs.bar_sizes.is_empty() || inputs.bar_sizes.contains(tf))
            .collect();
        stored.sort();
        stored.dedup();
        if stored.is_empty() {
            if !inputs.bar_sizes.is_empty() {
                let sizes: Vec<&str> = inputs.bar_sizes.iter().map(|t| t.short()).collect();
                bail!(
                    "store {} snapshot {snapshot} holds no bars of {sym} in bar sizes [{}] ([inputs] bar_sizes)",
                    dir.display(),
                    sizes.join(", ")
                );
            }
            bail!("store {} snapshot {snapshot} holds no bars of {sym} up to {}", dir.display(), coarsest.alpaca());
        }
        let mut given = std::collections::BTreeMap::new();
        for tf in stored {
            let bars = store.read_bars_in(&manifest, &sym, tf, from, to)?;
            if !bars.is_empty() {
                given.insert(tf, bars);
            }
        }
        out.push((sym, given));
    }
    let prepared = Prepared::pooled(&out, spec).context("preparing samples")?;
    Ok((out, prepared))
}

/// `mtf search`.
pub fn search(
    config: &Path,
    trials: usize,
    seed: u64,
    data: Option<&Path>,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    let Loaded { file, prepared, .. } = load_config(config, data)?;
    let cfg = &file.experiment;
    let bar = ProgressBar::new(trials as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} trials {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let ranked = experiment::search(&prepared, cfg, trials, seed, Utc::now(), &mut |t| {
        bar.inc(1);
        bar.set_message(format!("trial {} valid loss {:.4}", t.trial, t.mean_valid_loss));
    })?;
    bar.finish_and_clear();
    let out = output.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("models").join(&cfg.name).join("search"));
    write(&out.join("leaderboard.json"), serde_json::to_string_pretty(&ranked)?.as_bytes())?;
    let md = experiment::leaderboard(&ranked);
    write(&out.join("leaderboard.md"), md.as_bytes())?;
    eprintln!("{}\n\n{md}", out.display());
    Ok(())
}

/// `mtf train`.
pub fn train(
    config: &Path,
    data: Option<&Path>,
    output: Option<&Path>,
    checkpoints: Option<&mtf_model::training::Checkpointing>,
) -> anyhow::Result<()> {
    let Loaded { file, example, prepared, store } = load_config(config, data)?;
    let cfg = file.experiment;
    eprintln!(
        "{}: {} samples{}, {} folds × {} evaluation samples, model {} parameters",
        cfg.name,
        prepared.samples.len(),
        match &store {
            Some(s) => format!(" pooled over {} ({} symbols)", s.symbols.join(","), s.symbols.len()),
            None => String::new(),
        },
        cfg.eval.folds,
        cfg.eval.valid_len,
        cfg.model_config().init(&burn_device()).map(|m| mtf_model::num_params(&m)).unwrap_or(0)
    );
    let bar = ProgressBar::new((cfg.eval.folds * cfg.train.epochs) as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} epochs {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut fold, mut fold_start) = (0, 0);
    let started = std::time::Instant::now();
    let outcome = experiment::train_walk_forward(&prepared, &cfg, Utc::now(), checkpoints, &mut |p| match p {
        Progress::Fold { fold: f, of, train } => {
            fold = f;
            fold_start = (f - 1) * cfg.train.epochs;
            bar.set_position(fold_start as u64);
            bar.set_message(format!("fold {f}/{of} ({train} training samples)"));
        }
        Progress::Epoch(e) => {
            bar.set_position((fold_start + e.epoch) as u64);
            bar.set_message(format!("fold {fold} train {:.4} valid {:.4}", e.train_loss, e.valid_loss));
        }
    })?;
    bar.finish_and_clear();
    let out = output.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("models").join(&cfg.name));
    let mut header = outcome.header;
    let held: Vec<String> = cfg.eval.holdout_symbols.iter().map(|s| s.to_uppercase()).collect();
    header.training_data = store.as_ref().map(|s| mtf_model::artifact::TrainingData {
        snapshot: s.snapshot.clone(),
        symbols: s.symbols.iter().filter(|x| !held.contains(x)).cloned().collect(),
        holdout_symbols: held.clone(),
    });
    let bytes = artifact::to_bytes(&outcome.model, header, cfg.weights_dtype)?;
    write(&out.join("model.mtf"), &bytes)?;
    write(&out.join("report.json"), serde_json::to_string_pretty(&outcome.report)?.as_bytes())?;
    write(&out.join("report.md"), experiment::markdown(&outcome.report).as_bytes())?;
    write(&out.join("training.json"), serde_json::to_string_pretty(&outcome.curves)?.as_bytes())?;
    let train_seconds = started.elapsed().as_secs_f64();
    let latency = measure_latency(&bytes, example)?;
    let data_text = match (&store, &file.inputs.minutes) {
        (Some(s), _) => format!(
            "store `{}`, snapshot `{}` (verified before training), symbols {} pooled{}{}{}",
            s.dir.display(),
            s.snapshot,
            s.symbols.iter().filter(|x| !held.contains(x)).cloned().collect::<Vec<_>>().join(", "),
            if held.is_empty() { String::new() } else { format!(" ({} held out)", held.join(", ")) },
            match s.range {
                (None, None) => String::new(),
                (a, b) => format!(
                    ", bars from {} to {}",
                    a.map_or("the first".into(), |d| d.to_string()),
                    b.map_or("the last".into(), |d| format!("before {d}"))
                ),
            },
            range_text(&file.inputs)
        ),
        (None, Some(m)) => format!(
            "minutes `{m}`; daily context `{}`",
            file.inputs.daily.as_deref().unwrap_or("none (resampled from minutes)")
        ),
        (None, None) => String::new(),
    };
    let card = model_card(&CardInputs {
        cfg: &cfg,
        config_path: config,
        report: &outcome.report,
        bytes: &bytes,
        curves: &outcome.curves,
        train_seconds,
        latency,
        data: &data_text,
    })?;
    write(&out.join("MODEL_CARD.md"), card.as_bytes())?;
    eprintln!(
        "{}: trained in {:.1} s; artifact {} bytes\n\n{}",
        out.display(),
        started.elapsed().as_secs_f64(),
        bytes.len(),
        experiment::markdown(&outcome.report)
    );
    Ok(())
}

/// Median wall time (ms) of one batch-1 and one batch-100 prediction, features precomputed (from one symbol's
/// bars keyed by timeframe, as of the end of its last finest bar).
fn measure_latency(bytes: &[u8], given: std::collections::BTreeMap<Timeframe, Vec<Bar>>) -> anyhow::Result<(f64, f64)> {
    let p = Predictor::from_bytes(bytes, burn_device())?;
    let (tf, last) = given.iter().find_map(|(tf, b)| b.last().map(|l| (*tf, *l))).context("no bars")?;
    let at = tf.bar_end(last.start(), p.header.data.session);
    let mtf = p.features_as_of(given, at)?;
    let median =
        |reps: usize, items: &[(&str, &mtf_features::frames::MultiTimeframe, DateTime<Utc>)]| -> anyhow::Result<f64> {
            let mut t = Vec::with_capacity(reps);
            for _ in 0..reps {
                let s = std::time::Instant::now();
                std::hint::black_box(p.predict(items)?);
                t.push(s.elapsed().as_secs_f64() * 1e3);
            }
            t.sort_by(f64::total_cmp);
            Ok(t[t.len() / 2])
        };
    let one = [("SPY", &mtf, at)];
    let hundred: Vec<_> = (0..100).map(|_| ("SPY", &mtf, at)).collect();
    median(5, &one)?; // warm-up
    Ok((median(51, &one)?, median(11, &hundred)?))
}

struct CardInputs<'a> {
    cfg: &'a ExperimentConfig,
    config_path: &'a Path,
    report: &'a experiment::Report,
    bytes: &'a [u8],
    curves: &'a [mtf_model::training::TrainReport],
    train_seconds: f64,
    latency: (f64, f64),
    /// Where the bars came from, one line.
    data: &'a str,
}

fn model_card(c: &CardInputs<'_>) -> anyhow::Result<String> {
    use std::fmt::Write as _;
    let (header, _) = artifact::parse(c.bytes)?;
    let m = c.cfg.model_config();
    let d = &c.cfg.data;
    let tfs: Vec<&str> = d.timeframes.iter().map(|t| t.short()).collect();
    let mut s = String::new();
    writeln!(s, "# Model card: {} {}\n", c.cfg.name, c.cfg.version)?;
    writeln!(s, "Generated by `mtf train`; every number below comes from that run.\n")?;
    writeln!(
        s,
        "Reproduce: `cargo run --release -p mtf-cli -- train --config {}` (reads the store the config names, or `$MTF_DATA_DIR`, default `../shared/data`).\n",
        c.config_path.display()
    )?;
    writeln!(s, "## What it predicts\n")?;
    writeln!(
        s,
        "The log return over the next {h} {b} bars ({min} minutes) after each {b} bar{of_session} closes: \
         quantiles q10/q50/q90 (the {lvl:.0} % band{blend} with a {conformal} conformal correction fit on validation \
         data) and down/flat/up probabilities (flat = |return| ≤ {band:.5}, the training fold's 1/3 quantile of |return|; \
         softmax temperature {t:.2} fit on validation data).{crossing}\n",
        of_session = match (d.base.is_intraday(), d.session) {
            (false, _) => "",
            (true, mtf_market::session::SessionFilter::Regular) => " of the regular session (09:30–16:00 New York)",
            (true, mtf_market::session::SessionFilter::Extended) => {
                " of the extended session (04:00–20:00 New York: pre-market, regular hours and after-hours)"
            }
        },
        crossing = if d.base.is_intraday() && !d.labels.cross_session {
            " Horizons that would cross into the next session are neither trained nor scored."
        } else {
            ""
        },
        h = d.labels.horizon,
        b = d.base.short(),
        min = d.horizon_minutes(),
        band = header.targets.flat_band,
        t = header.calibration.temperature,
        lvl = mtf_model::calibration::INTERVAL_LEVEL * 100.0,
        blend = match header.calibration.band_blend {
            Some(b) if b.weight < 1.0 => format!(
                ": {:.0} % the network's and {:.0} % {} in the units the network predicts in, the weight chosen on \
                 validation;",
                b.weight * 100.0,
                (1.0 - b.weight) * 100.0,
                match d.labels.scale {
                    mtf_model::labels::TargetScale::Fixed => "the training labels' constant band",
                    mtf_model::labels::TargetScale::TrailingVol => "the realised_vol baseline's band",
                    mtf_model::labels::TargetScale::HarVol => "the har_vol baseline's band",
                }
            ),
            _ => String::new(),
        },
        conformal = if header.calibration.interval_delta_by_bucket.is_some() { "per-hour" } else { "pooled" },
    )?;
    writeln!(s, "## Data\n")?;
    writeln!(s, "- Bars: {}.", c.data)?;
    writeln!(
        s,
        "- Samples: {} (training range of the exported model: {} → {}).",
        c.report.samples_total,
        header.training_range[0].to_rfc3339(),
        header.training_range[1].to_rfc3339()
    )?;
    writeln!(
        s,
        "- Inputs: {} timeframes ({}) × {} steps × {} features (feature spec `{}`).\n",
        tfs.len(),
        tfs.join(", "),
        m.lookback,
        m.features,
        header.feature_spec
    )?;
    writeln!(s, "## Model\n")?;
    writeln!(
        s,
        "- Patches of {} steps ({} tokens per sample), d_model {}, {} heads, {} encoder layers, FFN {}, dropout {}.",
        m.patch_len,
        m.timeframes * m.patches(),
        m.d_model,
        m.n_heads,
        m.n_layers,
        m.d_ff,
        m.dropout
    )?;
    writeln!(
        s,
        "- Parameters: {}. Artifact: {} bytes ({:?} weights).",
        header.parameters,
        c.bytes.len(),
        header.weights_dtype
    )?;
    writeln!(s, "- Forward cost: {:.2} MFLOP per prediction (matrix products).", m.flops() as f64 / 1e6)?;
    writeln!(
        s,
        "- Latency on the training machine (flex CPU, native, median, features precomputed): batch 1 {:.3} ms, batch 100 {:.2} ms.",
        c.latency.0, c.latency.1
    )?;
    writeln!(
        s,
        "- Training: {:.1} s for {} folds; epochs kept by early stopping: {:?}.\n",
        c.train_seconds,
        c.curves.len(),
        c.curves.iter().map(|r| r.best_epoch).collect::<Vec<_>>()
    )?;
    writeln!(s, "## Walk-forward results (all evaluation blocks pooled), next to the baselines\n")?;
    writeln!(
        s,
        "{} expanding-window folds, embargo {} bars, {} samples per block. Normalisation, targets, early stopping and \
         calibration use training data only; baselines are fit on the same training parts and scored on the same \
         samples.\n",
        c.cfg.eval.folds, c.cfg.eval.embargo, c.cfg.eval.valid_len
    )?;
    writeln!(s, "{}", experiment::markdown(c.report))?;
    if let Some(h) = &c.report.holdout {
        writeln!(s, "### Held-out symbols: {}\n", h.symbols.join(", "))?;
        writeln!(
            s,
            "Never trained on and outside the normalisation statistics; scored in the same evaluation blocks, the \
             baselines fit on the training symbols only.\n"
        )?;
        let as_report = experiment::Report {
            model: h.model.clone(),
            baselines: h.baselines.clone(),
            holdout: None,
            adaptive: h.adaptive.clone(),
            by_symbol: h.by_symbol.clone(),
            attention: None,
            folds: Vec::new(),
            ideal_gap_100: h.ideal_gap_100,
            ..c.report.clone()
        };
        writeln!(s, "{}", experiment::markdown(&as_report))?;
    }
    writeln!(s, "### Per fold (model)\n")?;
    writeln!(
        s,
        "Target scale: {} (`[data.labels] scale`). The validation interval score is the calibrated band's on the \
         fold's early-stopping part, in log-return units, cross-fitted (each half scored with the correction fit on \
         the other): the number configurations are compared on; the band weight is the network's share in the band \
         blend chosen on the same part (1 = the network's band as is).\n",
        match c.cfg.data.labels.scale {
            mtf_model::labels::TargetScale::Fixed => "fixed (the training labels' standard deviation)",
            mtf_model::labels::TargetScale::TrailingVol => {
                "trailing volatility (label ÷ z·√(h·σ²), σ² the mean squared base-bar return of the last session or 22 days)"
            }
            mtf_model::labels::TargetScale::HarVol => {
                "HAR volatility (label ÷ z·√(h·σ²), σ² the har_vol baseline's prediction, fit on the training part)"
            }
        }
    )?;
    writeln!(
        s,
        "| fold | training samples | evaluated | validation interval score | band weight | dir. acc. | MAE / persistence | coverage |"
    )?;
    writeln!(s, "|---|---:|---|---:|---:|---:|---:|---:|")?;
    for f in &c.report.folds {
        writeln!(
            s,
            "| {} | {} | {} → {} | {} | {} | {:.3} | {:.4} | {:.3} |",
            f.fold,
            f.train_samples,
            f.eval_range[0].format("%Y-%m-%d %H:%M"),
            f.eval_range[1].format("%Y-%m-%d %H:%M"),
            f.valid_interval_score.map_or("–".to_string(), |v| format!("{v:.5}")),
            f.blend_weight.map_or("–".to_string(), |v| format!("{v:.1}")),
            f.metrics.directional_accuracy,
            f.metrics.mae_ratio_vs_persistence,
            f.metrics.coverage_q10_q90
        )?;
    }
    writeln!(s, "\n## Honest reading\n")?;
    let days = (header.training_range[1] - header.training_range[0]).num_days() + 1;
    writeln!(
        s,
        "Trained on {} ({} samples; the exported model's training range spans {days} calendar days). On its \
         walk-forward blocks ({} predictions):\n",
        c.data, c.report.samples_total, c.report.model.n_predictions
    )?;
    for sentence in mtf_model::reading::reading(&c.report.model, &c.report.baselines) {
        writeln!(s, "- {sentence}")?;
    }
    if let Some(sentence) =
        mtf_model::reading::gap_reading(&c.report.model, c.report.adaptive.as_ref(), c.report.ideal_gap_100.as_ref())
    {
        writeln!(s, "- {sentence}")?;
    }
    if let Some(att) = &c.report.attention {
        let weights: Vec<String> = att.mean_weights.iter().map(|(t, w)| format!("{t} {w:.3}")).collect();
        writeln!(
            s,
            "- Attention across timeframes: mean normalised entropy {:.3} (1 = uniform), mean weights {}{}",
            att.mean_normalised_entropy,
            weights.join(", "),
            if att.mean_normalised_entropy >= experiment::NEAR_UNIFORM_ENTROPY {
                ": near uniform, so the attention views show no preference and are not evidence of what the model uses."
            } else {
                "."
            }
        )?;
    }
    let policy = header.calibration.signal.unwrap_or(mtf_model::signals::SignalPolicy::UNVALIDATED);
    let check = c.report.model.signals;
    let oos = format!(
        "On the walk-forward blocks (each fold's policy fit on its own validation part) {} predictions signalled, \
         hit rate {:.3} against a base rate of {:.3}.",
        check.count, check.hit_rate, check.base_rate
    );
    match policy.margin {
        Some(m) => writeln!(
            s,
            "- Signals: buy/sell when p(up) − p(down) (or the reverse) ≥ {m:.3}, chosen on the final validation part: \
             {} signals hit {:.3}, one-sided {:.0} % lower bound {:.3} (Bonferroni over {} margins) above the base rate \
             {:.3}; validated edge {:.3} scales every suggested position (volatility-targeted at {:.1} % of equity per \
             σ). {oos}",
            policy.signals,
            policy.hit_rate,
            mtf_model::signals::CONFIDENCE * 100.0,
            policy.hit_rate_lower,
            mtf_model::signals::MARGINS.len(),
            policy.base_rate,
            policy.edge,
            mtf_model::signals::RISK_PER_TRADE * 100.0,
        )?,
        None => writeln!(
            s,
            "- Signals: hold only. No margin gave a hit rate whose one-sided {:.0} % lower bound beat the base rate on \
             the final validation part ({} samples; best try {} signals, hit {:.3}, bound {:.3} vs base {:.3}), so the \
             model suggests no position. {oos}",
            mtf_model::signals::CONFIDENCE * 100.0,
            policy.samples,
            policy.signals,
            policy.hit_rate,
            policy.hit_rate_lower,
            policy.base_rate,
        )?,
    }
    writeln!(
        s,
        "\nPublished price-only results on equities sit at 51–56 % directional accuracy. The backtest holds one \
         position per horizon and pays {:.0} bp per side. Judge the model by the sentences above, computed from the \
         table, before trading on it.",
        mtf_model::metrics::COST_PER_SIDE * 1e4
    )?;
    Ok(s)
}

pub(crate) fn burn_device() -> burn::tensor::Device {
    burn::tensor::Device::flex()
}

fn load_predictor(model: &Path) -> anyhow::Result<Predictor> {
    let bytes = artifact::read_path(model).map_err(anyhow::Error::msg)?;
    Predictor::from_bytes(&bytes, burn_device()).with_context(|| format!("loading {}", model.display()))
}

/// Arguments of `mtf evaluate`.
/// Where `mtf evaluate` reads bars.
pub enum EvalSource {
    /// A CSV file.
    File(PathBuf),
    /// A store snapshot and symbols.
    Store {
        /// The store directory.
        dir: PathBuf,
        /// The snapshot id.
        snapshot: String,
        /// The symbols.
        symbols: Vec<String>,
    },
}

pub struct EvaluateArgs<'a> {
    pub model: &'a Path,
    pub source: EvalSource,
    pub timeframe: Option<Timeframe>,
    pub daily: Option<&'a Path>,
    pub repair: bool,
    pub output: &'a Path,
    pub markdown: Option<&'a Path>,
    pub valid_len: usize,
    pub min_train: usize,
}

/// `mtf evaluate`.
pub fn evaluate(a: &EvaluateArgs<'_>) -> anyhow::Result<()> {
    let predictor = load_predictor(a.model)?;
    let prepared = match &a.source {
        EvalSource::File(input) => {
            let given = input_bars(input, a.timeframe, a.daily, a.repair)?;
            let symbol = mtf_market::io::file_name_parts(input).0.unwrap_or_default();
            Prepared::pooled(&[(symbol, given)], &predictor.header.data).context("preparing samples")?
        }
        EvalSource::Store { dir, snapshot, symbols } => {
            let inputs = Inputs {
                minutes: None,
                daily: None,
                repair: false,
                store: None,
                snapshot: Some(snapshot.clone()),
                symbols: symbols.clone(),
                start: None,
                end: None,
                bar_sizes: Vec::new(),
                ranges: Default::default(),
            };
            load_store(&inputs, dir, &predictor.header.data, Path::new("--store"))?.1
        }
    };
    let h = predictor.header.data.labels.horizon;
    let eval = EvalConfig {
        folds: 0,
        valid_len: a.valid_len,
        embargo: h,
        inner_valid_frac: 0.0,
        min_train: a.min_train,
        clip: 5.0,
        holdout_symbols: Vec::new(),
        conformal: mtf_model::calibration::Conformal::default(),
    };
    let report = experiment::evaluate(&predictor, &prepared, &eval)?;
    write(a.output, serde_json::to_string_pretty(&report)?.as_bytes())?;
    let md = experiment::markdown(&report);
    if let Some(m) = a.markdown {
        write(m, md.as_bytes())?;
    }
    eprintln!("{}\n{md}", a.output.display());
    Ok(())
}

/// `mtf predict`.
pub fn predict(
    model: &Path,
    input: &Path,
    timeframe: Option<Timeframe>,
    daily: Option<&Path>,
    repair: bool,
    at: DateTime<Utc>,
    symbol: &str,
) -> anyhow::Result<()> {
    let predictor = load_predictor(model)?;
    // Only bars that had closed by `at` are used; later rows in the files are never inputs.
    let given = input_bars(input, timeframe, daily, repair)?;
    let mtf = predictor.features_as_of(given, at)?;
    let p = predictor.predict(&[(symbol, &mtf, at)])?;
    println!("{}", serde_json::to_string_pretty(&p[0])?);
    Ok(())
}

/// `mtf predict --request`: the prediction for a JSON request (`{ symbol, at?, bars: { tf: [Alpaca bars] } }`),
/// through the same path as the npm package's `predict`; `at` defaults to the newest bar's end.
pub fn predict_request(model: &Path, request: &Path, at: Option<DateTime<Utc>>) -> anyhow::Result<()> {
    #[derive(Deserialize)]
    struct Request {
        symbol: String,
        #[serde(default)]
        at: Option<DateTime<Utc>>,
        bars: std::collections::BTreeMap<String, serde_json::Value>,
    }
    let predictor = load_predictor(model)?;
    let text = std::fs::read_to_string(request).with_context(|| format!("reading {}", request.display()))?;
    let r: Request =
        serde_json::from_str(&text).with_context(|| format!("{}: not a prediction request", request.display()))?;
    let session = predictor.header.data.session;
    let mut given = std::collections::BTreeMap::new();
    for (key, bars) in &r.bars {
        let tf: Timeframe = key.parse().with_context(|| format!("{}: bars[\"{key}\"]", request.display()))?;
        let label = format!("{}: bars[\"{key}\"]", request.display());
        given.insert(tf, mtf_market::io::parse_alpaca_bars_json(&bars.to_string(), &label)?);
    }
    let at = at
        .or(r.at)
        .or_else(|| given.iter().filter_map(|(tf, b)| b.last().map(|b| tf.bar_end(b.start(), session))).max())
        .with_context(|| format!("{}: no bars", request.display()))?;
    let mtf = predictor.features_as_of(given, at)?;
    let p = predictor.predict(&[(r.symbol.as_str(), &mtf, at)])?;
    println!("{}", serde_json::to_string_pretty(&p[0])?);
    Ok(())
}

/// `mtf export`: rewrites an artifact (e.g. with f16 weights) after verifying it.
pub fn export(model: &Path, output: &Path, f16: bool) -> anyhow::Result<()> {
    let predictor = load_predictor(model)?;
    let dtype = if f16 { WeightDtype::F16 } else { WeightDtype::F32 };
    let bytes = artifact::to_bytes(predictor.model(), predictor.header.clone(), dtype)?;
    write(output, &bytes)?;
    eprintln!("{}: {} bytes ({:?} weights)", output.display(), bytes.len(), dtype);
    Ok(())
}
