//! The rooms of the code, checked rather than only written: the charter in `src/lib.rs` says
//! who may import whom, and every file's `crate::`/`super::` paths are read against it; and
//! no two modules import each other, directly or round a circle (a module and its parent
//! module, the room's shared vocabulary, aside). Each check is shown to fail on a breach.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What a room may import.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Allowed {
    Everything,
    Only(BTreeSet<String>),
}

/// The charter: `//! - `a`, `b`: may import `x`, `y`; prose` (no "may import": nothing of
/// ours; "may import everything").
fn charter(lib_rs: &str) -> BTreeMap<String, Allowed> {
    let ticked = |s: &str| -> Vec<String> {
        s.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    };
    let mut rules = BTreeMap::new();
    for line in lib_rs.lines() {
        let Some(rule) = line.trim().strip_prefix("//! - `") else {
            continue;
        };
        let Some((rooms, rest)) = rule.split_once(':') else {
            continue;
        };
        let allowed = match rest.split_once("may import") {
            Some((_, list)) if list.trim_start().starts_with("everything") => Allowed::Everything,
            Some((_, list)) => {
                let list = list.split([';', '.']).next().unwrap_or_default();
                Allowed::Only(ticked(list).into_iter().collect())
            }
            None => Allowed::Only(BTreeSet::new()),
        };
        for room in ticked(&format!("`{rooms}")) {
            rules.insert(room, allowed.clone());
        }
    }
    rules
}

/// A file's module path: `src/plan/deploy/mod.rs` is `plan::deploy`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix("src").unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().to_string())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// `a::{b, c::{d, e}}` as its paths.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.to_string()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let (mut depth, mut start, mut out) = (0, 0, Vec::new());
    for (i, ch) in inner.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.extend(
                    expand(&inner[start..i])
                        .into_iter()
                        .map(|p| format!("{prefix}{p}")),
                );
                start = i + 1;
            }
            _ => {}
        }
    }
    out.extend(
        expand(&inner[start..])
            .into_iter()
            .map(|p| format!("{prefix}{p}")),
    );
    out.retain(|p| !p.ends_with("::") && !p.trim().is_empty());
    out
}

/// The code of a file without its comments, its string literals' contents and its test
/// module (`mod tests;`, or an inline `mod tests { ... }`: only that block; whatever follows
/// it is read).
fn code(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect();
    let text = without_strings(&lines.join("\n"));
    let Some(at) = text.find("#[cfg(test)]\nmod tests") else {
        return text;
    };
    let rest = &text[at..];
    let end = match (rest.find(';'), rest.find('{')) {
        (Some(semi), Some(open)) if semi < open => at + semi + 1,
        (_, Some(open)) => {
            let mut depth = 0;
            let close = rest[open..].char_indices().find_map(|(i, ch)| {
                match ch {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                (depth == 0).then_some(open + i + 1)
            });
            at + close.unwrap_or(rest.len())
        }
        _ => text.len(),
    };
    format!("{}{}", &text[..at], &text[end..])
}

/// `text` with every string literal emptied (`"..."` becomes `""`), so that no word in a
/// message reads as code; a `'"'` character stays a character.
fn without_strings(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(ch) = chars.next() {
        match (in_string, ch) {
            (true, '\\') => {
                chars.next();
            }
            (true, '"') => {
                in_string = false;
                out.push('"');
            }
            (true, _) => {}
            (false, '\'') if chars.peek() == Some(&'"') => {
                out.push('\'');
                out.push(chars.next().unwrap_or('"'));
            }
            (false, '"') => {
                in_string = true;
                out.push('"');
            }
            (false, _) => out.push(ch),
        }
    }
    out
}

/// Every module of ours that `text` (the file of module `me`) names, as written: paths from
/// `use` trees and `crate::`/`super::` paths in the code.
fn named(text: &str, me: &[String]) -> BTreeSet<Vec<String>> {
    let code = code(text);
    let mut paths: Vec<String> = Vec::new();
    for stmt in code.split(';') {
        if let Some(tree) = stmt.trim().trim_start_matches("pub ").strip_prefix("use ") {
            let tree: String = tree.split_whitespace().collect();
            paths.extend(expand(&tree));
        }
    }
    let bytes = code.as_bytes();
    for head in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = code[from..].find(head) {
            let at = from + i;
            from = at + head.len();
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
                continue;
            }
            let end = code[at..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .map(|e| at + e)
                .unwrap_or(code.len());
            paths.push(code[at..end].to_string());
        }
    }
    paths
        .iter()
        .filter_map(|p| {
            let mut parts = p.split("::").filter(|s| !s.is_empty());
            let mut base: Vec<String> = match parts.next()? {
                "crate" => Vec::new(),
                "super" => me[..me.len().saturating_sub(1)].to_vec(),
                "self" => me.to_vec(),
                _ => return None,
            };
            for part in parts {
                if part == "super" {
                    base.pop();
                } else {
                    base.push(part.to_string());
                }
            }
            Some(base)
        })
        .collect()
}

/// The source files, by module path.
fn sources() -> BTreeMap<Vec<String>, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    walk(&root.join("src"), &mut files);
    files
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n != "tests.rs"))
        .map(|f| {
            let rel = f.strip_prefix(&root).unwrap().to_path_buf();
            (module_of(&rel), std::fs::read_to_string(&f).unwrap())
        })
        .collect()
}

/// Module → the modules of ours it imports (each path cut to the longest module there is).
fn graph(files: &BTreeMap<Vec<String>, String>) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    files
        .iter()
        .map(|(me, text)| {
            let targets = named(text, me)
                .into_iter()
                .filter_map(|mut p| {
                    while !p.is_empty() && !files.contains_key(&p) {
                        p.pop();
                    }
                    (!p.is_empty() && p != *me).then_some(p)
                })
                .collect();
            (me.clone(), targets)
        })
        .collect()
}

/// Each import of a room the charter does not allow it.
fn breaches(
    rules: &BTreeMap<String, Allowed>,
    graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (me, targets) in graph {
        let Some(room) = me.first() else { continue };
        let allowed = rules.get(room);
        for t in targets {
            let other = &t[0];
            let ok = other == room
                || match allowed {
                    Some(Allowed::Everything) => true,
                    Some(Allowed::Only(set)) => set.contains(other),
                    None => false,
                };
            if !ok {
                out.push(format!("{} imports {}", me.join("::"), t.join("::")));
            }
        }
    }
    out
}

/// The circles among modules, at every depth: a module's children count as the module
/// (so `deploy::storage` naming `verify`, which names `deploy`, is a circle between `deploy`
/// and `verify`); an edge between a module and its ancestor is left out.
fn circles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<String>> {
    let deepest = graph.keys().map(Vec::len).max().unwrap_or(0);
    let mut found: Vec<Vec<String>> = Vec::new();
    for depth in 1..=deepest {
        let cut = |m: &Vec<String>| m[..m.len().min(depth)].to_vec();
        let mut collapsed: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
        for (from, targets) in graph {
            let entry = collapsed.entry(cut(from)).or_default();
            entry.extend(targets.iter().map(cut).filter(|t| *t != cut(from)));
        }
        for c in circles_at(&collapsed) {
            if !found.contains(&c) {
                found.push(c);
            }
        }
    }
    found
}

/// The circles of one graph (an edge between a module and its ancestor left out).
fn circles_at(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<String>> {
    let related = |a: &Vec<String>, b: &Vec<String>| a.starts_with(b) || b.starts_with(a);
    let edges = |v: &Vec<String>| -> Vec<Vec<String>> {
        graph
            .get(v)
            .into_iter()
            .flatten()
            .filter(|t| !related(v, t))
            .cloned()
            .collect()
    };
    let mut found = Vec::new();
    for start in graph.keys() {
        // A path back to `start` through modules after it (each circle found once).
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((v, path)) = stack.pop() {
            for w in edges(&v) {
                if w == *start {
                    found.push(path.iter().map(|p| p.join("::")).collect());
                } else if w > *start && seen.insert(w.clone()) {
                    let mut next = path.clone();
                    next.push(w.clone());
                    stack.push((w, next));
                }
            }
        }
    }
    found
}

#[test]
fn every_room_imports_only_what_the_charter_allows() {
    let files = sources();
    let rules = charter(&files[&Vec::<String>::new()]);
    for room in ["template", "plan", "aws", "ui", "commands", "cli", "config"] {
        assert!(
            rules.contains_key(room),
            "the charter names no rule for {room}: {rules:?}"
        );
    }
    let g = graph(&files);
    let found = breaches(&rules, &g);
    assert!(
        found.is_empty(),
        "imports the charter in src/lib.rs does not allow:\n{}",
        found.join("\n")
    );
    // The check catches a breach: the template room reaching into plan.
    let mut broken = files.clone();
    broken
        .get_mut(&vec!["template".to_string()])
        .unwrap()
        .insert_str(0, "use crate::plan::{Step, observe::Fact};\n");
    let found = breaches(&rules, &graph(&broken));
    assert!(
        found.iter().any(|b| b == "template imports plan::observe"),
        "{found:?}"
    );
}

#[test]
fn no_module_imports_another_that_imports_it_back() {
    let files = sources();
    let g = graph(&files);
    let found = circles(&g);
    assert!(found.is_empty(), "import circles: {found:?}");
    // The check catches one: observe naming verify, which names observe.
    let mut broken = files.clone();
    broken
        .get_mut(&vec!["plan".to_string(), "observe".to_string()])
        .unwrap()
        .insert_str(0, "fn x() { let _ = super::verify::check; }\n");
    assert!(!circles(&graph(&broken)).is_empty());
    // And one through a child: deploy's storage naming verify, which names deploy.
    let mut broken = files.clone();
    let storage = vec!["plan".into(), "deploy".into(), "storage".into()];
    broken
        .get_mut(&storage)
        .unwrap()
        .insert_str(0, "use crate::plan::verify::check;\n");
    let found = circles(&graph(&broken));
    assert!(
        found
            .iter()
            .any(|c| c.contains(&"plan::deploy".to_string())),
        "{found:?}"
    );
}

#[test]
fn only_the_test_module_and_the_strings_are_left_unread() {
    let text = "use crate::a::X;\n#[cfg(test)]\nmod tests {\n    use crate::b::Y;\n    fn f() { if x { } }\n}\n\nfn g() { let m = \"; use crate::c::Z\"; crate::d::w(); }\n";
    let me = vec!["plan".to_string()];
    let n = named(text, &me);
    assert!(n.contains(&vec!["a".into(), "X".into()]), "{n:?}");
    assert!(
        n.contains(&vec!["d".into(), "w".into()]),
        "what follows the tests is read: {n:?}"
    );
    assert!(!n.iter().any(|p| p[0] == "b" || p[0] == "c"), "{n:?}");
}

#[test]
fn use_trees_are_read_whole() {
    assert_eq!(
        expand("super::{cloud::X,observe::{Fact,ReadError},Watch}"),
        [
            "super::cloud::X",
            "super::observe::Fact",
            "super::observe::ReadError",
            "super::Watch"
        ]
    );
    let me = vec![
        "plan".to_string(),
        "deploy".to_string(),
        "params".to_string(),
    ];
    let n = named(
        "use super::{Ctx, al2_warning};\nuse crate::input::Input;\nfn f() { crate::plan::observe::x(); }\n",
        &me,
    );
    assert!(n.contains(&vec!["plan".into(), "deploy".into(), "Ctx".into()]));
    assert!(n.contains(&vec!["input".into(), "Input".into()]));
    assert!(n.contains(&vec!["plan".into(), "observe".into(), "x".into()]));
}
