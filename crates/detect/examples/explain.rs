//! Print the detector's evidence for one column of a CSV file (a run directory's `samples.csv`,
//! a corpus series): `cargo run -p leakhound-detect --example explain -- FILE [COLUMN] [UNTIL_S]`.
//! COLUMN defaults to the second one; UNTIL_S cuts the series there (what the online mode saw).
//! A tool for tuning and bug reports; the format is not stable.

use leakhound_core::{Series, Unit};
use leakhound_detect::{DetectOptions, analyze, analyze_online, explain};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: explain FILE [COLUMN] [UNTIL_S]");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        eprintln!("cannot read {path}: {e}");
        std::process::exit(2)
    });
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = match args.get(1) {
        Some(name) => header.iter().position(|h| h == name).unwrap_or_else(|| {
            eprintln!(
                "no column {name} in {path} (columns: {})",
                header.join(", ")
            );
            std::process::exit(2)
        }),
        None => 1,
    };
    let until: f64 = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::INFINITY);
    let (mut t, mut v) = (Vec::new(), Vec::new());
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let (Some(a), Some(b)) = (cells.first(), cells.get(col)) else {
            continue;
        };
        if let (Ok(a), Ok(b)) = (a.parse::<f64>(), b.parse::<f64>())
            && a <= until
        {
            t.push(a);
            v.push(b);
        }
    }
    let name = header.get(col).copied().unwrap_or("value");
    let series = Series::from_parts(name, Unit::guess_from_name(name), t, v);
    let opts = DetectOptions::default();
    let end = analyze(&series, &opts);
    let online = analyze_online(&series, &opts);
    let report = format!(
        "{}\nend of run: {:?}: {}\nonline:     {:?} at {:?}: {}\n",
        explain(&series, &opts),
        end.verdict,
        end.reason,
        online.verdict,
        online.detected_at_s,
        online.reason
    );
    // A closed pipe (`| head`) ends the output quietly rather than panicking in `println!`.
    let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), report.as_bytes());
}
