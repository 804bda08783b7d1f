//! `mtf train | evaluate | predict | export`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use mtf_market::Bar;
use mtf_model::artifact::{self, WeightDtype};
use mtf_model::data::Prepared;
use mtf_model::experiment::{self, EvalConfig, ExperimentConfig, Progress};
use mtf_model::predict::Predictor;
use serde::Deserialize;

use crate::input;

/// A training config file: the experiment plus where its bars come from.
#[derive(Debug, Deserialize)]
struct TrainFile {
    #[serde(flatten)]
    experiment: ExperimentConfig,
    inputs: Inputs,
}

#[derive(Debug, Deserialize)]
struct Inputs {
    /// 1-minute bars, relative to the data directory.
    minutes: String,
    /// Daily bars for `1d`, relative to the data directory.
    daily: Option<String>,
    /// Repair OHLC inconsistencies (with warnings).
    #[serde(default)]
    repair: bool,
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

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

type Loaded = (TrainFile, Vec<Bar>, Option<Vec<Bar>>, Prepared);

fn load_config(config: &Path, data: Option<&Path>) -> anyhow::Result<Loaded> {
    let text = std::fs::read_to_string(config).with_context(|| format!("reading {}", config.display()))?;
    let file: TrainFile =
        toml::from_str(&text).with_context(|| format!("{}: invalid training config", config.display()))?;
    file.experiment.model_config().validate().with_context(|| config.display().to_string())?;
    let dir = data_dir(data);
    let daily = file.inputs.daily.as_ref().map(|d| dir.join(d));
    let (minutes, daily) = load_bars(&dir.join(&file.inputs.minutes), daily.as_deref(), file.inputs.repair)?;
    let prepared = Prepared::new(&minutes, daily.as_deref(), &file.experiment.data).context("preparing samples")?;
    Ok((file, minutes, daily, prepared))
}

/// `mtf search`.
pub fn search(
    config: &Path,
    trials: usize,
    seed: u64,
    data: Option<&Path>,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    let (file, _, _, prepared) = load_config(config, data)?;
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
    let (file, minutes, daily, prepared) = load_config(config, data)?;
    let cfg = file.experiment;
    eprintln!(
        "{}: {} samples, {} folds × {} evaluation samples, model {} parameters",
        cfg.name,
        prepared.samples.len(),
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
    let bytes = artifact::to_bytes(&outcome.model, outcome.header, cfg.weights_dtype)?;
    write(&out.join("model.mtf"), &bytes)?;
    write(&out.join("report.json"), serde_json::to_string_pretty(&outcome.report)?.as_bytes())?;
    write(&out.join("report.md"), experiment::markdown(&outcome.report).as_bytes())?;
    write(&out.join("training.json"), serde_json::to_string_pretty(&outcome.curves)?.as_bytes())?;
    let train_seconds = started.elapsed().as_secs_f64();
    let latency = measure_latency(&bytes, &minutes, daily.as_deref())?;
    let card = model_card(&CardInputs {
        cfg: &cfg,
        config_path: config,
        report: &outcome.report,
        bytes: &bytes,
        curves: &outcome.curves,
        train_seconds,
        latency,
        data_files: (&file.inputs.minutes, file.inputs.daily.as_deref()),
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

/// Median wall time (ms) of one batch-1 and one batch-100 prediction, features precomputed.
fn measure_latency(bytes: &[u8], minutes: &[Bar], daily: Option<&[Bar]>) -> anyhow::Result<(f64, f64)> {
    let p = Predictor::from_bytes(bytes, burn_device())?;
    let mtf = p.features(minutes, daily)?;
    let at = minutes.last().map(|b| b.start() + chrono::Duration::minutes(1)).context("no minutes")?;
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
    data_files: (&'a str, Option<&'a str>),
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
        "Reproduce: `cargo run --release -p mtf-cli -- train --config {}` (reads `$MTF_DATA_DIR`, default `../shared/data`).\n",
        c.config_path.display()
    )?;
    writeln!(s, "## What it predicts\n")?;
    writeln!(
        s,
        "The log return over the next {h} {b} bars ({min} minutes) after each {b} bar of the regular session closes: \
         quantiles q10/q50/q90 (the {lvl:.0} % band, adjusted by a conformal correction fit on validation data) and \
         down/flat/up probabilities (flat = |return| ≤ {band:.5}, the training fold's 1/3 quantile of |return|; \
         softmax temperature {t:.2} fit on validation data). Horizons that would cross into the next session are \
         neither trained nor scored.\n",
        h = d.labels.horizon,
        b = d.base.short(),
        min = d.base.minutes() * d.labels.horizon as i64,
        band = header.targets.flat_band,
        t = header.calibration.temperature,
        lvl = mtf_model::calibration::INTERVAL_LEVEL * 100.0
    )?;
    writeln!(s, "## Data\n")?;
    writeln!(
        s,
        "- Minutes: `{}`; daily context: `{}`.",
        c.data_files.0,
        c.data_files.1.unwrap_or("none (resampled from minutes)")
    )?;
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
    writeln!(s, "### Per fold (model)\n")?;
    writeln!(s, "| fold | training samples | evaluated | dir. acc. | MAE / persistence | coverage |")?;
    writeln!(s, "|---|---:|---|---:|---:|---:|")?;
    for f in &c.report.folds {
        writeln!(
            s,
            "| {} | {} | {} → {} | {:.3} | {:.4} | {:.3} |",
            f.fold,
            f.train_samples,
            f.eval_range[0].format("%Y-%m-%d %H:%M"),
            f.eval_range[1].format("%Y-%m-%d %H:%M"),
            f.metrics.directional_accuracy,
            f.metrics.mae_ratio_vs_persistence,
            f.metrics.coverage_q10_q90
        )?;
    }
    writeln!(s, "\n## Honest reading\n")?;
    let days = (header.training_range[1] - header.training_range[0]).num_days() + 1;
    writeln!(
        s,
        "Trained on `{}` ({} samples; the exported model's training range spans {days} calendar days). On its \
         walk-forward blocks ({} predictions):\n",
        c.data_files.0, c.report.samples_total, c.report.model.n_predictions
    )?;
    for sentence in mtf_model::reading::reading(&c.report.model, &c.report.baselines) {
        writeln!(s, "- {sentence}")?;
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

fn burn_device() -> burn::tensor::Device {
    burn::tensor::Device::flex()
}

fn load_predictor(model: &Path) -> anyhow::Result<Predictor> {
    let bytes = artifact::read_path(model).map_err(anyhow::Error::msg)?;
    Predictor::from_bytes(&bytes, burn_device()).with_context(|| format!("loading {}", model.display()))
}

/// Arguments of `mtf evaluate`.
pub struct EvaluateArgs<'a> {
    pub model: &'a Path,
    pub input: &'a Path,
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
    let (minutes, daily) = load_bars(a.input, a.daily, a.repair)?;
    let prepared = Prepared::new(&minutes, daily.as_deref(), &predictor.header.data).context("preparing samples")?;
    let h = predictor.header.data.labels.horizon;
    let eval = EvalConfig {
        folds: 0,
        valid_len: a.valid_len,
        embargo: h,
        inner_valid_frac: 0.0,
        min_train: a.min_train,
        clip: 5.0,
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
    daily: Option<&Path>,
    repair: bool,
    at: DateTime<Utc>,
    symbol: &str,
) -> anyhow::Result<()> {
    let predictor = load_predictor(model)?;
    let (minutes, daily) = load_bars(input, daily, repair)?;
    // Only bars that had closed by `at` are used; later rows in the files are never inputs.
    let mut given = std::collections::BTreeMap::from([(mtf_market::Timeframe::M1, minutes)]);
    if let Some(d) = daily {
        given.insert(mtf_market::Timeframe::D1, d);
    }
    let mtf = predictor.features_as_of(given, at)?;
    let p = predictor.predict(&[(symbol, &mtf, at)])?;
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
