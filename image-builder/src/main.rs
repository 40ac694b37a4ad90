//! `nanvix`: build and run systems on a board, run the tests, generate docs.

use clap::{Parser, Subcommand, ValueEnum};
use nanvix_image_builder::runner::{EventFormat, RunOptions};
use nanvix_image_builder::{builder, docs, manifest, runner, workspace_root};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Build and run Nanvix systems.
#[derive(Parser)]
#[command(name = "nanvix", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Build what a manifest needs and boot it (default: systems/mppa256.toml).
    Run {
        /// The system manifest.
        manifest: Option<PathBuf>,
        /// How to print what happens: `human` (default) or `json` (one event per line).
        #[arg(long, value_enum, default_value = "human")]
        events: Events,
        /// Stop the board after this many seconds (exit status 124).
        #[arg(long)]
        timeout: Option<f64>,
        /// Do not build; use the kernel and programs already built.
        #[arg(long)]
        no_build: bool,
        /// Use this ELF file for program NAME instead of the built one (NAME=PATH).
        #[arg(long = "program", value_name = "NAME=PATH")]
        program_overrides: Vec<String>,
    },
    /// Check a manifest and build the kernel and programs it needs.
    Build {
        /// The system manifest.
        manifest: PathBuf,
    },
    /// Check a manifest without building anything.
    Check {
        /// The system manifest.
        manifest: PathBuf,
    },
    /// Build every kernel and program, then run every test of the workspace.
    Test {
        /// Extra arguments for `cargo test` (after `--`).
        #[arg(last = true)]
        cargo_arguments: Vec<String>,
    },
    /// Regenerate the pages of docs/ that come from tables in the code.
    Docs {
        /// Only check that they are current.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Events {
    Human,
    Json,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("nanvix: {message}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let root = workspace_root();
    match cli.command {
        Commands::Run {
            manifest,
            events,
            timeout,
            no_build,
            program_overrides,
        } => {
            let path = manifest.unwrap_or_else(|| root.join("systems/mppa256.toml"));
            let system = match manifest::load(&root, &path) {
                Ok(system) => system,
                Err(error) => return fail(error),
            };
            let mut artifacts = match builder::build(&root, &system.program_names(), !no_build) {
                Ok(artifacts) => artifacts,
                Err(error) => return fail(error),
            };
            for entry in program_overrides {
                let Some((name, path)) = entry.split_once('=') else {
                    return fail(format!("--program {entry}: expected NAME=PATH"));
                };
                if !artifacts.programs.contains_key(name) {
                    return fail(format!(
                        "--program {entry}: the manifest runs no program `{name}`"
                    ));
                }
                artifacts
                    .programs
                    .insert(name.to_string(), PathBuf::from(path));
            }
            let timeout = match timeout.map(Duration::try_from_secs_f64) {
                Some(Err(_)) => return fail("--timeout must be a positive number of seconds"),
                Some(Ok(timeout)) => Some(timeout),
                None => None,
            };
            let options = RunOptions {
                format: match events {
                    Events::Human => EventFormat::Human,
                    Events::Json => EventFormat::Json,
                },
                timeout,
            };
            match runner::run(&system, &artifacts, &options, &mut std::io::stdout()) {
                Ok(status) => ExitCode::from(status.clamp(0, 255) as u8),
                Err(error) => fail(error),
            }
        }
        Commands::Build { manifest } => match manifest::load(&root, &manifest) {
            Ok(system) => match builder::build(&root, &system.program_names(), true) {
                Ok(artifacts) => {
                    println!("kernel: {}", artifacts.kernel.display());
                    for (name, path) in &artifacts.programs {
                        println!("program {name}: {}", path.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(error) => fail(error),
            },
            Err(error) => fail(error),
        },
        Commands::Check { manifest } => match manifest::load(&root, &manifest) {
            Ok(system) => {
                println!(
                    "{}: board {}, {} clusters booted, programs: {}",
                    manifest.display(),
                    system.board.name,
                    system.clusters.len(),
                    system.program_names().join(", ")
                );
                ExitCode::SUCCESS
            }
            Err(error) => fail(error),
        },
        Commands::Test { cargo_arguments } => {
            let programs = manifest::available_programs(&root);
            if let Err(error) = builder::build(&root, &programs, true) {
                return fail(error);
            }
            let status = builder::cargo()
                .current_dir(&root)
                .args(["test", "--workspace"])
                .args(&cargo_arguments)
                .status();
            match status {
                Ok(status) if status.success() => ExitCode::SUCCESS,
                Ok(_) => ExitCode::FAILURE,
                Err(error) => fail(format!("cannot run cargo test: {error}")),
            }
        }
        Commands::Docs { check } => {
            let path = root.join(docs::KCALLS_PAGE);
            let page = docs::kcalls_page();
            if check {
                let current = std::fs::read_to_string(&path).unwrap_or_default();
                if current == page {
                    ExitCode::SUCCESS
                } else {
                    fail(format!(
                        "{} is stale: run `cargo nanvix docs`",
                        path.display()
                    ))
                }
            } else {
                match std::fs::write(&path, page) {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(error) => fail(format!("cannot write {}: {error}", path.display())),
                }
            }
        }
    }
}
