//! Prints the heap analysis of a directory of agent files: `heap_report DIR [--json] [--group-by G]`.

use leakhound_native::{AnalyzeOptions, analyze_profile, load_dir, render::render_terminal};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args
        .first()
        .ok_or("usage: heap_report DIR [--json] [--group-by G]")?;
    let json = args.iter().any(|a| a == "--json");
    let mut opts = AnalyzeOptions::default();
    if let Some(i) = args.iter().position(|a| a == "--group-by") {
        opts.group_by = args.get(i + 1).ok_or("--group-by needs a value")?.parse()?;
    }
    for p in load_dir(std::path::Path::new(dir))? {
        let t = std::time::Instant::now();
        let r = analyze_profile(&p, &opts);
        if json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            print!("{}", render_terminal(&r));
            eprintln!("(analysis took {:.2} s)", t.elapsed().as_secs_f64());
        }
    }
    Ok(())
}
