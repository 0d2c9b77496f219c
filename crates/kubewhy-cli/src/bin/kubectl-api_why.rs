//! `kubectl-why`: the kubewhy command line as a kubectl plugin (`kubectl why explain ...`).

#[path = "../main.rs"]
mod app;

fn main() -> std::process::ExitCode {
    app::main()
}
