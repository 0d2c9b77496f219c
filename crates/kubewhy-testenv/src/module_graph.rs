//! A check that a crate's modules import each other one way only: it reads `src/`, lists every `crate::` and
//! `super::` edge between modules, prints the graph, and fails on a cycle (naming it). doc-controller and the
//! kubewhy library each run it in a test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module's path below the crate root (`reconcile::error`), the root being `""`.
type Module = String;

/// Every library source file (not the binaries) and the module it defines.
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries =
            std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
        for entry in entries {
            let path = entry
                .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
                .path();
            let rel = path.strip_prefix(src).expect("below src/").to_path_buf();
            if path.is_dir() {
                if rel != Path::new("bin") {
                    dirs.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || rel == Path::new("main.rs") {
                continue;
            }
            let mut parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            let file = parts.pop().expect("a file name");
            match file.as_str() {
                "lib.rs" | "mod.rs" => {}
                other => parts.push(other.trim_end_matches(".rs").to_string()),
            }
            found.insert(parts.join("::"), path);
        }
    }
    found
}

/// The identifier paths that start at `text`: `a::b::C` is one, `a::{b, c::D}` is `a::b` and `a::c::D`.
fn paths_at(text: &str) -> Vec<Vec<&str>> {
    let end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(text.len());
    let head: Vec<&str> = text[..end].split("::").filter(|s| !s.is_empty()).collect();
    if !text[end..].starts_with('{') {
        return vec![head];
    }
    let (mut depth, mut start, mut out) = (0, end + 1, Vec::new());
    for (i, c) in text.char_indices().skip(end) {
        match c {
            '{' => depth += 1,
            '}' | ',' if depth == 1 => {
                for tail in paths_at(text[start..i].trim()) {
                    out.push(head.iter().copied().chain(tail).collect());
                }
                start = i + 1;
                if c == '}' {
                    break;
                }
            }
            '}' => depth -= 1,
            _ => {}
        }
    }
    out
}

/// The modules `module`'s source (comments left out) refers to through `crate::`, `super::`, `self::` or a `use` of
/// a child module, each resolved to the longest known module prefix; a root re-export (`crate::Document`) resolves
/// through `lib.rs`'s `pub use`.
fn edges(
    module: &str,
    source: &str,
    known: &BTreeSet<Module>,
    reexports: &BTreeMap<String, Module>,
) -> BTreeSet<Module> {
    let own: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
    let parent = &own[..own.len().saturating_sub(1)];
    // This module's children, reachable by a bare path (`events::publish(..)` in `reconcile/mod.rs`).
    let children: Vec<&str> = known
        .iter()
        .filter_map(|m| match module {
            "" => Some(m.as_str()),
            _ => m.strip_prefix(module)?.strip_prefix("::"),
        })
        .filter(|c| !c.is_empty() && !c.contains("::"))
        .collect();
    let mut out = BTreeSet::new();
    for line in source.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for child in &children {
            let bare = line.match_indices(&format!("{child}::")).any(|(at, _)| {
                !line[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
            });
            if bare {
                out.insert(if module.is_empty() {
                    child.to_string()
                } else {
                    format!("{module}::{child}")
                });
            }
        }
        for (anchor, base) in [
            ("crate::", &[][..]),
            ("super::", parent),
            ("self::", &own[..]),
            ("use ", &own[..]),
        ] {
            for (at, _) in line.match_indices(anchor) {
                let rest = &line[at + anchor.len()..];
                let skip = if anchor == "use " {
                    // Only a child module (`use error::Error;` in `reconcile/mod.rs`); the other anchors see the rest.
                    ["crate::", "super::", "self::"]
                        .iter()
                        .any(|a| rest.starts_with(a))
                } else {
                    // Part of a longer path, or `super::*` (a `mod tests` importing its own module).
                    line[..at].ends_with("::") || rest.starts_with('*')
                };
                if skip {
                    continue;
                }
                for tail in paths_at(rest) {
                    let path: Vec<&str> =
                        base.iter().copied().chain(tail.iter().copied()).collect();
                    let target = (1..=path.len())
                        .rev()
                        .map(|n| path[..n].join("::"))
                        .find(|m| known.contains(m))
                        .or_else(|| {
                            (anchor == "crate::")
                                .then(|| {
                                    tail.first()
                                        .and_then(|first| reexports.get(*first).cloned())
                                })
                                .flatten()
                        });
                    if let Some(target) = target
                        && target != module
                        && (anchor != "use " || target.starts_with(&format!("{module}::")))
                    {
                        out.insert(target);
                    }
                }
            }
        }
    }
    out
}

/// The cycles in `graph`, each as the modules along it.
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    fn visit(
        m: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        stack: &mut Vec<Module>,
        done: &mut BTreeSet<Module>,
        found: &mut Vec<Vec<Module>>,
    ) {
        if let Some(at) = stack.iter().position(|s| s == m) {
            found.push(stack[at..].to_vec());
            return;
        }
        if !done.insert(m.clone()) {
            return;
        }
        stack.push(m.clone());
        for next in graph.get(m).into_iter().flatten() {
            visit(next, graph, stack, done, found);
        }
        stack.pop();
    }
    let mut found = Vec::new();
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        visit(m, graph, &mut Vec::new(), &mut done, &mut found);
    }
    found
}

/// The import graph of the crate whose sources are in `src`: each module and the modules it imports.
fn graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let files = modules(src);
    let known: BTreeSet<Module> = files.keys().cloned().collect();
    let read = |path: &Path| {
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    };
    // `pub use document::{Document, ...};` in lib.rs: the names the root re-exports, and from where.
    let mut reexports = BTreeMap::new();
    for line in read(&files[""]).lines() {
        let Some(rest) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        let Some((module, names)) = rest.split_once("::") else {
            continue;
        };
        for name in names.trim_matches(|c| "{};".contains(c)).split(',') {
            reexports.insert(name.trim().to_string(), module.to_string());
        }
    }
    files
        .iter()
        .filter(|(m, _)| !m.is_empty())
        .map(|(m, path)| (m.clone(), edges(m, &read(path), &known, &reexports)))
        .collect()
}

/// Prints the graph and panics, naming them, when it has cycles.
fn assert_acyclic(graph: &BTreeMap<Module, BTreeSet<Module>>) {
    for (m, to) in graph {
        println!(
            "{m} -> {}",
            to.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let found = cycles(graph);
    assert!(
        found.is_empty(),
        "import cycles between modules (each imports the next, the last the first): {found:?}"
    );
}

/// Panics, naming the cycle, when two modules of the crate whose sources are in `src` import each other
/// (directly or through others), a module and its own submodules included; prints the graph (`module -> modules
/// it imports`) either way.
pub fn assert_one_way(src: &Path) {
    assert_acyclic(&graph(src));
}

/// Panics, naming the cycle, when two top-level modules of the crate whose sources are in `src` import each other
/// (directly or through others): each module stands for itself and its submodules, so a module's facade
/// (`x/mod.rs`) and its parts may refer to each other, but `x` and `y` may not.
pub fn assert_top_level_one_way(src: &Path) {
    let top = |m: &str| m.split("::").next().unwrap_or(m).to_string();
    let mut collapsed: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (m, to) in graph(src) {
        let from = top(&m);
        let entry = collapsed.entry(from.clone()).or_default();
        entry.extend(to.iter().map(|t| top(t)).filter(|t| *t != from));
    }
    assert_acyclic(&collapsed);
}
