//! Prints the Document CustomResourceDefinition: `cargo run --bin crdgen | kubectl apply -f -`.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    match doc_controller::document::crd_yaml() {
        Ok(yaml) => match std::io::stdout().write_all(yaml.as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            // A closed pipe (`crdgen | head`) is not an error worth reporting.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: writing the CRD to standard output failed: {e}");
                ExitCode::from(2)
            }
        },
        Err(e) => {
            eprintln!("error: encoding the CRD as YAML failed: {e}");
            ExitCode::from(2)
        }
    }
}
