//! Units of measured values and their human-readable formatting.
//!
//! Values travel as `f64` together with a [`Unit`]; formatting picks binary prefixes for bytes
//! (KiB, MiB, GiB) and a time base for rates (per second, minute or hour) so that the number
//! shown has a readable magnitude.

use serde::{Deserialize, Serialize};

/// What a series measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Bytes of memory.
    Bytes,
    /// File descriptors.
    Fds,
    /// Sockets.
    Sockets,
    /// Threads (or goroutines).
    Threads,
    /// Processes.
    Processes,
    /// Requests (load driver).
    Requests,
    /// A dimensionless count of anything else.
    Count,
}

impl Unit {
    /// Guess the unit from a column name such as `rss_bytes`, `fds_socket` or `threads`.
    ///
    /// Used for CSV files given to `analyze`, whose header names are free-form.
    pub fn guess_from_name(name: &str) -> Unit {
        let n = name.to_ascii_lowercase();
        let has = |w: &str| n.contains(w);
        if has("byte")
            || has("rss")
            || has("pss")
            || has("uss")
            || has("mem")
            || has("heap")
            || has("anon")
            || has("swap")
        {
            Unit::Bytes
        } else if has("fd") || has("file") {
            Unit::Fds
        } else if has("sock") || has("tcp") || has("conn") {
            Unit::Sockets
        } else if has("thread") || has("goroutine") {
            Unit::Threads
        } else if has("proc") {
            Unit::Processes
        } else if has("req") {
            Unit::Requests
        } else {
            Unit::Count
        }
    }

    /// The plural noun used after a count ("fds", "threads"); empty for bytes.
    pub fn noun(self) -> &'static str {
        match self {
            Unit::Bytes => "",
            Unit::Fds => "fds",
            Unit::Sockets => "sockets",
            Unit::Threads => "threads",
            Unit::Processes => "procs",
            Unit::Requests => "req",
            Unit::Count => "",
        }
    }
}

/// Format a byte count with a binary prefix: `512 B`, `1.5 KiB`, `12.3 MiB`, `2.00 GiB`.
pub fn format_bytes(v: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    // Under half a byte prints as 0 B, without a sign ("-0 B" reads like a bug).
    let sign = if v <= -0.5 { "-" } else { "" };
    let mut x = v.abs();
    let mut i = 0;
    while x >= 1024.0 && i < UNITS.len() - 1 {
        x /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{sign}{x:.0} B")
    } else {
        format!("{sign}{} {}", sig3(x), UNITS[i])
    }
}

/// Format a quantity in `unit`: bytes with prefixes, counts with their noun (`17 fds`).
pub fn format_quantity(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Bytes => format_bytes(v),
        _ => {
            let noun = unit.noun();
            // Whole numbers as such; a tiny non-zero value is none ("1.00e-298", not "0").
            let num = if v.fract().abs() < 1e-9 && v.abs() < 1e15 && (v == 0.0 || v.abs() >= 0.5) {
                format!("{v:.0}")
            } else {
                sig3(v)
            };
            if noun.is_empty() {
                num
            } else if num == "1" || num == "-1" {
                // "1 fd", "1 thread" ("req" and "procs" read as abbreviations either way).
                format!("{num} {}", noun.strip_suffix('s').unwrap_or(noun))
            } else {
                format!("{num} {noun}")
            }
        }
    }
}

/// Format a rate given per second, choosing /s, /min or /h so the number is at least 1 when
/// possible: `3.1 MiB/min`, `12 fds/h`, `0.2 threads/h`.
pub fn format_rate(unit: Unit, per_s: f64) -> String {
    let (scale, suffix) = rate_base(unit, per_s);
    format!("{}/{suffix}", format_quantity_rate(unit, per_s * scale))
}

/// `per_s` over the time base [`format_rate`] would choose for `like_per_s`: the bounds of an
/// interval read in the estimate's unit ("25.6 MiB/h, 95 % CI 8.45 MiB/h to 4.64 GiB/h", not
/// "… to 1.32 MiB/s").
pub fn format_rate_like(unit: Unit, per_s: f64, like_per_s: f64) -> String {
    let (scale, suffix) = rate_base(unit, like_per_s);
    format!("{}/{suffix}", format_quantity_rate(unit, per_s * scale))
}

/// The time base (multiplier from per-second, suffix) that [`format_rate`] would use.
pub fn rate_base(unit: Unit, per_s: f64) -> (f64, &'static str) {
    let a = per_s.abs();
    // Bytes read best in whole MiB per period (a leak of 52.9 KiB/s is "3.10 MiB/min");
    // counts read best as at least one per period.
    let threshold = match unit {
        Unit::Bytes => 1024.0 * 1024.0,
        _ => 1.0,
    };
    if a >= threshold {
        (1.0, "s")
    } else if a * 60.0 >= threshold {
        (60.0, "min")
    } else {
        (3600.0, "h")
    }
}

fn format_quantity_rate(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Bytes => format_bytes(v),
        _ => {
            let noun = unit.noun();
            if noun.is_empty() {
                sig3(v)
            } else {
                format!("{} {noun}", sig3(v))
            }
        }
    }
}

/// Three significant digits, without exponent notation for everyday magnitudes.
fn sig3(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 {
        "0".to_string()
    } else if a >= 1e15 {
        // Beyond any real count or byte size: no 300-digit numbers.
        format!("{x:.2e}")
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 0.01 {
        format!("{x:.2}")
    } else {
        format!("{x:.2e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_count_is_singular_and_huge_counts_are_short() {
        assert_eq!(format_quantity(Unit::Fds, 1.0), "1 fd");
        assert_eq!(format_quantity(Unit::Threads, 2.0), "2 threads");
        assert_eq!(format_quantity(Unit::Count, 1e-298), "1.00e-298");
        assert_eq!(format_quantity(Unit::Count, 0.0), "0");
        assert_eq!(format_quantity(Unit::Sockets, -1.0), "-1 socket");
        assert_eq!(format_quantity(Unit::Count, 1e300), "1.00e300");
    }

    #[test]
    fn bytes_use_binary_prefixes() {
        assert_eq!(format_bytes(512.0), "512 B");
        assert_eq!(format_bytes(1536.0), "1.50 KiB");
        assert_eq!(format_bytes(12.34 * 1024.0 * 1024.0), "12.3 MiB");
        assert_eq!(format_bytes(-2048.0), "-2.00 KiB");
        assert_eq!(format_bytes(-0.3), "0 B");
        assert_eq!(format_bytes(-0.7), "-1 B");
    }

    #[test]
    fn rates_pick_a_readable_time_base() {
        assert_eq!(
            format_rate(Unit::Bytes, 3.1 * 1024.0 * 1024.0 / 60.0),
            "3.10 MiB/min"
        );
        assert_eq!(format_rate(Unit::Fds, 12.0 / 3600.0), "12.0 fds/h");
        assert_eq!(format_rate(Unit::Fds, 5.0), "5.00 fds/s");
    }

    #[test]
    fn interval_bounds_keep_the_estimates_time_base() {
        let mib = 1024.0 * 1024.0;
        // The bounds of "25.6 MiB/h" read per hour even where one alone would read per second.
        assert_eq!(
            format_rate_like(Unit::Bytes, 1.32 * mib, 25.6 * mib / 3600.0),
            "4.64 GiB/h"
        );
        assert_eq!(
            format_rate_like(Unit::Bytes, 0.0, 25.6 * mib / 3600.0),
            "0 B/h"
        );
        assert_eq!(format_rate_like(Unit::Fds, 0.5, 5.0), "0.50 fds/s");
    }

    #[test]
    fn units_are_guessed_from_column_names() {
        assert_eq!(Unit::guess_from_name("rss_bytes"), Unit::Bytes);
        assert_eq!(Unit::guess_from_name("fds_socket"), Unit::Fds);
        assert_eq!(Unit::guess_from_name("tcp_close_wait"), Unit::Sockets);
        assert_eq!(Unit::guess_from_name("threads"), Unit::Threads);
        assert_eq!(Unit::guess_from_name("value"), Unit::Count);
    }
}
