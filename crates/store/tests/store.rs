//! The store's guarantees: bit-identical round trip, idempotent writes, corrections that keep the old snapshot,
//! interrupted writes, corrupt files named, one writer, readers during writes, and last-write-wins merging
//! (property test).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use mtf_market::{Bar, Timeframe};
use mtf_store::{Series, Store, StoreError};
use proptest::prelude::*;

mod common;
use common::{TempDir, tempdir};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2011, 1, 31, 23, 50, 0).unwrap() // ten minutes before a month boundary (UTC)
}

fn bar(i: i64, c: f64) -> Bar {
    Bar::new(t0() + Duration::minutes(i), c, c + 0.25, c - 0.25, c, 100.0 + i as f64)
        .unwrap()
        .with_trade_count(Some(7 + i as u64))
        .with_vwap(Some(c))
        .unwrap()
}

fn series(bars: Vec<Bar>) -> Series {
    Series { symbol: "spy".into(), timeframe: Timeframe::M1, bars, source: "test".into() }
}

fn dir() -> TempDir {
    tempdir()
}

#[test]
fn round_trip_is_bit_identical_across_months_and_idempotent() {
    let d = dir();
    let store = Store::open(d.path());
    let bars: Vec<Bar> = (0..30).map(|i| bar(i, 100.0 + (i as f64) * 0.37)).collect();
    let first = store.write(&[series(bars.clone())]).unwrap();
    assert!(first.changed);
    assert_eq!((first.partitions_written, first.bars_added), (2, 30), "January and February");
    let back: Vec<Bar> =
        store.read("SPY", Timeframe::M1, None, None, None).unwrap().into_iter().map(|b| b.bar).collect();
    assert_eq!(back, bars);
    assert!(d.path().join("symbol=SPY/timeframe=1Min/month=2011-01/data.parquet").exists());
    assert!(d.path().join("symbol=SPY/timeframe=1Min/month=2011-02/data.parquet").exists());
    // The same bars again: nothing changes, no new snapshot.
    let again = store.write(&[series(bars.clone())]).unwrap();
    assert!(!again.changed);
    assert_eq!(again.snapshot, first.snapshot);
    assert_eq!(store.history().unwrap().len(), 1);
    // A range read.
    let part = store
        .read("SPY", Timeframe::M1, Some(t0() + Duration::minutes(5)), Some(t0() + Duration::minutes(12)), None)
        .unwrap();
    assert_eq!(part.len(), 7);
    // The bars-only read (no source column decoded) gives the same bars, whole and in a range.
    let m = store.manifest(None).unwrap();
    assert_eq!(store.read_bars_in(&m, "spy", Timeframe::M1, None, None).unwrap(), bars);
    let range = store.read_bars_in(
        &m,
        "SPY",
        Timeframe::M1,
        Some(t0() + Duration::minutes(5)),
        Some(t0() + Duration::minutes(12)),
    );
    assert_eq!(range.unwrap(), part.iter().map(|b| b.bar).collect::<Vec<_>>());
    assert!(store.verify(None).unwrap().ok());
}

#[test]
fn a_correction_replaces_by_timestamp_and_the_old_snapshot_keeps_the_old_value() {
    let d = dir();
    let store = Store::open(d.path());
    let old = store.write(&[series((0..5).map(|i| bar(i, 100.0)).collect())]).unwrap().snapshot;
    let fixed = Bar::new(t0() + Duration::minutes(2), 100.0, 101.0, 99.0, 100.5, 250.0).unwrap();
    let out = store.write(&[series(vec![fixed, bar(5, 100.0)])]).unwrap();
    assert_eq!((out.bars_added, out.bars_replaced), (1, 1));
    let now = store.read("SPY", Timeframe::M1, None, None, None).unwrap();
    assert_eq!(now.len(), 6);
    assert_eq!(now[2].bar, fixed);
    let then = store.read("SPY", Timeframe::M1, None, None, Some(&old)).unwrap();
    assert_eq!(then.len(), 5);
    assert_eq!(then[2].bar, bar(2, 100.0));
    let h = store.history().unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[1].parent.as_deref(), Some(old.as_str()));
}

#[test]
fn an_interrupted_write_leaves_the_last_snapshot_current_and_the_next_write_repairs_the_tree() {
    let d = dir();
    let store = Store::open(d.path());
    let first = store.write(&[series((0..5).map(|i| bar(i, 100.0)).collect())]).unwrap().snapshot;
    let head = d.path().join("_mtf/HEAD");
    let saved = std::fs::read(&head).unwrap();
    store.write(&[series(vec![bar(2, 105.0)])]).unwrap();
    // As if the process died before HEAD was replaced (objects, manifest and tree already written).
    std::fs::write(&head, &saved).unwrap();
    assert_eq!(store.head().unwrap().as_deref(), Some(first.as_str()));
    let read = store.read("SPY", Timeframe::M1, None, None, None).unwrap();
    assert_eq!(read[2].bar, bar(2, 100.0), "readers see the last complete snapshot, not a mix");
    let report = store.verify(None).unwrap();
    assert!(report.problems.iter().any(|p| p.contains("Hive tree differs")), "{report:?}");
    // Rewriting what the current snapshot holds repairs the tree.
    store.write(&[series(vec![bar(2, 100.0)])]).unwrap();
    assert!(store.verify(None).unwrap().ok());
}

#[test]
fn corrupt_or_truncated_files_and_a_held_lock_are_named() {
    let d = dir();
    let store = Store::open(d.path());
    let snap = store.write(&[series((0..5).map(|i| bar(i, 100.0)).collect())]).unwrap().snapshot;
    let m = store.manifest(None).unwrap();
    let object = d.path().join(format!("_mtf/objects/{}.parquet", m.partitions[0].object));
    let bytes = std::fs::read(&object).unwrap();
    // Truncated object: the read names the file; verify lists it.
    std::fs::remove_file(&object).unwrap(); // the tree holds a hard link: replace, do not modify in place
    std::fs::write(&object, &bytes[..bytes.len() / 2]).unwrap();
    let e = store.read("SPY", Timeframe::M1, None, None, None).unwrap_err();
    assert!(matches!(e, StoreError::Parquet { .. }), "{e}");
    assert!(e.to_string().contains(&m.partitions[0].object), "{e}");
    let report = store.verify(None).unwrap();
    assert!(report.problems.iter().any(|p| p.contains("does not hash")), "{report:?}");
    // A manifest edited by hand no longer matches its id.
    let mpath = d.path().join(format!("_mtf/snapshots/{snap}.json"));
    let text = std::fs::read_to_string(&mpath).unwrap().replace("\"rows\": 5", "\"rows\": 6");
    std::fs::write(&mpath, text).unwrap();
    assert!(matches!(store.manifest(None), Err(StoreError::Corrupt { .. })));
    assert!(matches!(store.manifest(Some(&"0".repeat(64))), Err(StoreError::UnknownSnapshot(_))));
    // Another writer holds the lock: refused, naming the file.
    let held = std::fs::File::options().write(true).open(d.path().join("_mtf/lock")).unwrap();
    held.lock().unwrap();
    let e = store.write(&[series(vec![bar(9, 1.0)])]).unwrap_err();
    assert!(matches!(e, StoreError::Locked { .. }) && e.to_string().contains("_mtf/lock"), "{e}");
    // A lock file left by a writer that died (the file exists, nobody holds it) does not block.
    drop(held);
    std::fs::write(d.path().join("_mtf/lock"), "").unwrap();
    assert!(
        matches!(store.write(&[series(vec![bar(9, 1.0)])]), Err(StoreError::Corrupt { .. })),
        "the manifest edited above"
    );
}

#[test]
fn a_reader_during_writes_sees_one_whole_snapshot_never_a_mix() {
    // Each write sets every bar (two months, so two partitions) to the same close k; a read must never mix two k.
    let d = dir();
    let store = Store::open(d.path());
    let all = |k: f64| series((0..40).map(|i| bar(i, k)).collect());
    store.write(&[all(1.0)]).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let (mut reads, mut seen) = (0, std::collections::BTreeSet::new());
            while !done.load(std::sync::atomic::Ordering::Relaxed) || reads < 20 {
                let rows = Store::open(d.path()).read("SPY", Timeframe::M1, None, None, None).unwrap();
                assert_eq!(rows.len(), 40);
                let closes: std::collections::BTreeSet<u64> = rows.iter().map(|r| r.bar.close().to_bits()).collect();
                assert_eq!(closes.len(), 1, "one read mixed snapshots: {closes:?}");
                seen.extend(closes);
                reads += 1;
            }
            (reads, seen.len())
        });
        for k in 2..=30 {
            store.write(&[all(f64::from(k))]).unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let (reads, distinct) = reader.join().unwrap();
        assert!(reads >= 20 && distinct >= 1, "{reads} reads");
    });
    assert_eq!(store.read("SPY", Timeframe::M1, None, None, None).unwrap()[0].bar.close(), 30.0);
}

#[test]
fn bad_input_is_refused_naming_the_series_and_nothing_changes() {
    let d = dir();
    let store = Store::open(d.path());
    let snap = store.write(&[series(vec![bar(0, 1.0)])]).unwrap().snapshot;
    let e = store.write(&[series(vec![bar(3, 1.0), bar(2, 1.0)])]).unwrap_err();
    assert!(e.to_string().starts_with("SPY/1Min: bars are not strictly increasing"), "{e}");
    let dots = Series { symbol: "..".into(), ..series(vec![bar(1, 1.0)]) };
    assert!(store.write(&[dots]).unwrap_err().to_string().contains("not a valid symbol"));
    assert_eq!(store.head().unwrap(), Some(snap));
    let lock = std::fs::File::options().write(true).open(d.path().join("_mtf/lock")).unwrap();
    assert!(lock.try_lock().is_ok(), "the lock is released after an error");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Any sequence of writes reads back as the union of the bars, the last write of a timestamp winning.
    #[test]
    fn writes_merge_last_write_wins(batches in proptest::collection::vec(proptest::collection::btree_map(0i64..60, 1.0f64..2.0, 0..20), 1..5)) {
        let d = dir();
        let store = Store::open(d.path());
        let mut want = std::collections::BTreeMap::new();
        for b in &batches {
            let bars: Vec<Bar> = b.iter().map(|(&i, &c)| bar(i, c)).collect();
            store.write(&[series(bars)]).unwrap();
            for (&i, &c) in b { want.insert(i, bar(i, c)); }
        }
        let got: Vec<Bar> = store.read("SPY", Timeframe::M1, None, None, None).unwrap().into_iter().map(|b| b.bar).collect();
        prop_assert_eq!(got, want.into_values().collect::<Vec<_>>());
        prop_assert!(store.verify(None).unwrap().ok());
    }
}
