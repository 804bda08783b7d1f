//! Parquet encoding of bars and atomic file writes.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use mtf_market::Bar;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::StoreError;
use crate::store::StoredBar;

/// The Arrow schema of a bar file.
pub(crate) fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("t", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        Field::new("o", DataType::Float64, false),
        Field::new("h", DataType::Float64, false),
        Field::new("l", DataType::Float64, false),
        Field::new("c", DataType::Float64, false),
        Field::new("v", DataType::Float64, false),
        Field::new("n", DataType::Int64, true),
        Field::new("vw", DataType::Float64, true),
        Field::new("source", DataType::Utf8, false),
    ]))
}

/// Parquet bytes of bars (sorted by start). Deterministic: the same bars give the same bytes.
pub(crate) fn encode(bars: &[StoredBar]) -> Result<Vec<u8>, String> {
    let col = |f: fn(&Bar) -> f64| Arc::new(Float64Array::from(bars.iter().map(|b| f(&b.bar)).collect::<Vec<_>>()));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            TimestampMicrosecondArray::from(bars.iter().map(|b| b.bar.start_ms() * 1000).collect::<Vec<_>>())
                .with_timezone("UTC"),
        ),
        col(Bar::open),
        col(Bar::high),
        col(Bar::low),
        col(Bar::close),
        col(Bar::volume),
        Arc::new(Int64Array::from(bars.iter().map(|b| b.bar.trade_count().map(|n| n as i64)).collect::<Vec<_>>())),
        Arc::new(Float64Array::from(bars.iter().map(|b| b.bar.vwap()).collect::<Vec<_>>())),
        Arc::new(StringArray::from(bars.iter().map(|b| &*b.source).collect::<Vec<_>>())),
    ];
    let batch = RecordBatch::try_new(schema(), columns).map_err(|e| e.to_string())?;
    let props =
        WriterProperties::builder().set_compression(Compression::SNAPPY).set_created_by("mtf-store".into()).build();
    let mut out = Vec::new();
    let mut w = ArrowWriter::try_new(&mut out, schema(), Some(props)).map_err(|e| e.to_string())?;
    w.write(&batch).map_err(|e| e.to_string())?;
    w.close().map_err(|e| e.to_string())?;
    Ok(out)
}

/// Bars of a Parquet file's bytes; `path` names the file in errors.
pub(crate) fn decode(bytes: Vec<u8>, path: &Path) -> Result<Vec<StoredBar>, StoreError> {
    let mut out = Vec::new();
    decode_into(bytes, path, &mut out)?;
    Ok(out)
}

/// [`decode`], appending to `out` (one allocation for several partitions); on error `out` may hold some rows.
pub(crate) fn decode_into(bytes: Vec<u8>, path: &Path, out: &mut Vec<StoredBar>) -> Result<(), StoreError> {
    let mut last: Option<Arc<str>> = None;
    for_each_row(bytes, path, true, |bar, source| {
        let source = source.unwrap_or_default();
        let src = match &last {
            Some(a) if &**a == source => a.clone(),
            _ => {
                let a: Arc<str> = source.into();
                last = Some(a.clone());
                a
            }
        };
        out.push(StoredBar { bar, source: src });
    })
}

/// The bars alone, appended to `out`: the `source` column is not even decoded (a projection).
pub(crate) fn decode_bars_into(bytes: Vec<u8>, path: &Path, out: &mut Vec<Bar>) -> Result<(), StoreError> {
    for_each_row(bytes, path, false, |bar, _| out.push(bar))
}

/// Calls `f` with each row's validated bar (and its source when `with_source`), in file order.
fn for_each_row(
    bytes: Vec<u8>,
    path: &Path,
    with_source: bool,
    mut f: impl FnMut(Bar, Option<&str>),
) -> Result<(), StoreError> {
    let err = |m: String| StoreError::Parquet { path: path.display().to_string(), message: m };
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).map_err(|e| err(e.to_string()))?;
    let builder = if with_source {
        builder
    } else {
        let names = ["t", "o", "h", "l", "c", "v", "n", "vw"];
        let mask = parquet::arrow::ProjectionMask::columns(builder.parquet_schema(), names);
        builder.with_projection(mask)
    };
    let reader = builder.build().map_err(|e| err(e.to_string()))?;
    for batch in reader {
        let batch = batch.map_err(|e| err(e.to_string()))?;
        let get = |name: &str| batch.column_by_name(name).ok_or_else(|| err(format!("no column `{name}`")));
        let f64s = |name: &str| -> Result<Float64Array, StoreError> {
            get(name)?
                .as_any()
                .downcast_ref::<Float64Array>()
                .cloned()
                .ok_or_else(|| err(format!("column `{name}` is not float64")))
        };
        let t = get("t")?
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .cloned()
            .ok_or_else(|| err("column `t` is not a timestamp in microseconds".into()))?;
        let (o, h, l, c, v, vw) = (f64s("o")?, f64s("h")?, f64s("l")?, f64s("c")?, f64s("v")?, f64s("vw")?);
        let n = get("n")?
            .as_any()
            .downcast_ref::<Int64Array>()
            .cloned()
            .ok_or_else(|| err("column `n` is not int64".into()))?;
        let source = if with_source {
            Some(
                get("source")?
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .cloned()
                    .ok_or_else(|| err("column `source` is not utf8".into()))?,
            )
        } else {
            None
        };
        for i in 0..batch.num_rows() {
            // Microseconds to the bar's milliseconds without a calendar conversion (the store writes whole ms).
            let start_ms = t.value(i).div_euclid(1000);
            let bar = Bar::new_ms(start_ms, o.value(i), h.value(i), l.value(i), c.value(i), v.value(i))
                .and_then(|b| b.with_vwap(vw.is_valid(i).then(|| vw.value(i))))
                .map_err(|e| err(format!("row {i}: {e}")))?
                .with_trade_count(n.is_valid(i).then(|| n.value(i) as u64));
            f(bar, source.as_ref().map(|s| s.value(i)));
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, synced, then renamed.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    use std::io::Write;
    let dir = path.parent().ok_or_else(|| StoreError::io(path, "no parent directory"))?;
    std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(|e| StoreError::io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| StoreError::io(path, e))
}
