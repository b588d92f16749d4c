//! Scenario files: TOML with weighted `[[request]]`s and `[[stage]]`s (see `docs/load.md`).
//!
//! Every value keeps its byte span while parsing, so an error names the line and the field
//! (`line 14, field stage.rate: must be a number > 0`). Not here: running the scenario.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::plan::{
    DEFAULT_MAX_IN_FLIGHT, DEFAULT_TIMEOUT, LoadError, LoadPlan, Model, Stage, check_max_rate,
};
use crate::schedule::Arrivals;
use crate::target::{RequestTemplate, Target};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    target: Option<Spanned<String>>,
    arrivals: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    max_in_flight: Option<Spanned<i64>>,
    concurrency: Option<Spanned<i64>>,
    duration: Option<Spanned<String>>,
    threads: Option<Spanned<i64>>,
    seed: Option<Spanned<i64>>,
    #[serde(default)]
    request: Vec<Spanned<RequestDoc>>,
    #[serde(default)]
    stage: Vec<Spanned<StageDoc>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestDoc {
    method: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    weight: Option<Spanned<i64>>,
    #[serde(default)]
    headers: BTreeMap<String, Spanned<String>>,
    body: Option<Spanned<String>>,
    body_file: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StageDoc {
    kind: Spanned<String>,
    rate: Option<Spanned<f64>>,
    duration: Option<Spanned<String>>,
    from: Option<Spanned<f64>>,
    to: Option<Spanned<f64>>,
    rates: Option<Spanned<Vec<f64>>>,
    every: Option<Spanned<String>>,
    load: Option<Spanned<String>>,
    idle: Option<Spanned<String>>,
    cycles: Option<Spanned<i64>>,
}

pub(crate) fn from_file(path: &Path) -> Result<LoadPlan, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|err| LoadError::ReadScenario {
        path: path.to_path_buf(),
        err,
    })?;
    from_str(&text, path, None)
}

/// Errors at a byte offset of the text.
struct Ctx<'a> {
    text: &'a str,
    path: &'a Path,
}

impl Ctx<'_> {
    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn err(&self, offset: usize, field: &str, reason: impl Into<String>) -> LoadError {
        LoadError::Scenario {
            path: self.path.to_path_buf(),
            line: self.line(offset),
            field: field.to_string(),
            reason: reason.into(),
        }
    }

    fn at<T>(&self, v: &Spanned<T>, field: &str, reason: impl Into<String>) -> LoadError {
        self.err(v.span().start, field, reason)
    }

    fn duration(&self, v: &Spanned<String>, field: &str) -> Result<Duration, LoadError> {
        parse_duration(v.get_ref()).ok_or_else(|| {
            self.at(
                v,
                field,
                format!(
                    "`{}` is not a duration (use e.g. 30s, 5m, 1h30m, 250ms)",
                    v.get_ref()
                ),
            )
        })
    }

    /// A rate > 0 and at most [`crate::MAX_RATE`].
    fn positive(&self, v: &Spanned<f64>, field: &str) -> Result<f64, LoadError> {
        let x = *v.get_ref();
        if x.is_finite() && x > 0.0 {
            check_max_rate(x).map_err(|r| self.at(v, field, r))?;
            Ok(x)
        } else {
            Err(self.at(v, field, format!("must be a number > 0 (got {x})")))
        }
    }

    /// A rate >= 0 and at most [`crate::MAX_RATE`].
    fn non_negative(&self, v: &Spanned<f64>, field: &str) -> Result<f64, LoadError> {
        let x = *v.get_ref();
        if x.is_finite() && x >= 0.0 {
            check_max_rate(x).map_err(|r| self.at(v, field, r))?;
            Ok(x)
        } else {
            Err(self.at(v, field, format!("must be a number >= 0 (got {x})")))
        }
    }

    fn count(&self, v: &Spanned<i64>, field: &str) -> Result<u64, LoadError> {
        u64::try_from(*v.get_ref())
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                self.at(
                    v,
                    field,
                    format!("must be at least 1 (got {})", v.get_ref()),
                )
            })
    }

    fn required<'v, T>(
        &self,
        v: &'v Option<Spanned<T>>,
        table_offset: usize,
        field: &str,
        kind: &str,
    ) -> Result<&'v Spanned<T>, LoadError> {
        v.as_ref().ok_or_else(|| {
            self.err(
                table_offset,
                field,
                format!("is required for a `{kind}` stage"),
            )
        })
    }
}

/// The fields each kind of stage takes (`None` for an unknown kind, refused below).
fn stage_fields(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "constant" => &["rate", "duration"],
        "ramp" => &["from", "to", "duration"],
        "steps" => &["rates", "every"],
        "cycles" => &["rate", "load", "idle", "cycles"],
        "idle" => &["duration"],
        _ => return None,
    })
}

pub(crate) fn from_str(
    text: &str,
    path: &Path,
    default_target: Option<&str>,
) -> Result<LoadPlan, LoadError> {
    let cx = Ctx { text, path };
    let doc: FileDoc = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let field = field_at(text, offset);
        cx.err(offset, &field, first_line(e.message()))
    })?;

    let (target, default_path) = match (&doc.target, default_target) {
        // The command line wins over the file, so one scenario serves several ports.
        (_, Some(url)) => Target::parse(url)?,
        (Some(t), None) => {
            Target::parse(t.get_ref()).map_err(|e| cx.at(t, "target", e.to_string()))?
        }
        (None, None) => {
            return Err(cx.err(
                0,
                "target",
                "no target URL: add `target = \"http://127.0.0.1:PORT/\"` or give the URL on the command line",
            ));
        }
    };

    let mut requests = Vec::new();
    for r in &doc.request {
        let at = r.span().start;
        let r = r.get_ref();
        let method = match &r.method {
            Some(m) => {
                let s = m.get_ref().to_ascii_uppercase();
                if s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphabetic()) {
                    return Err(cx.at(
                        m,
                        "request.method",
                        format!("`{}` is not an HTTP method", m.get_ref()),
                    ));
                }
                s
            }
            None => "GET".to_string(),
        };
        let req_path = match &r.path {
            Some(p) => {
                if !p.get_ref().starts_with('/') {
                    return Err(cx.at(
                        p,
                        "request.path",
                        format!("`{}` must start with /", p.get_ref()),
                    ));
                }
                p.get_ref().clone()
            }
            None => return Err(cx.err(at, "request.path", "is required")),
        };
        let weight = match &r.weight {
            Some(w) => u32::try_from(*w.get_ref()).map_err(|_| {
                cx.at(
                    w,
                    "request.weight",
                    format!("must be 0 or more (got {})", w.get_ref()),
                )
            })?,
            None => 1,
        };
        let mut t = RequestTemplate {
            method,
            path: req_path,
            headers: Vec::new(),
            body: None,
            weight,
        };
        for (k, v) in &r.headers {
            t.add_header(&format!("{k}: {}", v.get_ref()))
                .map_err(|e| cx.at(v, &format!("request.headers.{k}"), e.to_string()))?;
        }
        t.body = match (&r.body, &r.body_file) {
            (Some(b), None) => Some(b.get_ref().clone().into_bytes()),
            (None, Some(f)) => {
                let p = path.parent().unwrap_or(Path::new(".")).join(f.get_ref());
                Some(std::fs::read(&p).map_err(|e| {
                    cx.at(
                        f,
                        "request.body_file",
                        format!("failed to read {}: {e}", p.display()),
                    )
                })?)
            }
            (Some(_), Some(f)) => {
                return Err(cx.at(
                    f,
                    "request.body_file",
                    "give either body or body_file, not both",
                ));
            }
            (None, None) => None,
        };
        requests.push(t);
    }
    if requests.is_empty() {
        requests.push(RequestTemplate::get(&default_path));
    } else if requests.iter().all(|r| r.weight == 0) {
        return Err(cx.err(
            doc.request[0].span().start,
            "request.weight",
            "at least one request needs a weight > 0",
        ));
    }

    let arrivals = match &doc.arrivals {
        None => Arrivals::Constant,
        Some(a) => match a.get_ref().as_str() {
            "constant" => Arrivals::Constant,
            "poisson" => Arrivals::Poisson,
            other => {
                return Err(cx.at(
                    a,
                    "arrivals",
                    format!("`{other}` is not `constant` or `poisson`"),
                ));
            }
        },
    };

    let model = if let Some(c) = &doc.concurrency {
        if !doc.stage.is_empty() {
            return Err(cx.at(
                c,
                "concurrency",
                "a closed-model scenario (concurrency) has no stages; remove one of them",
            ));
        }
        let concurrency = cx.count(c, "concurrency")? as usize;
        let duration = match &doc.duration {
            Some(d) => cx.duration(d, "duration")?,
            None => return Err(cx.at(c, "duration", "is required with `concurrency`")),
        };
        Model::Closed {
            concurrency,
            duration,
        }
    } else {
        let mut stages = Vec::new();
        for s in &doc.stage {
            let at = s.span().start;
            let s = s.get_ref();
            let kind = s.kind.get_ref().as_str();
            // A field of another kind of stage would be ignored in silence (a `duration` on a
            // `steps` stage, whose length is `rates` × `every`).
            if let Some(takes) = stage_fields(kind) {
                let given = [
                    ("rate", s.rate.as_ref().map(|v| v.span().start)),
                    ("duration", s.duration.as_ref().map(|v| v.span().start)),
                    ("from", s.from.as_ref().map(|v| v.span().start)),
                    ("to", s.to.as_ref().map(|v| v.span().start)),
                    ("rates", s.rates.as_ref().map(|v| v.span().start)),
                    ("every", s.every.as_ref().map(|v| v.span().start)),
                    ("load", s.load.as_ref().map(|v| v.span().start)),
                    ("idle", s.idle.as_ref().map(|v| v.span().start)),
                    ("cycles", s.cycles.as_ref().map(|v| v.span().start)),
                ];
                if let Some((name, Some(offset))) = given
                    .iter()
                    .find(|(name, off)| off.is_some() && !takes.contains(name))
                {
                    return Err(cx.err(
                        *offset,
                        &format!("stage.{name}"),
                        format!(
                            "does not apply to a stage of kind `{kind}` (it takes {})",
                            takes.join(", ")
                        ),
                    ));
                }
            }
            let stage = match kind {
                "constant" => Stage::Constant {
                    rate: cx
                        .positive(cx.required(&s.rate, at, "stage.rate", kind)?, "stage.rate")?,
                    duration: cx.duration(
                        cx.required(&s.duration, at, "stage.duration", kind)?,
                        "stage.duration",
                    )?,
                },
                "ramp" => {
                    let from = cx.non_negative(
                        cx.required(&s.from, at, "stage.from", kind)?,
                        "stage.from",
                    )?;
                    let to_v = cx.required(&s.to, at, "stage.to", kind)?;
                    let to = cx.non_negative(to_v, "stage.to")?;
                    if from == 0.0 && to == 0.0 {
                        return Err(cx.at(to_v, "stage.to", "a ramp from 0 to 0 sends nothing"));
                    }
                    Stage::Ramp {
                        from,
                        to,
                        duration: cx.duration(
                            cx.required(&s.duration, at, "stage.duration", kind)?,
                            "stage.duration",
                        )?,
                    }
                }
                "steps" => {
                    let rv = cx.required(&s.rates, at, "stage.rates", kind)?;
                    if rv.get_ref().is_empty() {
                        return Err(cx.at(rv, "stage.rates", "needs at least one rate"));
                    }
                    if let Some(bad) = rv.get_ref().iter().find(|r| !(r.is_finite() && **r > 0.0)) {
                        return Err(cx.at(
                            rv,
                            "stage.rates",
                            format!("every rate must be > 0 (got {bad})"),
                        ));
                    }
                    for r in rv.get_ref() {
                        check_max_rate(*r).map_err(|reason| cx.at(rv, "stage.rates", reason))?;
                    }
                    Stage::Steps {
                        rates: rv.get_ref().clone(),
                        every: cx.duration(
                            cx.required(&s.every, at, "stage.every", kind)?,
                            "stage.every",
                        )?,
                    }
                }
                "cycles" => Stage::Cycles {
                    rate: cx
                        .positive(cx.required(&s.rate, at, "stage.rate", kind)?, "stage.rate")?,
                    load: cx
                        .duration(cx.required(&s.load, at, "stage.load", kind)?, "stage.load")?,
                    idle: match &s.idle {
                        Some(d) => parse_duration(d.get_ref()).ok_or_else(|| {
                            cx.at(
                                d,
                                "stage.idle",
                                format!("`{}` is not a duration (use e.g. 10s)", d.get_ref()),
                            )
                        })?,
                        None => {
                            return Err(cx.err(
                                at,
                                "stage.idle",
                                "is required for a `cycles` stage",
                            ));
                        }
                    },
                    cycles: u32::try_from(cx.count(
                        cx.required(&s.cycles, at, "stage.cycles", kind)?,
                        "stage.cycles",
                    )?)
                    .unwrap_or(u32::MAX),
                },
                "idle" => Stage::Idle {
                    duration: cx.duration(
                        cx.required(&s.duration, at, "stage.duration", kind)?,
                        "stage.duration",
                    )?,
                },
                other => {
                    return Err(cx.at(
                        &s.kind,
                        "stage.kind",
                        format!("`{other}` is not one of constant, ramp, steps, cycles, idle"),
                    ));
                }
            };
            stages.push(stage);
        }
        if stages.is_empty() {
            return Err(cx.err(
                text.len(),
                "stage",
                "no [[stage]] given (add one, e.g. kind = \"constant\", rate = 100, duration = \"60s\", or set `concurrency` and `duration` for a closed model)",
            ));
        }
        Model::Open { stages, arrivals }
    };

    let timeout = match &doc.timeout {
        Some(t) => {
            let d = cx.duration(t, "timeout")?;
            if d.is_zero() {
                return Err(cx.at(t, "timeout", "must be longer than 0 s"));
            }
            d
        }
        None => DEFAULT_TIMEOUT,
    };
    let max_in_flight = match &doc.max_in_flight {
        Some(m) => cx.count(m, "max_in_flight")? as usize,
        None => match &model {
            Model::Closed { concurrency, .. } => *concurrency,
            Model::Open { .. } => DEFAULT_MAX_IN_FLIGHT,
        },
    };
    let threads = match &doc.threads {
        Some(t) => cx.count(t, "threads")? as usize,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let seed = match &doc.seed {
        Some(s) => u64::try_from(*s.get_ref()).map_err(|_| cx.at(s, "seed", "must be >= 0"))?,
        None => 1,
    };
    let plan = LoadPlan {
        target,
        requests,
        model,
        max_in_flight,
        timeout,
        threads,
        seed,
    };
    plan.validate()
        .map_err(|e| cx.err(0, "plan", e.to_string()))?;
    Ok(plan)
}

/// The TOML key on the line containing `offset` (`rate` for `  rate = -1`), or the table name
/// of a `[[stage]]` header; `?` when the line has neither.
fn field_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let line = text[start..end].trim();
    if let Some((k, _)) = line.split_once('=') {
        return k.trim().trim_matches('"').to_string();
    }
    let name = line.trim_matches(|c| c == '[' || c == ']').trim();
    if name.is_empty() {
        "?".to_string()
    } else {
        name.to_string()
    }
}

/// The first line of the TOML reader's message, with Rust's type names in words a scenario's
/// author knows (`expected f64` → `expected a number`).
fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or(s).trim();
    [
        ("expected f64", "expected a number"),
        ("expected u64", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected usize", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected a string", "expected a string in quotes"),
        ("expected a boolean", "expected true or false"),
    ]
    .iter()
    .fold(line.to_string(), |m, (rust, words)| m.replace(rust, words))
}

/// `30s`, `5m`, `1h30m`, `250ms`, `1.5h` or a bare number of seconds.
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let secs = if let Ok(v) = t.parse::<f64>() {
        v
    } else {
        let mut total = 0.0;
        let mut rest = t;
        while !rest.is_empty() {
            let n = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            if n == 0 {
                return None;
            }
            let value: f64 = rest[..n].parse().ok()?;
            rest = rest[n..].trim_start();
            let u = rest
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            let factor = match &rest[..u] {
                "ms" => 0.001,
                "s" | "sec" | "secs" => 1.0,
                "m" | "min" | "mins" => 60.0,
                "h" | "hr" | "hour" | "hours" => 3600.0,
                _ => return None,
            };
            total += value * factor;
            rest = rest[u..].trim_start();
        }
        total
    };
    (0.0..1e9)
        .contains(&secs)
        .then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("2x"), None);
        assert_eq!(parse_duration("-1"), None);
    }

    #[test]
    fn a_stage_rate_above_the_ceiling_names_its_line() {
        let path = Path::new("s.toml");
        let cases = [
            "[[stage]]\nkind = \"constant\"\nrate = 1e9\nduration = \"1s\"\n",
            "[[stage]]\nkind = \"ramp\"\nfrom = 1\nto = 1e9\nduration = \"1s\"\n",
            "[[stage]]\nkind = \"steps\"\nrates = [1, 1e9]\nevery = \"1s\"\n",
            "[[stage]]\nkind = \"cycles\"\nrate = 1e9\nload = \"1s\"\nidle = \"1s\"\ncycles = 1\n",
        ];
        for text in cases {
            let e = from_str(text, path, Some("http://127.0.0.1:1/"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("line 3") || e.contains("line 4"), "{e}");
            assert!(e.contains("at most 1000000 req/s"), "{e}");
        }
    }

    #[test]
    fn a_field_of_another_kind_of_stage_is_refused_with_its_line() {
        let path = Path::new("s.toml");
        let cases = [
            (
                "[[stage]]\nkind = \"steps\"\nrates = [10, 20]\nevery = \"1s\"\nduration = \"5s\"\n",
                "line 5, field `stage.duration`: does not apply to a stage of kind `steps` (it takes rates, every)",
            ),
            (
                "[[stage]]\nkind = \"constant\"\nrate = 10\nduration = \"1s\"\nfrom = 3\n",
                "line 5, field `stage.from`",
            ),
            (
                "[[stage]]\nkind = \"idle\"\nduration = \"1s\"\nrate = 3\n",
                "line 4, field `stage.rate`: does not apply to a stage of kind `idle`",
            ),
        ];
        for (text, expected) in cases {
            let e = from_str(text, path, Some("http://127.0.0.1:1/"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(expected), "{e}");
        }
    }

    #[test]
    fn field_is_taken_from_the_error_line() {
        let text = "a = 1\n[[stage]]\nrate = \"x\"\n";
        assert_eq!(field_at(text, text.find("\"x").unwrap()), "rate");
        assert_eq!(field_at(text, 7), "stage");
    }
}
