//! Validated, clap-free properties of each command (after samply's `recording_props`).
//!
//! Parsing helpers used as clap value parsers live here too, so a bad `--duration` is rejected
//! with a message that says what is accepted.

use std::path::PathBuf;
use std::time::Duration;

use leakhound_detect::DetectOptions;

use crate::args::SamplingArgs;
use crate::errors::ExpectedError;

/// Parse `90s`, `10m`, `1h30m`, `250ms`, `1.5h` or a bare number of seconds.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let err = || {
        format!(
            "invalid duration `{s}`: use seconds (90) or a number with a unit, like 90s, 10m, \
             1h30m or 250ms"
        )
    };
    if t.is_empty() {
        return Err(err());
    }
    // A duration of 30 years and more is no run length: said as such, not as a bad spelling.
    let too_long = |secs: f64| {
        (secs.is_finite() && secs >= 1e9)
            .then(|| format!("invalid duration `{s}`: too long (at most 30 years)"))
    };
    if let Ok(secs) = t.parse::<f64>() {
        if let Some(e) = too_long(secs) {
            return Err(e);
        }
        return duration_from_secs(secs).ok_or_else(err);
    }
    let mut total = 0.0;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(err());
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| err())?;
        rest = rest[num_len..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86400.0,
            _ => return Err(err()),
        };
        total += value * factor;
        rest = rest[unit_len..].trim_start();
    }
    if let Some(e) = too_long(total) {
        return Err(e);
    }
    duration_from_secs(total).ok_or_else(err)
}

/// [`parse_duration`] for a wait that must not be 0.
pub(crate) fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err(format!("`{s}` is no time at all: give a duration above 0"));
    }
    Ok(d)
}

/// [`parse_duration`] for an interval that must not be 0 (at least 10 ms).
pub(crate) fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_millis(10) {
        return Err(format!("`{s}` is too short: use at least 10ms"));
    }
    Ok(d)
}

/// A thread count: 1 to 1024.
pub(crate) fn parse_threads(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=1024).contains(&n) => Ok(n),
        _ => Err(format!(
            "invalid thread count `{s}`: use a number from 1 to 1024"
        )),
    }
}

fn duration_from_secs(secs: f64) -> Option<Duration> {
    (secs.is_finite() && (0.0..1e9).contains(&secs)).then(|| Duration::from_secs_f64(secs))
}

/// Parse a limit: a size with a unit (`2GiB`, `512MB`) or a plain number (bytes or a count).
pub(crate) fn parse_limit(s: &str) -> Result<f64, String> {
    parse_limit_arg(s).map(|l| l.value)
}

/// A `--limit` as given: a size (`2GiB`, applies to memory in bytes) or a plain number (in the
/// series' own unit: bytes for memory, a count for fds, sockets, threads).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LimitArg {
    pub(crate) value: f64,
    /// Given with a size unit (B, KiB, MB, GiB…).
    pub(crate) size: bool,
}

/// Parse a `--limit`: a positive size or a plain number of at least 1 (a limit under one byte
/// or one fd is a typo, not a limit).
pub(crate) fn parse_limit_arg(s: &str) -> Result<LimitArg, String> {
    let t = s.trim();
    if let Ok(v) = t.parse::<f64>() {
        if v >= 1.0 && v.is_finite() {
            return Ok(LimitArg {
                value: v,
                size: false,
            });
        }
    } else if let Ok(size) = t.parse::<bytesize::ByteSize>()
        && size.as_u64() > 0
    {
        return Ok(LimitArg {
            value: size.as_u64() as f64,
            size: true,
        });
    }
    Err(format!(
        "invalid limit `{s}`: use a positive size like 2GiB or 512MiB, or a plain count of at least 1"
    ))
}

/// Sampling and judging settings shared by `run`, `watch` and `demo`.
#[derive(Debug, Clone)]
pub(crate) struct SamplingProps {
    pub(crate) duration: Option<Duration>,
    pub(crate) interval: Duration,
    pub(crate) warmup: Duration,
    pub(crate) limit: Option<f64>,
    pub(crate) out: Option<PathBuf>,
    pub(crate) json: bool,
    /// End the session at the first online leak alarm (`--stop-on-leak`).
    pub(crate) stop_on_leak: bool,
    /// No online alarm before this much was sampled (`--alarm-after`; `None`: the detector's
    /// defaults).
    pub(crate) alarm_after: Option<Duration>,
}

/// Shortest accepted sampling interval: /proc reads of a big tree take milliseconds.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

impl TryFrom<&SamplingArgs> for SamplingProps {
    type Error = anyhow::Error;

    fn try_from(a: &SamplingArgs) -> anyhow::Result<Self> {
        if a.interval < MIN_INTERVAL {
            return Err(ExpectedError::usage(format!(
                "--interval must be at least {} ms",
                MIN_INTERVAL.as_millis()
            )));
        }
        if let Some(d) = a.duration {
            if d.is_zero() {
                return Err(ExpectedError::usage("--duration must be longer than 0 s"));
            }
            if d < a.interval {
                return Err(ExpectedError::usage(format!(
                    "--duration ({:.1} s) is shorter than --interval ({:.1} s): one sample at most, nothing to judge",
                    d.as_secs_f64(),
                    a.interval.as_secs_f64()
                )));
            }
            if a.warmup >= d {
                return Err(ExpectedError::usage(format!(
                    "--warmup ({:.1} s) must be shorter than --duration ({:.1} s)",
                    a.warmup.as_secs_f64(),
                    d.as_secs_f64()
                )));
            }
        }
        Ok(SamplingProps {
            duration: a.duration,
            interval: a.interval,
            warmup: a.warmup,
            limit: a.limit,
            out: a.out.clone(),
            json: a.json,
            stop_on_leak: a.stop_on_leak,
            alarm_after: a.alarm_after,
        })
    }
}

impl SamplingProps {
    pub(crate) fn detect_options(&self) -> DetectOptions {
        DetectOptions {
            warmup_s: self.warmup.as_secs_f64(),
            limit: self.limit,
            alarm_after_s: self.alarm_after.map(|d| d.as_secs_f64()),
            ..DetectOptions::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_units_and_compounds() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("42").unwrap(), Duration::from_secs(42));
    }

    #[test]
    fn bad_durations_are_rejected_with_a_hint() {
        for bad in ["", "abc", "10x", "-5s", "s", "1h30"] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("90s"), "{bad}: {e}");
        }
        // Well spelled but too long, or no time where a wait is needed: said as such.
        assert!(
            parse_duration("99999999999h")
                .unwrap_err()
                .contains("too long")
        );
        assert!(parse_duration("1e12").unwrap_err().contains("too long"));
        assert!(
            parse_positive_duration("0s")
                .unwrap_err()
                .contains("above 0")
        );
        assert_eq!(
            parse_positive_duration("2s").unwrap(),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn limits_accept_sizes_and_counts() {
        assert_eq!(parse_limit("2GiB").unwrap(), 2.0 * 1024.0 * 1024.0 * 1024.0);
        assert_eq!(parse_limit("1024").unwrap(), 1024.0);
        assert!(parse_limit("0").is_err());
        assert!(parse_limit("lots").is_err());
    }
}
