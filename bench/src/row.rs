//! The result row every benchmark writes: schema, summary of trials, comparison, JSON, table.

use crate::BenchError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// The unit of times: nanoseconds per operation.
pub const UNIT_NANOSECONDS: &str = "ns";

/// The unit of bandwidths: 10^9 payload bytes per second.
pub const UNIT_GIGABYTES_PER_SECOND: &str = "GB/s";

/// The unit of a speedup: times the figure of a reference configuration.
pub const UNIT_TIMES: &str = "x";

/// One measured figure: the summary of `samples` trials of one benchmark configuration.
///
/// Each trial is the mean over many back-to-back iterations; `min` and `median` are taken
/// over the trials' means. For a bandwidth (`GB/s`) the minimum is the slowest trial.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    /// What was measured, e.g. `baseline.futex_round_trip`.
    pub name: String,
    /// The configuration, e.g. `{"pinned": "true", "bytes": "4096"}`.
    pub parameters: BTreeMap<String, String>,
    /// [`UNIT_NANOSECONDS`] for times, [`UNIT_GIGABYTES_PER_SECOND`] for bandwidths.
    pub unit: String,
    /// How many trials were summarized.
    pub samples: usize,
    /// The smallest trial mean.
    pub min: f64,
    /// The median trial mean (the mean of the two middle ones for an even count).
    pub median: f64,
    /// The name of the baseline row this row is compared with; `None` for baselines.
    pub baseline: Option<String>,
    /// `median / baseline median`, always in that direction: for times a ratio above 1
    /// means slower than the baseline, for bandwidths a ratio below 1 means slower.
    pub ratio: Option<f64>,
}

/// Summarizes `trials` (one mean per trial) into a row without a baseline.
///
/// Fails on an empty slice and on a NaN or infinite trial.
pub fn summarize(
    name: &str,
    parameters: BTreeMap<String, String>,
    unit: &str,
    trials: &[f64],
) -> Result<Row, BenchError> {
    if let Some(value) = trials.iter().find(|value| !value.is_finite()) {
        return Err(BenchError::NonFiniteTrial {
            name: name.to_string(),
            value: *value,
        });
    }
    let mut sorted = trials.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    let (Some(min), Some(upper)) = (sorted.first(), sorted.get(middle)) else {
        return Err(BenchError::NoTrials {
            name: name.to_string(),
        });
    };
    let median = match middle.checked_sub(1).and_then(|lower| sorted.get(lower)) {
        Some(lower) if sorted.len().is_multiple_of(2) => (lower + upper) / 2.0,
        _ => *upper,
    };
    Ok(Row {
        name: name.to_string(),
        parameters,
        unit: unit.to_string(),
        samples: sorted.len(),
        min: *min,
        median,
        baseline: None,
        ratio: None,
    })
}

/// Compares `row` with `baseline`: sets `row.baseline` to the baseline's name and
/// `row.ratio` to `row.median / baseline.median`.
///
/// Fails, leaving `row` untouched, when the units differ or the baseline's median is zero
/// or not finite.
pub fn compare(row: &mut Row, baseline: &Row) -> Result<(), BenchError> {
    if row.unit != baseline.unit {
        return Err(BenchError::UnitMismatch {
            row: row.name.clone(),
            unit: row.unit.clone(),
            baseline: baseline.name.clone(),
            baseline_unit: baseline.unit.clone(),
        });
    }
    if baseline.median == 0.0 || !baseline.median.is_finite() {
        return Err(BenchError::UnusableBaseline {
            baseline: baseline.name.clone(),
            median: baseline.median,
        });
    }
    row.baseline = Some(baseline.name.clone());
    row.ratio = Some(row.median / baseline.median);
    Ok(())
}

/// Writes `rows` to `path` as a pretty JSON array, creating the parent directories.
pub fn write_rows(path: &Path, rows: &[Row]) -> io::Result<()> {
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)?;
    }
    let mut text = serde_json::to_string_pretty(rows).map_err(io::Error::other)?;
    text.push('\n');
    std::fs::write(path, text)
}

/// Reads rows written by [`write_rows`]; a malformed file is an `InvalidData` error.
pub fn read_rows(path: &Path) -> io::Result<Vec<Row>> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text).map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))
}

/// A short human table of `rows`: name, parameters, unit, samples, min, median, baseline,
/// ratio; numbers to about three significant digits, `-` where there is nothing.
pub fn table(rows: &[Row]) -> String {
    const HEADERS: [&str; 8] = [
        "name",
        "parameters",
        "unit",
        "samples",
        "min",
        "median",
        "baseline",
        "ratio",
    ];
    // Columns holding numbers are right-aligned, the others left-aligned.
    const RIGHT_ALIGNED: [bool; 8] = [false, false, false, true, true, true, false, true];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|row| {
            [
                row.name.clone(),
                format_parameters(&row.parameters),
                row.unit.clone(),
                row.samples.to_string(),
                format_significant(row.min),
                format_significant(row.median),
                row.baseline.clone().unwrap_or_else(|| "-".to_string()),
                row.ratio
                    .map_or_else(|| "-".to_string(), format_significant),
            ]
        })
        .collect();
    let mut widths = HEADERS.map(str::len);
    for line in &cells {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let headers = HEADERS.map(str::to_string);
    let mut text = String::new();
    for line in std::iter::once(&headers).chain(&cells) {
        let mut formatted = String::new();
        for (column, ((cell, width), right_aligned)) in
            line.iter().zip(widths).zip(RIGHT_ALIGNED).enumerate()
        {
            if column > 0 {
                formatted.push_str("  ");
            }
            if right_aligned {
                formatted.push_str(&format!("{cell:>width$}"));
            } else {
                formatted.push_str(&format!("{cell:<width$}"));
            }
        }
        text.push_str(formatted.trim_end());
        text.push('\n');
    }
    text
}

/// `k=v` pairs joined by `,`, or `-` when there are none.
fn format_parameters(parameters: &BTreeMap<String, String>) -> String {
    if parameters.is_empty() {
        return "-".to_string();
    }
    parameters
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `value` with about three significant digits: `0.0123`, `1.23`, `12.3`, `123`, `12345`.
fn format_significant(value: f64) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    if value == 0.0 {
        return "0".to_string();
    }
    let magnitude = value.abs().log10().floor();
    let decimals = (2.0 - magnitude).clamp(0.0, 9.0) as usize;
    format!("{value:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameters(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    fn sample_row() -> Row {
        Row {
            name: "baseline.futex_round_trip".to_string(),
            parameters: parameters(&[("pinned", "true"), ("bytes", "4096")]),
            unit: UNIT_NANOSECONDS.to_string(),
            samples: 5,
            min: 1.5,
            median: 2.25,
            baseline: Some("baseline.spin_round_trip_threads".to_string()),
            ratio: Some(0.5),
        }
    }

    #[test]
    fn rows_round_trip_through_json() {
        let rows = vec![sample_row(), {
            let mut row = sample_row();
            row.baseline = None;
            row.ratio = None;
            row
        }];
        let text = serde_json::to_string(&rows).expect("serializes");
        let back: Vec<Row> = serde_json::from_str(&text).expect("deserializes");
        assert_eq!(back, rows);
    }

    #[test]
    fn rows_round_trip_through_a_file() {
        let directory = std::env::temp_dir().join(format!(
            "nanvix-bench-rows-test-{}/nested",
            std::process::id()
        ));
        let path = directory.join("rows.json");
        let rows = vec![sample_row()];
        write_rows(&path, &rows).expect("writes");
        let back = read_rows(&path).expect("reads");
        let _ = std::fs::remove_dir_all(directory.parent().unwrap_or(&directory));
        assert_eq!(back, rows);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let mut value = serde_json::to_value(sample_row()).expect("serializes");
        if let serde_json::Value::Object(map) = &mut value {
            map.insert("extra".to_string(), serde_json::Value::Bool(true));
        }
        let result: Result<Row, _> = serde_json::from_value(value);
        let error = result.expect_err("an extra field must be rejected");
        assert!(error.to_string().contains("extra"), "{error}");
    }

    #[test]
    fn malformed_files_are_invalid_data() {
        let path =
            std::env::temp_dir().join(format!("nanvix-bench-bad-rows-{}.json", std::process::id()));
        std::fs::write(&path, "[{\"name\": 1}]").expect("writes");
        let error = read_rows(&path).expect_err("malformed");
        let _ = std::fs::remove_file(&path);
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn summarize_an_odd_count() {
        let row = summarize("odd", BTreeMap::new(), UNIT_NANOSECONDS, &[5.0, 1.0, 3.0])
            .expect("summarizes");
        assert_eq!(row.samples, 3);
        assert_eq!(row.min, 1.0);
        assert_eq!(row.median, 3.0);
        assert_eq!(row.baseline, None);
        assert_eq!(row.ratio, None);
    }

    #[test]
    fn summarize_an_even_count() {
        let row = summarize(
            "even",
            parameters(&[("pinned", "false")]),
            UNIT_GIGABYTES_PER_SECOND,
            &[4.0, 1.0, 3.0, 10.0],
        )
        .expect("summarizes");
        assert_eq!(row.samples, 4);
        assert_eq!(row.min, 1.0);
        assert_eq!(row.median, 3.5);
        assert_eq!(row.unit, UNIT_GIGABYTES_PER_SECOND);
        assert_eq!(row.parameters, parameters(&[("pinned", "false")]));
    }

    #[test]
    fn summarize_one_trial() {
        let row = summarize("one", BTreeMap::new(), UNIT_NANOSECONDS, &[7.0]).expect("summarizes");
        assert_eq!((row.min, row.median, row.samples), (7.0, 7.0, 1));
    }

    #[test]
    fn summarize_refuses_no_trials() {
        let error = summarize("empty", BTreeMap::new(), UNIT_NANOSECONDS, &[]).expect_err("empty");
        assert_eq!(
            error,
            BenchError::NoTrials {
                name: "empty".to_string()
            }
        );
    }

    #[test]
    fn summarize_refuses_non_finite_trials() {
        let result = summarize("nan", BTreeMap::new(), UNIT_NANOSECONDS, &[1.0, f64::NAN]);
        assert!(matches!(result, Err(BenchError::NonFiniteTrial { .. })));
    }

    #[test]
    fn compare_sets_the_ratio() {
        let baseline = summarize("base", BTreeMap::new(), UNIT_NANOSECONDS, &[2.0]).expect("ok");
        let mut row = summarize("os", BTreeMap::new(), UNIT_NANOSECONDS, &[5.0]).expect("ok");
        compare(&mut row, &baseline).expect("compares");
        assert_eq!(row.baseline.as_deref(), Some("base"));
        assert_eq!(row.ratio, Some(2.5));
    }

    #[test]
    fn compare_refuses_mismatched_units() {
        let baseline = summarize("base", BTreeMap::new(), UNIT_GIGABYTES_PER_SECOND, &[2.0])
            .expect("summarizes");
        let mut row = summarize("os", BTreeMap::new(), UNIT_NANOSECONDS, &[5.0]).expect("ok");
        let error = compare(&mut row, &baseline).expect_err("units differ");
        assert!(matches!(error, BenchError::UnitMismatch { .. }));
        assert_eq!(row.baseline, None);
        assert_eq!(row.ratio, None);
    }

    #[test]
    fn compare_refuses_a_zero_baseline() {
        let baseline = summarize("base", BTreeMap::new(), UNIT_NANOSECONDS, &[0.0]).expect("ok");
        let mut row = summarize("os", BTreeMap::new(), UNIT_NANOSECONDS, &[5.0]).expect("ok");
        let error = compare(&mut row, &baseline).expect_err("zero median");
        assert!(matches!(error, BenchError::UnusableBaseline { .. }));
    }

    #[test]
    fn significant_digits() {
        assert_eq!(format_significant(0.0), "0");
        assert_eq!(format_significant(0.012345), "0.0123");
        assert_eq!(format_significant(1.2345), "1.23");
        assert_eq!(format_significant(12.345), "12.3");
        assert_eq!(format_significant(123.45), "123");
        assert_eq!(format_significant(12345.6), "12346");
        assert_eq!(format_significant(-1.2345), "-1.23");
    }

    #[test]
    fn table_has_every_column() {
        let mut bare = sample_row();
        bare.parameters.clear();
        bare.baseline = None;
        bare.ratio = None;
        let text = table(&[sample_row(), bare]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        for header in [
            "name",
            "parameters",
            "unit",
            "samples",
            "min",
            "median",
            "baseline",
            "ratio",
        ] {
            assert!(lines[0].contains(header), "{text}");
        }
        assert!(lines[1].contains("bytes=4096,pinned=true"), "{text}");
        assert!(lines[1].contains("2.25"), "{text}");
        assert!(lines[1].contains("0.500"), "{text}");
        assert!(lines[2].contains(" - "), "{text}");
        assert!(lines[2].trim_end().ends_with('-'), "{text}");
    }
}
