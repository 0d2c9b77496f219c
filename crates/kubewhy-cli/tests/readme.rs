//! The README's example of `kubewhy explain` is the command's real output: this test runs the built binary on the
//! example's log and compares the result with the README's block, so the two cannot drift. After a deliberate
//! change of wording, `KUBEWHY_UPDATE_README=1 cargo test -p kubewhy-cli --test readme` rewrites the block.

use std::path::{Path, PathBuf};
use std::process::Command;

const KUBEWHY: &str = env!("CARGO_BIN_EXE_kubewhy");

/// The example's `controller.log`: the seed's kube-rs denial with the core-group mistake, and a client-go reflector
/// line for a CRD that is not installed.
const CONTROLLER_LOG: &str = concat!(
    r#"ErrorResponse { status: "Failure", message: " \"samuel\" is forbidden: User \"system:serviceaccount:default:doc-controller\" cannot patch resource \"documents\" in API group \"\" in the namespace \"default\"", reason: "Forbidden", code: 403 }"#,
    "\n",
    r#"E1125 07:00:03.000000 1 reflector.go:166] "Failed to watch" err="failed to list *v1.TLSRoute: the server could not find the requested resource (get tlsroutes.gateway.networking.k8s.io)" logger="UnhandledError""#,
    "\n",
);

/// The command line the block shows.
const PROMPT: &str = "$ kubewhy explain controller.log\n";

fn readme() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")
}

/// The byte range of the block's output: after the prompt line, up to the closing fence.
fn block(readme: &str) -> std::ops::Range<usize> {
    let start = readme
        .find(PROMPT)
        .expect("the README shows `$ kubewhy explain controller.log`")
        + PROMPT.len();
    let end = start
        + readme[start..]
            .find("```")
            .expect("the example block is closed");
    start..end
}

#[test]
fn the_readme_s_explain_example_is_the_command_s_output() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join("controller.log"), CONTROLLER_LOG).expect("writing the log");
    let out = Command::new(KUBEWHY)
        .args(["explain", "controller.log"])
        .current_dir(dir.path())
        .env_remove("NO_COLOR")
        .output()
        .expect("running kubewhy");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let output = String::from_utf8(out.stdout).expect("UTF-8 output");

    let path = readme();
    let text = std::fs::read_to_string(&path).expect("reading the README");
    let range = block(&text);
    if std::env::var_os("KUBEWHY_UPDATE_README").is_some() {
        let mut updated = text.clone();
        updated.replace_range(range, &output);
        std::fs::write(&path, updated).expect("writing the README");
        return;
    }
    assert_eq!(
        &text[range], output,
        "the README's `kubewhy explain` example differs from the command's output; after a deliberate change run \
         `KUBEWHY_UPDATE_README=1 cargo test -p kubewhy-cli --test readme`"
    );
}
