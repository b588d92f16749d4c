//! Unicode sparklines (`▁▂▃▅▇`) of a series' floor.
//!
//! Scaled between the minimum and maximum of the points shown, so a flat series is a flat line
//! whatever its level. A series whose spread is below 0.5 % of its level is drawn flat: a few
//! pages of noise must not look like a trend.

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Relative spread under which a series is drawn as a flat line (0.5 % of its level).
const FLAT_SPREAD: f64 = 0.005;

/// Draw `points` as a sparkline of the same length.
pub fn sparkline(points: &[f64]) -> String {
    let finite: Vec<f64> = points.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.is_empty() {
        return String::new();
    }
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let spread = hi - lo;
    let level = hi.abs().max(lo.abs());
    let flat = spread <= 0.0 || (level > 0.0 && spread / level < FLAT_SPREAD);
    points
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                ' '
            } else if flat {
                BARS[0]
            } else {
                let idx = ((v - lo) / spread * (BARS.len() - 1) as f64).round() as usize;
                BARS[idx.min(BARS.len() - 1)]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rising_series_ends_high() {
        assert_eq!(
            sparkline(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]),
            "▁▂▃▄▅▆▇█"
        );
    }

    #[test]
    fn flat_or_tiny_noise_is_flat() {
        assert_eq!(sparkline(&[100.0, 100.1, 100.0]), "▁▁▁");
        assert_eq!(sparkline(&[5.0, 5.0]), "▁▁");
        assert_eq!(sparkline(&[]), "");
    }
}
