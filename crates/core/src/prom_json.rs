//! A Prometheus query result as a [`Table`]: the body of `/api/v1/query_range` saved with
//! `curl`, or the bare result array `promtool query range -o json` prints (an instant query's
//! one sample per series is refused: no series over time).
//!
//! ```json
//! {"status":"success","data":{"resultType":"matrix","result":[
//!   {"metric":{"__name__":"process_resident_memory_bytes","job":"api"},
//!    "values":[[1764892800,"104857600"],[1764892815,"104898560"]]}]}}
//! ```
//!
//! Every result is one series, named `name{labels}` as Prometheus writes it (labels in name
//! order) with its unit from the metric's name; a result without a name (`sum(…)`) is
//! `result 1`, `result 2`… and judged by its values. Times are seconds since 1970 (milliseconds
//! when they are that large); `NaN` (a stale sample) and `±Inf` (a division by zero) are missing
//! samples; a value may be a string, as Prometheus writes it, or a number. The response types are written here by hand (STYLE.md):
//! only what the reader needs.

use serde::Deserialize;
use serde_json::Value;

use crate::table::{Table, TableError};
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

/// Parse a query result (a response object, or a bare array of results).
pub(crate) fn parse_query_result(bytes: &[u8]) -> Result<Table, TableError> {
    let top: Value = serde_json::from_slice(bytes).map_err(|e| TableError::Json {
        line: e.line() as u64,
        message: e.to_string(),
    })?;
    let shape = |message: String| TableError::JsonShape { message };
    let result = if top.is_array() {
        top
    } else {
        if !top.is_object() {
            return Err(shape(
                "expected an object like {\"status\": \"success\", \"data\": …} or an array of results"
                    .to_string(),
            ));
        }
        let r: Response = serde_json::from_value(top).map_err(|e| shape(e.to_string()))?;
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
    let Value::Array(results) = result else {
        return Err(shape("`result` is not an array of series".to_string()));
    };
    if results.is_empty() {
        return Err(TableError::NoSeries);
    }
    let mut series = Vec::with_capacity(results.len());
    let mut samples = 0usize;
    // Results with an instant query's single `value`.
    let mut instant = 0usize;
    for (i, r) in results.iter().enumerate() {
        let number = i + 1;
        let bad = |what: &str| shape(format!("result {number}: {what}"));
        let Value::Object(r) = r else {
            return Err(bad(
                "not an object like {\"metric\": {…}, \"values\": [[time, \"value\"], …]}",
            ));
        };
        let empty = serde_json::Map::new();
        let metric = match r.get("metric") {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(m)) => m,
            Some(_) => return Err(bad("`metric` is not an object of labels")),
        };
        let (name, unit) = series_name(metric, number);
        // A matrix's `values`, or a vector's single `value`.
        let pairs: Vec<&Value> = match (r.get("values"), r.get("value")) {
            (Some(Value::Array(vs)), _) => vs.iter().collect(),
            (None, Some(v)) => {
                instant += 1;
                vec![v]
            }
            (None, None) => Vec::new(),
            _ => return Err(bad("`values` is not an array of [time, \"value\"] pairs")),
        };
        let mut s = Series::new(name, unit);
        for pair in pairs {
            let (t, v) = sample(pair).ok_or_else(|| {
                bad(&format!(
                    "`{pair}` is not a [time, \"value\"] pair (time in seconds since 1970)"
                ))
            })?;
            // Prometheus writes values as strings: "NaN" marks a stale sample, ±Inf comes from
            // a division by zero in the query; neither is a measurement.
            let x = match v {
                Num::Text(text) => match text.parse::<f64>() {
                    Ok(x) if !x.is_finite() => continue,
                    Ok(x) => x,
                    Err(_) => {
                        return Err(TableError::BadSample {
                            series: s.name.clone(),
                            value: text.to_string(),
                        });
                    }
                },
                Num::Number(x) => x,
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
            // As in a CSV file: memory or a count read from the metric's name is never
            // negative (a `delta(…)` or `deriv(…)` query gives changes, not levels).
            if x < 0.0 && s.unit != Unit::Count {
                return Err(TableError::NegativeSample {
                    series: s.name.clone(),
                    value: x,
                    what: if s.unit == Unit::Bytes {
                        "memory"
                    } else {
                        "a count"
                    },
                });
            }
            s.push(t, x);
            samples += 1;
        }
        series.push(s);
    }
    if instant == series.len() {
        return Err(TableError::InstantVector);
    }
    if samples == 0 {
        return Err(TableError::NoFiniteSamples {
            series: series.len(),
        });
    }
    series.retain(|s| !s.is_empty());
    // Prometheus answers in seconds since 1970; times a thousand times that (year 5138 on) are
    // milliseconds, as a hand-made export may hold: the first time decides, as in a CSV file.
    let first = series
        .iter()
        .filter_map(|s| s.t.first())
        .fold(f64::INFINITY, |a, &b| a.min(b));
    let time_kind = crate::table::time_kind_of_number(first);
    let per_second = time_kind.per_second();
    if per_second != 1.0 {
        for s in &mut series {
            for t in &mut s.t {
                *t /= per_second;
            }
        }
    }
    crate::table::check_times(&series)?;
    Ok(Table {
        time_column: "timestamp".to_string(),
        time_kind,
        series,
        sized_columns: Vec::new(),
        named_units: Vec::new(),
        rows: samples,
        clock: true,
    })
}

/// A sample's value as written: Prometheus's string, or a plain number in a hand-made file.
enum Num<'a> {
    Text(&'a str),
    Number(f64),
}

/// One `[time, "value"]` pair (the time may be a string of digits too).
fn sample(pair: &Value) -> Option<(f64, Num<'_>)> {
    let Value::Array(p) = pair else { return None };
    let [t, v] = p.as_slice() else { return None };
    let t = match t {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.parse::<f64>().ok()?,
        _ => return None,
    };
    if !t.is_finite() {
        return None;
    }
    let v = match v {
        Value::String(s) => Num::Text(s),
        Value::Number(n) => Num::Number(n.as_f64()?),
        _ => return None,
    };
    Some((t, v))
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
    use crate::table::TimeKind;

    #[test]
    fn a_negative_sample_of_memory_is_refused_as_in_a_csv_file() {
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"process_resident_memory_bytes"},
             "values":[[1764892800,"104857600"],[1764892815,"-5"]]}]}}"#;
        let e = crate::parse_table(body.as_bytes()).unwrap_err().to_string();
        assert!(
            e.contains("a sample of -5 is negative, and memory cannot be"),
            "{e}"
        );
        // A series with no unit in its name (`deriv(…)`, a temperature) may go negative.
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{},"values":[[1764892800,"1"],[1764892815,"-5"]]}]}}"#;
        assert!(crate::parse_table(body.as_bytes()).is_ok());
    }

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
    fn promtools_bare_array_is_read_and_an_instant_vector_is_refused() {
        let t = crate::parse_table(
            br#"[{"metric":{"__name__":"go_goroutines"},"values":[[1,"10"],[2,"11"]]}]"#,
        )
        .unwrap();
        assert_eq!(t.series[0].unit, Unit::Threads);
        assert_eq!(t.series[0].v, vec![10.0, 11.0]);
        // An instant query's one sample per series is no series over time.
        let e = crate::parse_table(
            br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"process_open_fds"},"value":[1764892800,"12"]}]}}"#,
        )
        .unwrap_err();
        assert_eq!(e, TableError::InstantVector);
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
            "the query result holds no series (the query matched nothing in its time range)"
        );
        assert!(e("{\"status\":").starts_with("line 1: not a Prometheus query result"));
        assert_eq!(
            e(r#"[{"metric":{"__name__":"x"},"values":[[1,"+Inf"],[2,"NaN"]]}]"#),
            "every sample of the 1 series in the query result is NaN or ±Inf (stale or a division by zero)"
        );
        assert_eq!(
            e(r#"[{"metric":{"__name__":"x"},"values":[[1,"12 MiB"]]}]"#),
            "series x: `12 MiB` is not a number"
        );
        // Other JSON: what is wrong, without the reader's own type names or a line 0.
        assert_eq!(
            e("[1,2,3]"),
            "not a Prometheus query result: result 1: not an object like {\"metric\": {…}, \"values\": [[time, \"value\"], …]}"
        );
        assert_eq!(
            e(r#"{"a":1}"#),
            "not a Prometheus query result: missing field `status`"
        );
        assert_eq!(
            e(r#"[{"metric":{},"values":[[1,"2",3]]}]"#),
            "not a Prometheus query result: result 1: `[1,\"2\",3]` is not a [time, \"value\"] pair (time in seconds since 1970)"
        );
    }

    #[test]
    fn infinities_are_missing_values_may_be_numbers_and_times_may_be_milliseconds() {
        let t = crate::parse_table(
            br#"[{"metric":{"__name__":"process_resident_memory_bytes"},
                 "values":[[1764892800000,"100"],[1764892815000,"+Inf"],[1764892830000,101.5]]}]"#,
        )
        .unwrap();
        assert_eq!(t.time_kind, TimeKind::Millis);
        assert_eq!(t.series[0].t, vec![1764892800.0, 1764892830.0]);
        assert_eq!(t.series[0].v, vec![100.0, 101.5]);
        assert_eq!(
            t.time_read_as().as_deref(),
            Some("milliseconds since 1970-01-01 UTC")
        );
    }
}
