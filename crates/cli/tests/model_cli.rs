//! `mtf train | predict | evaluate | export` end to end on the real SPY data, with a tiny model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use common::data_dir;
use std::process::{Command, Output};

fn mtf(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mtf")).args(args).output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

const CONFIG: &str = r#"
name = "tiny"
version = "0.0.1"
[inputs]
minutes = "spy_1min_2011-01.csv"
daily = "spy_1d_2007-12-31_2017-12-29.csv"
repair = true
[data]
timeframes = ["1m", "15m", "1d"]
lookback = 16
base = "15m"
[data.labels]
horizon = 2
[model]
patch_len = 8
d_model = 16
n_heads = 2
n_layers = 1
d_ff = 32
dropout = 0.0
[train]
epochs = 2
batch_size = 64
lr = 0.001
weight_decay = 0.01
grad_clip = 1.0
patience = 2
warmup_epochs = 0
class_weight = 0.5
seed = 1
[eval]
folds = 2
valid_len = 40
embargo = 2
inner_valid_frac = 0.2
min_train = 100
clip = 5.0
"#;

#[test]
fn train_predict_evaluate_export() {
    let Some(dir) = data_dir() else { return };
    let work = std::env::temp_dir().join(format!("mtf-model-cli-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let config = work.join("tiny.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let out = work.join("tiny");
    let (c, d, o) = (config.to_str().unwrap(), dir.to_str().unwrap(), out.to_str().unwrap());
    let ck = work.join("ckpt");
    ok(&mtf(&["train", "--config", c, "--data-dir", d, "--output", o, "--checkpoint-dir", ck.to_str().unwrap()]));
    let first = std::fs::read_to_string(out.join("report.json")).unwrap();
    assert!(ck.join("fold-1/state.json").is_file() && ck.join("fold-2/optimizer.bpk").is_file());
    // Resuming finished checkpoints reproduces the same report.
    ok(&mtf(&[
        "train",
        "--config",
        c,
        "--data-dir",
        d,
        "--output",
        o,
        "--checkpoint-dir",
        ck.to_str().unwrap(),
        "--resume",
    ]));
    assert_eq!(std::fs::read_to_string(out.join("report.json")).unwrap(), first);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    for key in [
        "n_predictions",
        "horizon",
        "mae",
        "mae_persistence",
        "mae_ratio_vs_persistence",
        "rmse_ratio_vs_persistence",
        "directional_accuracy",
        "directional_base_rate",
        "directional_accuracy_top20",
        "information_coefficient",
        "brier",
        "ece",
        "coverage_q10_q90",
    ] {
        assert!(report[key].is_number(), "report.json lacks {key}");
    }
    assert_eq!(report["n_predictions"], 80);
    for key in ["total_return", "sharpe", "max_drawdown", "hit_rate", "turnover", "buy_and_hold_return"] {
        assert!(report["backtest"][key].is_number(), "backtest lacks {key}");
    }
    for b in ["persistence", "majority", "ridge", "logistic"] {
        assert!(report["baselines"][b]["mae"].is_number(), "baseline {b} missing");
    }
    // The signal check out of sample, and the policy the exported model signals by, in the card.
    assert!(report["signals"]["count"].is_u64() && report["signals"]["base_rate"].is_number());
    let card = std::fs::read_to_string(out.join("MODEL_CARD.md")).unwrap();
    assert!(card.contains("- Signals: "), "{card}");
    // Each fold's band blend, chosen on its validation part from the grid 0, 0.1, …, 1, in the report and the card.
    for f in report["folds"].as_array().unwrap() {
        let w = f["blend_weight"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&w) && ((w * 10.0).round() - w * 10.0).abs() < 1e-9, "{w}");
        assert!(f["valid_interval_score"].as_f64().unwrap() > 0.0);
    }
    assert!(card.contains("| band weight |"), "{card}");

    // predict: the same JSON whether or not the file holds bars after --at (they are never read as inputs).
    let minutes = dir.join("spy_1min_2011-01.csv");
    let daily = dir.join("spy_1d_2007-12-31_2017-12-29.csv");
    let at = "2011-01-27T19:00:00Z";
    let full = ok(&mtf(&[
        "predict",
        "--model",
        o,
        "--input",
        minutes.to_str().unwrap(),
        "--daily",
        daily.to_str().unwrap(),
        "--repair",
        "--at",
        at,
    ]));
    let text = std::fs::read_to_string(&minutes).unwrap();
    let truncated: String =
        text.lines().take_while(|l| !l.starts_with("2011-01-27T19:00")).map(|l| format!("{l}\n")).collect();
    let cut = work.join("cut.csv");
    std::fs::write(&cut, truncated).unwrap();
    let part = ok(&mtf(&[
        "predict",
        "--model",
        o,
        "--input",
        cut.to_str().unwrap(),
        "--daily",
        daily.to_str().unwrap(),
        "--repair",
        "--at",
        at,
    ]));
    assert_eq!(full, part, "predict used bars after --at");
    let p: serde_json::Value = serde_json::from_str(&full).unwrap();
    assert_eq!(p["predictionTime"], at);
    assert_eq!(p["lastBarStart"], "2011-01-27T18:45:00Z");
    let (lo, mid, hi) = (
        p["interval"]["low"].as_f64().unwrap(),
        p["predictedPrice"].as_f64().unwrap(),
        p["interval"]["high"].as_f64().unwrap(),
    );
    assert!(lo <= mid && mid <= hi);
    assert_eq!(p["attention"]["overTime"].as_array().unwrap().len(), 3);
    // The suggested position follows the signal: 0 on hold, its sign otherwise, never a full position.
    let pos = p["position"].as_f64().unwrap();
    match p["signal"].as_str().unwrap() {
        "hold" => assert_eq!(pos, 0.0),
        "buy" => assert!((0.0..1.0).contains(&pos), "{pos}"),
        _ => assert!(pos <= 0.0 && pos > -1.0, "{pos}"), // sell
    }
    if card.contains("- Signals: hold only") {
        assert_eq!(p["signal"], "hold", "a hold-only policy never signals");
    }
    assert_eq!(p["attention"]["overTime"][0].as_array().unwrap().len(), 16);

    // evaluate: runs on data after the training range and writes a report with baselines.
    let eval = work.join("eval.json");
    ok(&mtf(&[
        "evaluate",
        "--model",
        o,
        "--input",
        minutes.to_str().unwrap(),
        "--daily",
        daily.to_str().unwrap(),
        "--repair",
        "--output",
        eval.to_str().unwrap(),
        "--block",
        "20",
        "--min-train",
        "50",
    ]));
    let e: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&eval).unwrap()).unwrap();
    assert!(e["n_predictions"].as_u64().unwrap() > 0);
    assert!(e["baselines"]["ridge"]["brier"].is_number());

    // export f16, then predict with it.
    let f16 = work.join("tiny-f16.mtf");
    ok(&mtf(&["export", "--model", o, "--output", f16.to_str().unwrap(), "--f16"]));
    assert!(std::fs::metadata(&f16).unwrap().len() < std::fs::metadata(out.join("model.mtf")).unwrap().len());

    // search: trials ranked by validation loss.
    let search = work.join("search");
    ok(&mtf(&["search", "--config", c, "--data-dir", d, "--trials", "2", "--output", search.to_str().unwrap()]));
    let board: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(search.join("leaderboard.json")).unwrap()).unwrap();
    let losses: Vec<f64> = board.as_array().unwrap().iter().map(|t| t["mean_valid_loss"].as_f64().unwrap()).collect();
    assert_eq!(losses.len(), 2);
    assert!(losses[0] <= losses[1], "{losses:?}");

    // A corrupted artifact is refused with the reason.
    let mut bytes = std::fs::read(out.join("model.mtf")).unwrap();
    let n = bytes.len();
    bytes[n - 5] ^= 1;
    let bad = work.join("bad.mtf");
    std::fs::write(&bad, bytes).unwrap();
    let o2 = mtf(&["predict", "--model", bad.to_str().unwrap(), "--input", minutes.to_str().unwrap(), "--at", at]);
    assert_eq!(o2.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o2.stderr).contains("sha256"), "{}", String::from_utf8_lossy(&o2.stderr));
}

/// A store of two symbols' 15-minute and daily bars (the eqker panel), and its snapshot id.
fn panel_store(dir: &std::path::Path, work: &std::path::Path) -> (std::path::PathBuf, String) {
    let input = work.join("panel");
    std::fs::create_dir_all(&input).unwrap();
    for f in [
        "spy_15min_2019-01-04_2019-02-15.csv",
        "qqq_15min_2019-01-04_2019-02-15.csv",
        "spy_1d_2018-01-02_2019-02-15.csv",
        "qqq_1d_2018-01-02_2019-02-15.csv",
    ] {
        std::fs::copy(dir.join("eqker").join(f), input.join(f)).unwrap();
    }
    let store = work.join("store");
    ok(&mtf(&["import", "--input", input.to_str().unwrap(), "--store", store.to_str().unwrap()]));
    let ls: serde_json::Value =
        serde_json::from_str(&ok(&mtf(&["store", "ls", "--store", store.to_str().unwrap(), "--json"]))).unwrap();
    (store, ls["snapshot"].as_str().unwrap().to_string())
}

#[test]
fn training_over_a_store_snapshot_pools_symbols_from_15_minute_bars_and_records_the_snapshot() {
    let Some(dir) = data_dir() else { return };
    let work = std::env::temp_dir().join(format!("mtf-model-cli-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let (store, snapshot) = panel_store(&dir, &work);
    // 15-minute base, no 1-minute bars anywhere: 1h is resampled from 15m, 1d read as stored.
    let config_for = |snap: &str| {
        CONFIG
            .replace(
                "minutes = \"spy_1min_2011-01.csv\"\ndaily = \"spy_1d_2007-12-31_2017-12-29.csv\"\nrepair = true",
                &format!(
                    "store = {:?}\nsnapshot = \"{snap}\"\nsymbols = [\"SPY\", \"qqq\"]\nstart = \"2018-06-01\"",
                    store.to_str().unwrap()
                ),
            )
            .replace("timeframes = [\"1m\", \"15m\", \"1d\"]", "timeframes = [\"15m\", \"1h\", \"1d\"]")
            .replace("valid_len = 40", "valid_len = 80")
    };
    let config = work.join("pooled.toml");
    std::fs::write(&config, config_for(&snapshot)).unwrap();
    let out = work.join("pooled");
    let o = mtf(&["train", "--config", config.to_str().unwrap(), "--output", out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("pooled over SPY,QQQ (2 symbols)"), "{stderr}");
    let bytes = std::fs::read(out.join("model.mtf")).unwrap();
    let (header, _) = mtf_model::artifact::parse(&bytes).unwrap();
    let td = header.training_data.expect("the artifact records its training data");
    assert_eq!((td.snapshot.as_str(), td.symbols), (snapshot.as_str(), vec!["SPY".to_string(), "QQQ".to_string()]));
    assert_eq!(header.data.base, mtf_market::Timeframe::M15);
    let card = std::fs::read_to_string(out.join("MODEL_CARD.md")).unwrap();
    assert!(
        card.contains(&format!("snapshot `{snapshot}` (verified before training), symbols SPY, QQQ pooled")),
        "{card}"
    );
    // Samples of both symbols: more than one symbol's 15-minute bars alone could give.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert!(report["samples_total"].as_u64().unwrap() > 1_000, "{}", report["samples_total"]);

    // It predicts and evaluates from 15-minute bars (the bar size from the file name; no minutes anywhere).
    let e = dir.join("eqker");
    let (m15, d1) = (e.join("spy_15min_2019-01-04_2019-02-15.csv"), e.join("spy_1d_2018-01-02_2019-02-15.csv"));
    let (m15, d1, o) = (m15.to_str().unwrap(), d1.to_str().unwrap(), out.to_str().unwrap());
    let p: serde_json::Value = serde_json::from_str(&ok(&mtf(&[
        "predict",
        "--model",
        o,
        "--input",
        m15,
        "--daily",
        d1,
        "--at",
        "2019-02-14T21:00:00Z",
    ])))
    .unwrap();
    assert_eq!(
        (p["horizon"]["timeframe"].as_str(), p["lastBarStart"].as_str()),
        (Some("15m"), Some("2019-02-14T20:45:00Z")),
        "{p}"
    );
    let r = work.join("eval15.json");
    ok(&mtf(&[
        "evaluate",
        "--model",
        o,
        "--input",
        m15,
        "--daily",
        d1,
        "--output",
        r.to_str().unwrap(),
        "--block",
        "40",
        "--min-train",
        "100",
    ]));
    // A daily file given as 15-minute bars is refused, naming the layout and the bar size.
    let wrong = mtf(&["predict", "--model", o, "--input", d1, "--timeframe", "15Min", "--at", "2019-02-14T21:00:00Z"]);
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("has the daily layout but --timeframe/the name says 15Min")
    );

    // QQQ held out: trained on SPY alone, QQQ scored in the same blocks.
    std::fs::write(&config, config_for(&snapshot).replace("clip = 5.0", "clip = 5.0\nholdout_symbols = [\"qqq\"]"))
        .unwrap();
    let held = work.join("held");
    ok(&mtf(&["train", "--config", config.to_str().unwrap(), "--output", held.to_str().unwrap()]));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(held.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["holdout"]["symbols"], serde_json::json!(["QQQ"]));
    assert!(report["holdout"]["n_predictions"].as_u64().unwrap() > 50, "{}", report["holdout"]);
    assert!(report["holdout"]["baselines"]["persistence"].is_object());
    let (header, _) = mtf_model::artifact::parse(&std::fs::read(held.join("model.mtf")).unwrap()).unwrap();
    let td = header.training_data.unwrap();
    assert_eq!((td.symbols, td.holdout_symbols), (vec!["SPY".to_string()], vec!["QQQ".to_string()]));
    let card = std::fs::read_to_string(held.join("MODEL_CARD.md")).unwrap();
    assert!(card.contains("### Held-out symbols: QQQ") && card.contains("symbols SPY pooled (QQQ held out)"), "{card}");
    // `mtf evaluate` reads the held-out symbol from the same store snapshot.
    let r = work.join("eval-qqq.json");
    ok(&mtf(&[
        "evaluate",
        "--model",
        held.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--snapshot",
        &snapshot,
        "--symbols",
        "QQQ",
        "--output",
        r.to_str().unwrap(),
        "--block",
        "40",
        "--min-train",
        "100",
    ]));
    let er: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&r).unwrap()).unwrap();
    assert!(er["n_predictions"].as_u64().unwrap() > 0 && er["baselines"]["persistence"].is_object(), "{er}");

    // `bar_sizes` limits the stored sizes read (none of SPY's is 1-minute), `ranges` must name pooled symbols.
    let with = |extra: &str| {
        config_for(&snapshot).replace("start = \"2018-06-01\"", &format!("start = \"2018-06-01\"\n{extra}"))
    };
    std::fs::write(&config, with("bar_sizes = [\"1m\"]")).unwrap();
    let o = mtf(&["train", "--config", config.to_str().unwrap(), "--output", out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!o.status.success() && stderr.contains("holds no bars of SPY in bar sizes [1m]"), "{stderr}");
    std::fs::write(&config, with("ranges = { AAPL = { end = \"2019-01-01\" } }")).unwrap();
    let o = mtf(&["train", "--config", config.to_str().unwrap(), "--output", out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        !o.status.success() && stderr.contains("[inputs.ranges] names `AAPL`, which is not in `symbols`"),
        "{stderr}"
    );

    // A snapshot that is not in the store, and one whose objects no longer verify, are errors.
    std::fs::write(&config, config_for(&"0".repeat(64))).unwrap();
    let o = mtf(&["train", "--config", config.to_str().unwrap(), "--output", out.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is not in this store"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let objects = store.join("_mtf/objects");
    let victim = std::fs::read_dir(&objects).unwrap().next().unwrap().unwrap().path();
    std::fs::remove_file(&victim).unwrap();
    std::fs::write(&config, config_for(&snapshot)).unwrap();
    let o = mtf(&["train", "--config", config.to_str().unwrap(), "--output", out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!o.status.success());
    assert!(stderr.contains(&format!("snapshot {snapshot} does not verify")), "{stderr}");
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn predict_request_json_matches_the_committed_parity_fixture() {
    // The JSON request the npm package's `predict` takes (and the edge's `inputs` describe), read by the CLI:
    // the same prediction as the CSV path that produced the fixture.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let fixtures = root.join("crates/wasm/tests/fixtures");
    let out = ok(&mtf(&[
        "predict",
        "--model",
        root.join("models/spy-15m-h4").to_str().unwrap(),
        "--request",
        fixtures.join("parity_request.json").to_str().unwrap(),
    ]));
    let got: serde_json::Value = serde_json::from_str(&out).unwrap();
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("parity_expected.json")).unwrap()).unwrap();
    assert_eq!(got["predictionTime"], want["predictionTime"]);
    assert_eq!(got["signal"], want["signal"]);
    let (a, b) = (got["predictedPrice"].as_f64().unwrap(), want["predictedPrice"].as_f64().unwrap());
    assert!((a - b).abs() <= 1e-4 * b.abs(), "{a} vs {b}");
    // A request that is not one names the file.
    let bad = std::env::temp_dir().join(format!("mtf-bad-request-{}.json", std::process::id()));
    std::fs::write(&bad, r#"{"symbol":"SPY","bars":{"7m":[]}}"#).unwrap();
    let o = mtf(&[
        "predict",
        "--model",
        root.join("models/spy-15m-h4").to_str().unwrap(),
        "--request",
        bad.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("7m"), "{}", String::from_utf8_lossy(&o.stderr));
    let _ = std::fs::remove_file(bad);
}
