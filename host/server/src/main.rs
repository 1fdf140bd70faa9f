//! The `karman` command: see `karman --help` and `docs/`.

fn main() -> std::process::ExitCode {
    karman::cli::main()
}
