//! What is installed beside the binary: the bash completion loads, and every place that states the log filter defers
//! to the one default (`telemetry::DEFAULT_FILTER`). (The man pages in `docs/man/` are checked with kubewhy's, in
//! kubewhy-cli's tests/packaging.rs.)

use std::path::PathBuf;
use std::process::Command;

use doc_controller::telemetry::DEFAULT_FILTER;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_bash_completion_loads_and_completes_subcommands() {
    let out = Command::new(env!("CARGO_BIN_EXE_doc-controller"))
        .args(["completion", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    // The function `complete -p` names is the one bash calls on Tab.
    let program = format!(
        "{script}\nspec=$(complete -p doc-controller) && echo \"$spec\"\nfunction=${{spec##*-F }}; function=${{function%% *}}\n\
         COMP_WORDS=(doc-controller g)\nCOMP_CWORD=1\nCOMP_LINE='doc-controller g'\nCOMP_POINT=16\n\
         \"$function\" doc-controller g doc-controller\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n"
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(program)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("-F _doc"), "{said}");
    assert!(said.lines().any(|l| l == "gen-deploy"), "{said}");
}

#[test]
fn every_place_that_states_the_log_filter_uses_the_one_default() {
    // The default keeps kubewhy's lines: `kube=warn` matches `kubewhy` by prefix, so it must be undone after it.
    let directives: Vec<&str> = DEFAULT_FILTER.split(',').collect();
    let kube = directives.iter().position(|d| *d == "kube=warn").unwrap();
    let kubewhy = directives
        .iter()
        .position(|d| *d == "kubewhy=info")
        .unwrap();
    assert!(kube < kubewhy, "{DEFAULT_FILTER}");

    // --help shows it (from the constant).
    let out = Command::new(env!("CARGO_BIN_EXE_doc-controller"))
        .args(["run", "--help"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains(&format!("[default: {DEFAULT_FILTER}]")),
        "{help}"
    );

    // deploy/ leaves it to the binary; the chart's values and the README state it exactly.
    let deployment = std::fs::read_to_string(root().join("deploy/deployment.yaml")).unwrap();
    assert!(!deployment.contains("name: RUST_LOG"), "{deployment}");
    for file in ["charts/doc-controller/values.yaml", "README.md"] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        assert!(
            text.contains(DEFAULT_FILTER),
            "{file} does not state the default log filter"
        );
        assert!(
            !text.contains("info,kube=warn\"") && !text.contains("info,kube=warn`"),
            "{file} recommends a filter that silences kubewhy"
        );
    }
}
