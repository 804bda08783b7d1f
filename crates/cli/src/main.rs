//! `mtf`: command-line tools over bar files (see `mtf --help`).

mod backfill_command;
mod commands;
mod edge_client;
mod input;
mod model_commands;
mod retrain_command;
mod store_commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mtf_market::Timeframe;
use mtf_market::session::SessionFilter;

/// Multi-timeframe market tools: indicators, resampling and model features from Alpaca-style bar files.
#[derive(Debug, Parser)]
#[command(name = "mtf", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct ReadArgs {
    /// Repair rows whose open/close lie outside [low, high] by widening the range (a warning names each row);
    /// without it such rows are errors.
    #[arg(long)]
    repair: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compute TA-Lib-compatible indicators for every bar of a file.
    ///
    /// Output: the input's time column, then sma_50, ema_20, rsi_14, macd, macd_signal, macd_hist, bb_upper,
    /// bb_middle, bb_lower, atr_14, adx_14, plus_di_14, minus_di_14, stoch_k, stoch_d, obv, mfi_14
    /// (empty during warm-up).
    Indicators {
        /// Bars CSV (minute `timestamp,open,high,low,close,volume` or daily `date,open,...` layout).
        #[arg(long)]
        input: PathBuf,
        /// Output CSV.
        #[arg(long)]
        output: PathBuf,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Resample 1-minute bars to a coarser timeframe on the New York clock.
    ///
    /// Output columns: timestamp,open,high,low,close,volume,trade_count,vwap (timestamp = bar start, RFC 3339 UTC).
    Resample {
        /// 1-minute bars CSV.
        #[arg(long)]
        input: PathBuf,
        /// Target timeframe: 1m, 5m, 10m, 15m, 30m, 1h, 4h, 1d (or 5Min, 1Hour, 1Day, ...).
        #[arg(long)]
        timeframe: Timeframe,
        /// Which minutes to keep: regular [09:30, 16:00) New York, or extended [04:00, 20:00).
        #[arg(long, default_value = "regular")]
        session: SessionFilter,
        /// Output CSV.
        #[arg(long)]
        output: PathBuf,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Model features as of the end of every `--every` bucket of the regular session, for each timeframe.
    ///
    /// Output: as_of,timeframe,<feature names>: the raw (un-normalised) features of that timeframe's latest
    /// bar complete at as_of; empty when there is none yet or it is still warming up.
    Features {
        /// 1-minute bars CSV.
        #[arg(long)]
        input: PathBuf,
        /// Daily bars CSV for the 1d timeframe (otherwise 1d is resampled from the minutes).
        #[arg(long)]
        daily: Option<PathBuf>,
        /// Spacing of prediction instants.
        #[arg(long, default_value = "15m")]
        every: Timeframe,
        /// Timeframes, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1m,5m,10m,15m,30m,1h,4h,1d")]
        timeframes: Vec<Timeframe>,
        /// Which minutes feed the intraday timeframes.
        #[arg(long, default_value = "regular")]
        session: SessionFilter,
        /// Output CSV.
        #[arg(long)]
        output: PathBuf,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Train a model walk-forward (with baselines in the same run) and write model.mtf and report.json.
    Train {
        /// Training config (TOML): name, version, [inputs], [data], [model], [train], [eval].
        #[arg(long)]
        config: PathBuf,
        /// Directory the config's input files are relative to (default $MTF_DATA_DIR, else ../shared/data).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Output directory (default models/<name>).
        #[arg(long)]
        output: Option<PathBuf>,
        /// Write a checkpoint after every epoch into this directory (one subdirectory per fold).
        #[arg(long)]
        checkpoint_dir: Option<PathBuf>,
        /// Resume from the checkpoints in --checkpoint-dir.
        #[arg(long, requires = "checkpoint_dir")]
        resume: bool,
    },
    /// Random hyperparameter search around a training config; writes leaderboard.json/.md ranked by validation loss.
    Search {
        /// Training config (TOML), as for `train`.
        #[arg(long)]
        config: PathBuf,
        /// Number of trials.
        #[arg(long, default_value_t = 8)]
        trials: usize,
        /// Seed of the sampler.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Directory the config's input files are relative to.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Output directory (default models/<name>/search).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Evaluate a trained model walk-forward on data after its training range, with baselines.
    ///
    /// Bars from a CSV file (`--input`), or from a store snapshot (`--store`, `--snapshot`, `--symbols`, pooled as
    /// in training; e.g. the symbols a model never saw).
    Evaluate {
        /// Model artifact or its directory.
        #[arg(long)]
        model: PathBuf,
        /// Bars CSV: 1-minute by default; another bar size with --timeframe or a name like `spy_15min_….csv`.
        #[arg(long, required_unless_present = "store", conflicts_with = "store")]
        input: Option<PathBuf>,
        /// A bar store (instead of --input).
        #[arg(long, requires_all = ["snapshot", "symbols"])]
        store: Option<PathBuf>,
        /// The store snapshot (it must verify).
        #[arg(long)]
        snapshot: Option<String>,
        /// Comma-separated symbols from the store.
        #[arg(long, value_delimiter = ',')]
        symbols: Vec<String>,
        /// Bar size of --input (default: from its file name, else 1Min).
        #[arg(long)]
        timeframe: Option<Timeframe>,
        /// Daily bars CSV for 1d.
        #[arg(long)]
        daily: Option<PathBuf>,
        /// report.json path.
        #[arg(long)]
        output: PathBuf,
        /// Optional markdown table.
        #[arg(long)]
        markdown: Option<PathBuf>,
        /// Samples per evaluation block (baselines are refit before each block).
        #[arg(long, default_value_t = 50)]
        block: usize,
        /// Minimum earlier samples to fit the baselines for a block.
        #[arg(long, default_value_t = 100)]
        min_train: usize,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Print the prediction JSON for one instant, using only bars closed by then.
    Predict {
        /// Model artifact or its directory.
        #[arg(long)]
        model: PathBuf,
        /// Bars CSV: 1-minute by default; another bar size with --timeframe or a name like `spy_15min_….csv`.
        #[arg(long, required_unless_present = "request", conflicts_with = "request")]
        input: Option<PathBuf>,
        /// A prediction request as JSON instead of CSV files: `{ "symbol", "at"?, "bars": { "15m": [Alpaca
        /// bars], "1d": […], … } }` — the npm package's `predict` input, and what the edge's `inputs` describe.
        #[arg(long)]
        request: Option<PathBuf>,
        /// Bar size of --input (default: from its file name, else 1Min).
        #[arg(long)]
        timeframe: Option<Timeframe>,
        /// Daily bars CSV for 1d.
        #[arg(long)]
        daily: Option<PathBuf>,
        /// Prediction instant, RFC 3339 (with --request: overrides its `at`).
        #[arg(long, required_unless_present = "request")]
        at: Option<chrono::DateTime<chrono::FixedOffset>>,
        /// Symbol to label the prediction with (with --request: its `symbol`).
        #[arg(long, default_value = "SPY")]
        symbol: String,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Verify an artifact and write it again (optionally with f16 weights).
    Export {
        /// Model artifact or its directory.
        #[arg(long)]
        model: PathBuf,
        /// Output file.
        #[arg(long)]
        output: PathBuf,
        /// Store weights as f16 (half the size).
        #[arg(long)]
        f16: bool,
    },
    /// Import bar CSV files into a versioned Parquet store (one snapshot per import; idempotent).
    ///
    /// `--input` is a file or a directory (every .csv under it, subfolders included). Symbol and bar size come
    /// from the flags or from each file's name (`spy_1min_2011-01.csv`, `aapl_15min_….csv`, `msft_1d_….csv`).
    Import {
        /// A bars CSV (minute or daily layout) or a directory of them.
        #[arg(long)]
        input: PathBuf,
        /// Symbol (default: from the file name).
        #[arg(long)]
        symbol: Option<String>,
        /// Bar size: 1Min, 15Min, 30Min, 1Day, … (default: from the file name).
        #[arg(long)]
        timeframe: Option<Timeframe>,
        /// Store directory (created on first write).
        #[arg(long)]
        store: PathBuf,
        #[command(flatten)]
        read: ReadArgs,
    },
    /// Fetch historical bars from Alpaca (or `mtf replay`) into a store: paged, rate-limited, retried,
    /// incremental.
    ///
    /// Keys from APCA_API_KEY_ID / APCA_API_SECRET_KEY. Each symbol continues after its last stored bar
    /// (--refresh-days re-fetches recent days for corrections). Snapshots are written as it goes, so a failure
    /// or Ctrl-C keeps what was fetched; running the same command again continues. Refused symbols are named
    /// and the others stored.
    Backfill(backfill_command::BackfillArgs),
    /// Retrain against the edge: backfill the store, train a challenger on the latest window, score it and the
    /// active model on the same unseen holdout, apply the config's promotion rule, register (and activate) the
    /// challenger, and record the run (local log + the edge's `/api/v1/retrains`).
    ///
    /// The admin token comes from MTF_ADMIN_TOKEN; backfill keys from APCA_API_KEY_ID / APCA_API_SECRET_KEY.
    /// `--if-needed` runs only when a trigger fires (schedule, no champion, live coverage, hit rate, interval
    /// score, feature drift, volatility regime) and prints every check.
    Retrain(retrain_command::RetrainArgs),
    /// What a store holds (`ls`) and whether it is sound (`verify`).
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Local Alpaca Market Data v2 stand-in (REST + stream) serving bars from CSV files.
    ///
    /// Serves `<symbol>_<bar size>_*.csv` from --data and its subfolders (any size the name states; files of
    /// one symbol and size merge; coarser sizes are resampled), synthetic bars as symbol SYNTH when there are
    /// none. Bars carry synthesised `n` and `vw` where the files lack them. Without --start-at every bar is history; with it a replay clock runs
    /// (REST withholds bars that end after the clock, the stream emits trades and bars as the clock passes
    /// them). Accepts the key pair in APCA_API_KEY_ID / APCA_API_SECRET_KEY (default mtf-local-key /
    /// mtf-local-secret).
    Replay {
        /// Directory of bar CSV files (e.g. ../shared/data).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Address to bind.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Port.
        #[arg(long, default_value_t = 8788)]
        port: u16,
        /// Replay clock start (RFC 3339, or `first` for the first minute bar).
        #[arg(long)]
        start_at: Option<String>,
        /// Replay speed (× real time).
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
    },
}

#[derive(Debug, Subcommand)]
enum StoreCommand {
    /// Series per symbol and bar size: rows, range, sessions and the sessions with missing bars.
    Ls {
        /// Store directory.
        #[arg(long)]
        store: PathBuf,
        /// A snapshot id (default: the current one).
        #[arg(long)]
        snapshot: Option<String>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Checks every file against the snapshot's manifest (sha256, rows) and the Hive tree against HEAD.
    Verify {
        /// Store directory.
        #[arg(long)]
        store: PathBuf,
        /// A snapshot id (default: the current one).
        #[arg(long)]
        snapshot: Option<String>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MTF_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Indicators { input, output, read } => commands::indicators(&input, &output, read.repair),
        Command::Resample { input, timeframe, session, output, read } => {
            commands::resample(&input, timeframe, session, &output, read.repair)
        }
        Command::Features { input, daily, every, timeframes, session, output, read } => commands::features(
            &commands::FeaturesArgs { input, daily, every, timeframes, session, output },
            read.repair,
        ),
        Command::Train { config, data_dir, output, checkpoint_dir, resume } => {
            let ck = checkpoint_dir.map(|dir| mtf_model::training::Checkpointing { dir, resume });
            model_commands::train(&config, data_dir.as_deref(), output.as_deref(), ck.as_ref())
        }
        Command::Search { config, trials, seed, data_dir, output } => {
            model_commands::search(&config, trials, seed, data_dir.as_deref(), output.as_deref())
        }
        Command::Evaluate {
            model,
            input,
            store,
            snapshot,
            symbols,
            timeframe,
            daily,
            output,
            markdown,
            block,
            min_train,
            read,
        } => {
            let source = match (input, store) {
                (Some(i), _) => model_commands::EvalSource::File(i),
                (None, Some(s)) => {
                    model_commands::EvalSource::Store { dir: s, snapshot: snapshot.unwrap_or_default(), symbols }
                }
                (None, None) => anyhow::bail!("--input or --store is required"),
            };
            model_commands::evaluate(&model_commands::EvaluateArgs {
                model: &model,
                source,
                timeframe,
                daily: daily.as_deref(),
                repair: read.repair,
                output: &output,
                markdown: markdown.as_deref(),
                valid_len: block,
                min_train,
            })
        }
        Command::Predict { model, input, request, timeframe, daily, at, symbol, read } => {
            let at = at.map(|t| t.with_timezone(&chrono::Utc));
            match (request, input, at) {
                (Some(r), _, at) => model_commands::predict_request(&model, &r, at),
                (None, Some(input), Some(at)) => {
                    model_commands::predict(&model, &input, timeframe, daily.as_deref(), read.repair, at, &symbol)
                }
                _ => Err(anyhow::anyhow!("`mtf predict` needs --input and --at, or --request")),
            }
        }
        Command::Export { model, output, f16 } => model_commands::export(&model, &output, f16),
        Command::Import { input, symbol, timeframe, store, read } => {
            store_commands::import(&input, symbol.as_deref(), timeframe, &store, read.repair)
        }
        Command::Backfill(args) => backfill_command::backfill(args),
        Command::Retrain(args) => retrain_command::retrain(args),
        Command::Store { command: StoreCommand::Ls { store, snapshot, json } } => {
            store_commands::ls(&store, snapshot.as_deref(), json)
        }
        Command::Store { command: StoreCommand::Verify { store, snapshot } } => {
            store_commands::verify(&store, snapshot.as_deref())
        }
        Command::Replay { data, host, port, start_at, speed } => {
            mtf_replay::run(data.as_deref(), &host, port, start_at.as_deref(), speed).map_err(anyhow::Error::from)
        }
    }
}
