//! The README's examples are the commands' real output. `kubewhy explain`: this test runs the built binary on the
//! example's log and compares the result with the README's block, so the two cannot drift. After a deliberate
//! change of wording, `KUBEWHY_UPDATE_README=1 cargo test -p kubewhy-cli --test cli readme` rewrites the block.

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
         `KUBEWHY_UPDATE_README=1 cargo test -p kubewhy-cli --test cli readme`"
    );
}

/// The output lines of the README's example that starts with the line `$ {command}`: up to the next `$ ` line or
/// the end of the block.
fn example(readme: &str, command: &str) -> std::ops::Range<usize> {
    let prompt = format!("$ {command}\n");
    let start = readme
        .find(&prompt)
        .unwrap_or_else(|| panic!("the README shows `$ {command}`"))
        + prompt.len();
    let rest = &readme[start..];
    let end = [rest.find("\n$ "), rest.find("\n```")]
        .into_iter()
        .flatten()
        .min()
        .expect("the example block is closed")
        + 1;
    start..start + end
}

/// The local control plane's address as the README shows it (each start picks a free port).
fn as_in_readme(text: &str, server: &str) -> String {
    let server = server.trim_end_matches('/');
    text.replace(server, "https://127.0.0.1:37689")
}

/// Compares (or, with `KUBEWHY_UPDATE_README`, rewrites) each `(command, output)` example of the README.
fn pin(examples: &[(&str, String)]) {
    let path = readme();
    let mut text = std::fs::read_to_string(&path).expect("reading the README");
    let mut differ = Vec::new();
    for (command, output) in examples {
        let range = example(&text, command);
        if text[range.clone()] != **output {
            differ.push(format!(
                "`$ {command}`:\n--- README\n{}--- real output\n{output}",
                &text[range.clone()]
            ));
            text.replace_range(range, output);
        }
    }
    if std::env::var_os("KUBEWHY_UPDATE_README").is_some() {
        std::fs::write(&path, text).expect("writing the README");
        return;
    }
    assert!(
        differ.is_empty(),
        "the README's examples differ from the commands' output; after a deliberate change run \
         `KUBEWHY_UPDATE_README=1 cargo test -p kubewhy-cli --test cli readme`:\n{}",
        differ.join("\n")
    );
}

/// `doc-controller doctor` in-process, as admin: (exit status, standard output, standard error).
fn doctor(kubeconfig: &Path, args: &[&str]) -> (u8, String, String) {
    use clap::Parser;
    let kubeconfig = kubeconfig.to_str().expect("a UTF-8 path");
    let all = [
        &["doc-controller", "doctor", "--kubeconfig", kubeconfig][..],
        args,
    ]
    .concat();
    let doc_controller::cli::Command::Doctor(args) = doc_controller::cli::Cli::try_parse_from(all)
        .expect("doctor's arguments")
        .command
    else {
        panic!("not doctor's arguments")
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = tokio::runtime::Runtime::new()
        .expect("a runtime")
        .block_on(doc_controller::doctor::doctor(&args, &mut out, &mut err))
        .expect("doctor runs");
    (
        code,
        String::from_utf8(out).expect("UTF-8"),
        String::from_utf8(err).expect("UTF-8"),
    )
}

/// Retries `f` until it returns `Some` (RBAC changes reach the authorizer's cache within moments), for 30 s.
fn until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// The README's `check`, `doctor` and `rbac diff` examples, replayed as the README tells them on a control plane of
/// their own (the CRD must start out not installed, and the examples use doc-controller's real namespace and
/// cluster-wide names, which other tests change): the CRD not installed and the `documents/status` rule removed
/// from `deploy/rbac.yaml`; then the whole RBAC; then the README's `wildcard.yaml`.
#[test]
fn the_readme_s_check_doctor_and_rbac_diff_examples_are_the_commands_output() {
    let cp = kubewhy_testenv::ControlPlane::start(kubewhy_testenv::Options::default())
        .expect("starting a control plane of this test's own");
    let server = cp.server().to_string();
    let admin = cp.kubeconfig().to_path_buf();
    let apply = |yaml: &str| {
        let (ok, out, err) = cp
            .kubectl_with(&admin, &["apply", "-f", "-"], Some(yaml))
            .expect("running kubectl");
        assert!(ok, "kubectl apply failed: {err}\n{out}\n{yaml}");
    };
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let read = |f: &str| std::fs::read_to_string(deploy.join(f)).expect("reading deploy/");
    apply(&read("serviceaccount.yaml"));
    let rbac = read("rbac.yaml");
    let status_rule =
        "- apiGroups:\n  - kube.rs\n  resources:\n  - documents/status\n  verbs:\n  - patch\n";
    assert!(
        rbac.contains(status_rule),
        "deploy/rbac.yaml grants `patch` on documents/status:\n{rbac}"
    );
    apply(&rbac.replace(status_rule, ""));

    // `$ doc-controller needs > needs.yaml`, in a directory of its own: the commands name `needs.yaml`.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let needs = doc_controller::needs::needs()
        .to_yaml()
        .expect("the needs as YAML");
    std::fs::write(dir.path().join("needs.yaml"), needs).expect("writing needs.yaml");
    let kubewhy = |args: &[&str]| {
        let out = Command::new(KUBEWHY)
            .args(args)
            .current_dir(dir.path())
            .env("KUBECONFIG", &admin)
            .env("NO_COLOR", "1")
            .output()
            .expect("running kubewhy");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), as_in_readme(&text, &server))
    };
    let sa = "system:serviceaccount:doc-controller:doc-controller";

    let check = format!("kubewhy check --needs needs.yaml --as {sa}");
    let checked = until("the check to see the RBAC without documents/status", || {
        let (code, out) = kubewhy(&["check", "--needs", "needs.yaml", "--as", sa]);
        (code == Some(1) && out.contains("pass  access  15 of 16")).then_some(out)
    });
    let (code, fix, _) = doctor(&admin, &["--as-service-account", "--fix"]);
    assert_eq!(code, 1, "{fix}");

    apply(&rbac);
    let diff = format!("kubewhy rbac diff --needs needs.yaml --as {sa}");
    let diffed = until("the whole RBAC", || {
        let (code, out) = kubewhy(&["rbac", "diff", "--needs", "needs.yaml", "--as", sa]);
        (code == Some(0)).then_some(out)
    });
    apply(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: doc-controller-extra}\n\
         rules:\n- {apiGroups: [kube.rs], resources: ['*'], verbs: [get, list]}\n\
         - {apiGroups: [''], resources: [secrets], verbs: [get]}\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: doc-controller-extra}\n\
         roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: doc-controller-extra}\n\
         subjects: [{kind: ServiceAccount, name: doc-controller, namespace: doc-controller}]\n",
    );
    let excess = until("the wildcard rule", || {
        let (code, out, err) = doctor(
            &admin,
            &["--as-service-account", "--rbac-diff", "--fail-on-excess"],
        );
        (code == 1 && out.contains("FAIL  excess"))
            .then(|| as_in_readme(&format!("{out}{err}"), &server))
    });

    pin(&[
        (check.as_str(), checked),
        (
            "doc-controller doctor --as-service-account --fix 2>/dev/null",
            fix,
        ),
        (diff.as_str(), diffed),
        (
            "doc-controller doctor --as-service-account --rbac-diff --fail-on-excess",
            excess,
        ),
    ]);
}
