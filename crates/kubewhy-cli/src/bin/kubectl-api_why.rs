//! `kubectl-api_why`: the kubewhy command line as the kubectl plugin `kubectl api-why` (`kubectl api-why explain ...`).

#[path = "../main.rs"]
mod app;

fn main() -> std::process::ExitCode {
    app::main()
}
