//! A Prometheus query result as a [`Table`]: the body of `/api/v1/query_range` (or
//! `/api/v1/query`) saved with `curl`, or the bare result array `promtool query range -o json`
//! prints.
//!
//! ```json
//! {"status":"success","data":{"resultType":"matrix","result":[
//!   {"metric":{"__name__":"process_resident_memory_bytes","job":"api"},
//!    "values":[[1764892800,"104857600"],[1764892815,"104898560"]]}]}}
//! ```
//!
//! Every result is one series, named `name{labels}` as Prometheus writes it (labels in name
//! order) with its unit from the metric's name; a result without a name (`sum(…)`) is
//! `result 1`, `result 2`… and judged by its values. Times are seconds since 1970; `NaN` (a
//! stale sample) is a missing one. The response types are written here by hand (STYLE.md):
//! only what the reader needs.

use serde::Deserialize;
use serde_json::Value;

use crate::table::{Table, TableError, TimeKind};
use crate::{Series, Unit};

/// `{"status": …, "data": …}` or, for `status: error`, `errorType` and `error`.
#[derive(Deserialize)]
struct Response {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default, rename = "errorType")]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Value,
}

/// One element of a matrix (`values`) or a vector (`value`).
#[derive(Deserialize)]
struct Sampled {
    #[serde(default)]
    metric: serde_json::Map<String, Value>,
    #[serde(default)]
    values: Vec<(f64, String)>,
    #[serde(default)]
    value: Option<(f64, String)>,
}

/// Parse a query result (a response object, or a bare array of results).
pub(crate) fn parse_query_result(bytes: &[u8]) -> Result<Table, TableError> {
    let json = |e: serde_json::Error| TableError::Json {
        line: e.line() as u64,
        message: e.to_string(),
    };
    let top: Value = serde_json::from_slice(bytes).map_err(json)?;
    let result = if top.is_array() {
        top
    } else {
        let r: Response = serde_json::from_value(top).map_err(json)?;
        if r.status != "success" {
            return Err(TableError::QueryFailed {
                message: format!(
                    "{}: {}",
                    r.error_type.as_deref().unwrap_or(&r.status),
                    r.error.as_deref().unwrap_or("no message")
                ),
            });
        }
        let data = r.data.ok_or_else(|| TableError::QueryFailed {
            message: "the response has no `data`".to_string(),
        })?;
        if data.result_type != "matrix" && data.result_type != "vector" {
            return Err(TableError::NotSeries {
                result_type: data.result_type,
            });
        }
        data.result
    };
    let results: Vec<Sampled> = serde_json::from_value(result).map_err(json)?;
    let mut series = Vec::with_capacity(results.len());
    let mut samples = 0usize;
    for (i, r) in results.into_iter().enumerate() {
        let (name, unit) = series_name(&r.metric, i + 1);
        let mut s = Series::new(name, unit);
        for (t, v) in r.values.into_iter().chain(r.value) {
            // Prometheus writes values as strings: "NaN" marks a stale sample.
            let x: f64 = match v.parse::<f64>() {
                Ok(x) if x.is_nan() => continue,
                Ok(x) if x.is_finite() => x,
                _ => {
                    return Err(TableError::BadSample {
                        series: s.name.clone(),
                        value: v,
                    });
                }
            };
            if let Some(&prev) = s.t.last()
                && t < prev
            {
                return Err(TableError::SeriesBackwards {
                    series: s.name.clone(),
                    t,
                    prev,
                });
            }
            s.push(t, x);
            samples += 1;
        }
        series.push(s);
    }
    if samples == 0 {
        return Err(TableError::NoRows);
    }
    series.retain(|s| !s.is_empty());
    Ok(Table {
        time_column: "timestamp".to_string(),
        time_kind: TimeKind::Seconds,
        series,
        sized_columns: Vec::new(),
        named_units: Vec::new(),
        rows: samples,
        clock: true,
    })
}

/// `name{a="x", b="y"}` from a result's labels, and the unit its name gives.
fn series_name(metric: &serde_json::Map<String, Value>, number: usize) -> (String, Unit) {
    let name = metric.get("__name__").and_then(Value::as_str).unwrap_or("");
    let labels: Vec<String> = metric
        .iter()
        .filter(|(k, _)| *k != "__name__")
        .map(|(k, v)| {
            // Escaped as Prometheus writes a label value.
            let v = v
                .as_str()
                .unwrap_or_default()
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    let unit = if name.is_empty() {
        Unit::Count
    } else {
        Unit::guess_from_name(name)
    };
    let full = match (name.is_empty(), labels.is_empty()) {
        (true, true) => format!("result {number}"),
        (_, true) => name.to_string(),
        _ => format!("{name}{{{}}}", labels.join(", ")),
    };
    (full, unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matrix_gives_one_series_per_result_in_seconds_since_1970() {
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"process_resident_memory_bytes","job":"api","instance":"mem-1:9100"},
             "values":[[1764892800,"104857600"],[1764892815.5,"NaN"],[1764892830,"104898560"]]},
            {"metric":{"job":"api","path":"/a\"b"},"values":[[1764892800,"3"]]},
            {"metric":{},"values":[[1764892800,"7"]]}]}}"#;
        let t = crate::parse_table(body.as_bytes()).unwrap();
        assert!(t.clock);
        assert_eq!(t.series.len(), 3);
        let m = &t.series[0];
        assert_eq!(
            m.name,
            "process_resident_memory_bytes{instance=\"mem-1:9100\", job=\"api\"}"
        );
        assert_eq!(m.unit, Unit::Bytes);
        assert_eq!(m.t, vec![1764892800.0, 1764892830.0]);
        assert_eq!(m.v, vec![104857600.0, 104898560.0]);
        assert_eq!(t.series[1].name, r#"{job="api", path="/a\"b"}"#);
        assert_eq!(t.series[1].unit, Unit::Count);
        assert_eq!(t.series[2].name, "result 3");
    }

    #[test]
    fn promtools_bare_array_and_an_instant_vector_are_read_too() {
        let t = crate::parse_table(
            br#"[{"metric":{"__name__":"go_goroutines"},"values":[[1,"10"],[2,"11"]]}]"#,
        )
        .unwrap();
        assert_eq!(t.series[0].unit, Unit::Threads);
        assert_eq!(t.series[0].v, vec![10.0, 11.0]);
        let t = crate::parse_table(
            br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"process_open_fds"},"value":[1764892800,"12"]}]}}"#,
        )
        .unwrap();
        assert_eq!(t.series[0].unit, Unit::Fds);
        assert_eq!(t.series[0].v, vec![12.0]);
    }

    #[test]
    fn errors_say_what_prometheus_said_or_what_is_wrong() {
        let e = |b: &str| crate::parse_table(b.as_bytes()).unwrap_err().to_string();
        assert_eq!(
            e(r#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#),
            "the query failed: bad_data: parse error at char 5"
        );
        assert_eq!(
            e(r#"{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}"#),
            "a `scalar` result holds no series (query a range vector: /api/v1/query_range)"
        );
        assert_eq!(
            e(r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#),
            "the file has a header but no samples"
        );
        assert!(e("{\"status\":").starts_with("line 1: not a Prometheus query result"));
        assert_eq!(
            e(r#"[{"metric":{"__name__":"x"},"values":[[1,"+Inf"]]}]"#),
            "series x: `+Inf` is not a number"
        );
    }
}
