//! What packagers and users install beside the binaries: the krew manifest of the kubectl plugin (checked against
//! the binary, validated by krew's own validator, installed by krew and run by kubectl), the man pages in
//! `docs/man/` (current) and the shell completions (working in bash).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kubewhy_testenv::tools;

const KUBEWHY: &str = env!("CARGO_BIN_EXE_kubewhy");
const PLUGIN: &str = env!("CARGO_BIN_EXE_kubectl-api_why");
const VERSION: &str = env!("CARGO_PKG_VERSION");
const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs a command to completion, panicking with its output when it cannot start or fails.
fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

fn plugin_bin_name() -> String {
    Path::new(PLUGIN)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    api_version: String,
    kind: String,
    metadata: Metadata,
    spec: Spec,
}

#[derive(Debug, serde::Deserialize)]
struct Metadata {
    name: String,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    version: String,
    homepage: String,
    short_description: String,
    platforms: Vec<Platform>,
}

#[derive(Debug, serde::Deserialize)]
struct Platform {
    uri: String,
    sha256: String,
    bin: String,
    files: Vec<FileOp>,
}

#[derive(Debug, serde::Deserialize)]
struct FileOp {
    from: String,
}

const MANIFEST: &str = "plugins/api-why.yaml";

fn manifest() -> (String, Manifest) {
    let path = root().join(MANIFEST);
    let yaml = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let manifest = serde_yaml::from_str(&yaml)
        .unwrap_or_else(|e| panic!("{} is not a krew manifest: {e}", path.display()));
    (yaml, manifest)
}

#[test]
fn the_krew_manifest_names_the_binary_and_its_version() {
    let (_, m) = manifest();
    assert_eq!(
        m.api_version,
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(m.kind, "Plugin");
    assert_eq!(format!("plugins/{}.yaml", m.metadata.name), MANIFEST);
    // krew puts `kubectl-<name with _ for ->` on PATH, and kubectl runs that file for `kubectl <name>`: it must be
    // the binary cargo builds, and the one the CLI recognises as the plugin.
    let bin = plugin_bin_name();
    assert_eq!(
        format!("kubectl-{}", m.metadata.name.replace('-', "_")),
        bin
    );
    assert_eq!(m.spec.version, format!("v{VERSION}"));
    assert_eq!(m.spec.homepage, REPOSITORY);
    assert!(!m.spec.short_description.contains('\n'));
    assert!(!m.spec.platforms.is_empty());
    for p in &m.spec.platforms {
        assert_eq!(p.bin, bin, "{p:?}");
        assert!(
            p.uri.starts_with(&format!(
                "{REPOSITORY}/releases/download/v{VERSION}/{bin}-v{VERSION}-"
            )),
            "the archive of another release or project: {p:?}"
        );
        let from: Vec<&str> = p.files.iter().map(|f| f.from.as_str()).collect();
        assert_eq!(from, [bin.as_str(), "LICENSE"], "{p:?}");
        assert_eq!(p.sha256.len(), 64, "{p:?}");
    }
    // The binary answers to that name.
    let out = run_ok(Command::new(PLUGIN).arg("--version"));
    assert_eq!(text(&out.stdout).trim(), format!("{bin} {VERSION}"));
    let out = run_ok(Command::new(PLUGIN).arg("--help"));
    assert!(
        text(&out.stdout).contains("Usage: kubectl api-why <COMMAND>"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn krew_validates_the_manifest_and_installs_the_plugin_that_kubectl_runs() {
    let validator = tools::VALIDATE_KREW_MANIFEST.ensure_built().unwrap();
    let krew = tools::KREW.ensure_built().unwrap();
    let (yaml, m) = manifest();

    // krew's own validator, as the krew index runs it; installing from the release URL needs the network (and the
    // release), so the install is exercised below with a local archive instead.
    let out = run_ok(
        Command::new(&validator)
            .arg("-skip-install")
            .arg("-manifest")
            .arg(root().join(MANIFEST)),
    );
    assert!(
        text(&out.stderr).contains("structural validation OK"),
        "{}",
        text(&out.stderr)
    );

    // The release archive, made from the binary cargo just built, and the manifest with its checksum.
    let work = tempfile::tempdir().unwrap();
    let stage = work.path().join("stage");
    std::fs::create_dir(&stage).unwrap();
    let bin = plugin_bin_name();
    std::fs::copy(PLUGIN, stage.join(&bin)).unwrap();
    std::fs::copy(root().join("LICENSE"), stage.join("LICENSE")).unwrap();
    let archive = work.path().join("release.tar.gz");
    run_ok(
        Command::new("tar")
            .arg("-czf")
            .arg(&archive)
            .arg("-C")
            .arg(&stage)
            .args([bin.as_str(), "LICENSE"]),
    );
    let sum = run_ok(Command::new("sha256sum").arg(&archive));
    let sha = text(&sum.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let placeholder = &m.spec.platforms[0].sha256;
    assert!(yaml.contains(placeholder.as_str()));
    let manifest = work.path().join(format!("{}.yaml", m.metadata.name));
    std::fs::write(&manifest, yaml.replace(placeholder.as_str(), &sha)).unwrap();

    // `kubectl krew install` with krew as kubectl runs it: a `kubectl-krew` on PATH.
    let path_dir = work.path().join("path");
    std::fs::create_dir(&path_dir).unwrap();
    std::os::unix::fs::symlink(&krew, path_dir.join("kubectl-krew")).unwrap();
    let krew_root = work.path().join("krew");
    let path = format!(
        "{}:{}:{}",
        krew_root.join("bin").display(),
        path_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = run_ok(
        Command::new("kubectl")
            .args(["krew", "install"])
            .arg(format!("--manifest={}", manifest.display()))
            .arg(format!("--archive={}", archive.display()))
            .env("PATH", &path)
            .env("KREW_ROOT", &krew_root)
            .env("KREW_NO_UPGRADE_CHECK", "1"),
    );
    let said = text(&out.stderr) + &text(&out.stdout);
    assert!(said.contains("Installed plugin: api-why"), "{said}");
    let installed = krew_root
        .join("store")
        .join(&m.metadata.name)
        .join(&m.spec.version);
    assert!(
        installed.join("LICENSE").is_file(),
        "krew requires the LICENSE in the archive"
    );

    // kubectl finds the plugin by its name and runs it.
    let out = run_ok(
        Command::new("kubectl")
            .args(["api-why", "--version"])
            .env("PATH", &path),
    );
    assert_eq!(text(&out.stdout).trim(), format!("{bin} {VERSION}"));
    let out = run_ok(
        Command::new("kubectl")
            .args(["plugin", "list"])
            .env("PATH", &path),
    );
    let listed = text(&out.stdout);
    assert!(
        listed.contains(&format!("{}/{bin}", krew_root.join("bin").display())),
        "{listed}"
    );
}

/// The file names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// docs/man holds exactly the pages of both binaries, as they generate them now.
#[test]
fn the_man_pages_in_docs_are_current() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(
        Command::new(KUBEWHY)
            .arg("man")
            .arg("--dir")
            .arg(dir.path()),
    );
    doc_controller::manual::write_man_pages(dir.path())
        .expect("writing doc-controller's man pages");
    let generated = listing(dir.path());
    for page in [
        "kubewhy.1",
        "kubewhy-explain.1",
        "kubewhy-check.1",
        "kubewhy-completion.1",
        "doc-controller-run.1",
    ] {
        assert!(
            generated.iter().any(|p| p == page),
            "{page} missing: {generated:?}"
        );
    }
    assert!(
        !generated.iter().any(|p| p.contains("-man.")),
        "the hidden `man` has no page: {generated:?}"
    );
    let docs = root().join("docs/man");
    let help = "run `cargo run -p kubewhy-cli --bin kubewhy -- man --dir docs/man && cargo run -p doc-controller -- man --dir \
                docs/man` and commit the result";
    assert_eq!(listing(&docs), generated, "{help}");
    for page in &generated {
        let want = std::fs::read(dir.path().join(page)).unwrap();
        let have = std::fs::read(docs.join(page)).unwrap();
        assert!(want == have, "docs/man/{page} is stale: {help}");
    }
    let main = String::from_utf8(std::fs::read(docs.join("kubewhy.1")).unwrap()).unwrap();
    assert!(main.contains(&format!("kubewhy {VERSION}")), "{main}");
    assert!(main.contains("kubewhy\\-explain(1)"), "{main}");
    // Each flag's environment variable is documented.
    let run = String::from_utf8(std::fs::read(docs.join("doc-controller-run.1")).unwrap()).unwrap();
    assert!(run.contains("DOC_CONTROLLER_LEADER_ELECT"), "{run}");
}

/// Completes `line` (the cursor at its end) in a real bash with the script of `kubewhy completion bash` loaded,
/// returning the candidates.
fn bash_complete(script: &str, line: &str) -> Vec<String> {
    let words: Vec<&str> = line.split(' ').collect();
    let program = format!(
        "{script}\nCOMP_WORDS=({words})\nCOMP_CWORD={cword}\nCOMP_LINE='{line}'\nCOMP_POINT={point}\n\
         _kubewhy kubewhy '{cur}' '{prev}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words = words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" "),
        cword = words.len() - 1,
        point = line.len(),
        cur = words[words.len() - 1],
        prev = if words.len() > 1 {
            words[words.len() - 2]
        } else {
            ""
        },
    );
    let out = run_ok(Command::new("bash").arg("-c").arg(program));
    text(&out.stdout).lines().map(str::to_string).collect()
}

#[test]
fn completions_complete_subcommands_and_flags() {
    let bash = text(&run_ok(Command::new(KUBEWHY).args(["completion", "bash"])).stdout);
    let subcommands = bash_complete(&bash, "kubewhy ");
    for sub in ["explain", "check", "completion"] {
        assert!(subcommands.iter().any(|c| c == sub), "{subcommands:?}");
    }
    assert_eq!(bash_complete(&bash, "kubewhy ex"), ["explain"]);
    let flags = bash_complete(&bash, "kubewhy explain --o");
    assert!(flags.iter().any(|c| c == "--output"), "{flags:?}");
    let values = bash_complete(&bash, "kubewhy explain --output ");
    assert!(
        values.contains(&"json".to_string()) && values.contains(&"text".to_string()),
        "{values:?}"
    );
    let shells = bash_complete(&bash, "kubewhy completion ");
    for shell in ["bash", "zsh", "fish", "powershell"] {
        assert!(shells.iter().any(|c| c == shell), "{shells:?}");
    }

    // zsh and fish are not installed here: their scripts are checked for what each shell needs to load them.
    let zsh = text(&run_ok(Command::new(KUBEWHY).args(["completion", "zsh"])).stdout);
    assert!(zsh.starts_with("#compdef kubewhy"), "{zsh}");
    assert!(
        zsh.contains("'explain:") && zsh.contains("--output"),
        "{zsh}"
    );
    let fish = text(&run_ok(Command::new(KUBEWHY).args(["completion", "fish"])).stdout);
    assert!(
        fish.contains("complete -c kubewhy") && fish.contains("-a \"explain\""),
        "{fish}"
    );
    // Unknown shells are a usage error that names the valid ones.
    let out = Command::new(KUBEWHY)
        .args(["completion", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("possible values: bash, elvish, fish, powershell, zsh"));
}
