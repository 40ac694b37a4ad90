//! `nanvix-baselines`: measures every baseline of this machine and prints them as a table.

use nanvix_bench::{Baseline, Options, Row, table, tsc_ghz, write_rows};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// The usage text.
const USAGE: &str = "\
usage: nanvix-baselines [--quick] [--json PATH]

Measures every baseline of this machine and prints them as a table.

  --quick      scale every iteration count by 0.01
  --json PATH  also write the rows to PATH as a JSON array
  --help       print this text";

/// What the command line asks for.
struct Arguments {
    quick: bool,
    json: Option<PathBuf>,
}

/// Parses the arguments after the program name; `Err` carries the text to print.
fn parse(mut arguments: impl Iterator<Item = String>) -> Result<Arguments, String> {
    let mut parsed = Arguments {
        quick: false,
        json: None,
    };
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--quick" => parsed.quick = true,
            "--json" => {
                let path = arguments
                    .next()
                    .ok_or_else(|| format!("--json needs a path\n\n{USAGE}"))?;
                parsed.json = Some(PathBuf::from(path));
            }
            "--help" | "-h" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n\n{USAGE}")),
        }
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let arguments = match parse(std::env::args().skip(1)) {
        Ok(arguments) => arguments,
        Err(text) => {
            eprintln!("{text}");
            return ExitCode::from(2);
        }
    };
    let options = if arguments.quick {
        Options::quick()
    } else {
        Options::default()
    };
    match tsc_ghz() {
        Ok(rate) => eprintln!("TSC: {rate:.3} GHz"),
        Err(error) => eprintln!("TSC: {error}"),
    }
    let mut rows: Vec<Row> = Vec::new();
    let mut failures = 0;
    for baseline in Baseline::all() {
        eprintln!("running {}", baseline.label());
        match baseline.run(&options) {
            Ok(row) => rows.push(row),
            Err(error) => {
                eprintln!("{}: {error}", baseline.label());
                failures += 1;
            }
        }
    }
    let mut stdout = std::io::stdout().lock();
    if writeln!(stdout, "{}", table(&rows)).is_err() {
        return ExitCode::FAILURE;
    }
    if let Some(path) = &arguments.json {
        if let Err(error) = write_rows(path, &rows) {
            eprintln!("cannot write {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("wrote {} rows to {}", rows.len(), path.display());
    }
    if failures > 0 {
        eprintln!("{failures} baselines failed");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arguments(text: &[&str]) -> Result<Arguments, String> {
        parse(text.iter().map(|argument| argument.to_string()))
    }

    #[test]
    fn parses_the_flags() {
        let parsed = arguments(&["--quick", "--json", "target/bench/x.json"]).expect("parses");
        assert!(parsed.quick);
        assert_eq!(parsed.json, Some(PathBuf::from("target/bench/x.json")));
        assert!(arguments(&["--json"]).is_err());
        assert!(arguments(&["--fast"]).is_err());
        assert!(arguments(&[]).is_ok_and(|parsed| !parsed.quick && parsed.json.is_none()));
    }
}
