//! Tests for `manifest`: every key, its default, and located errors.

use super::*;

const PATH: &str = "/etc/exosphere/capsules/term/Capsule.toml";

const MINIMAL: &str = r#"
[capsule]
name = "term"
version = "0.1.0"
exec = ["foot"]
"#;

fn parse(text: &str) -> Result<Manifest, ManifestError> {
    parse_manifest(text, Path::new(PATH), 2)
}

/// The error message for `text`, checked to be located at `line:column`.
fn error_at(text: &str, line: usize, column: usize) -> String {
    let err = parse(text).expect_err("manifest should be rejected").to_string();
    let prefix = format!("{PATH}:{line}:{column}: ");
    assert!(err.starts_with(&prefix), "{err:?} should start with {prefix:?}");
    err[prefix.len()..].to_string()
}

/// `MINIMAL` with `extra` appended.
fn with(extra: &str) -> String {
    format!("{MINIMAL}{extra}")
}

#[test]
fn full_manifest_parses() {
    let text = r##"
[capsule]
name = "term"
version = "0.1.0"
description = "A terminal"
exec = ["foot", "--server"]
autostart = true
restart = "on-failure"
color = "#4a90d9"

[permissions]
required = ["display.window", "net.connect"]

[resources]
memory_max = "512M"
cpu_max = "150%"
pids_max = 256

[env]
TERM = "xterm-256color"
_UNDERSCORE_1 = ""
"##;
    let m = parse(text).unwrap();
    assert_eq!(m.name, "term");
    assert_eq!(m.version, "0.1.0");
    assert_eq!(m.description, "A terminal");
    assert_eq!(m.exec, ["foot", "--server"]);
    assert!(m.autostart);
    assert_eq!(m.restart, RestartPolicy::OnFailure);
    assert_eq!(m.color, Color::new(0x4a, 0x90, 0xd9));
    assert_eq!(m.capabilities.to_string(), "display.window,net.connect");
    assert_eq!(
        m.resources,
        Resources {
            memory_max: Some(512 << 20),
            cpu_max_percent: Some(150),
            pids_max: Some(256),
        }
    );
    assert_eq!(m.env.len(), 2);
    assert_eq!(m.env["TERM"], "xterm-256color");
    assert_eq!(m.path, Path::new(PATH));
}

#[test]
fn minimal_manifest_gets_the_documented_defaults() {
    let m = parse(MINIMAL).unwrap();
    assert_eq!(m.description, "");
    assert!(!m.autostart);
    assert_eq!(m.restart, RestartPolicy::Never);
    assert_eq!(m.color, derived_color("term"));
    assert!(m.capabilities.is_empty(), "deny by default");
    assert_eq!(m.resources, Resources::default());
    assert!(m.env.is_empty());
    assert_eq!(m.sentry, crate::sentry::Thresholds::default());
}

#[test]
fn inline_tables_and_empty_sections_work() {
    let text = "capsule = { name = \"term\", version = \"1\", exec = [\"foot\"] }\n[permissions]\n[resources]\n[env]\n";
    let m = parse(text).unwrap();
    assert_eq!(m.exec, ["foot"]);
    assert!(m.capabilities.is_empty());
}

#[test]
fn unknown_capability_is_located_with_a_suggestion() {
    let text = "[capsule]\nname = \"term\"\nversion = \"0.1.0\"\nexec = [\"foot\"]\n\n[permissions]\nrequired = [\"display.window\",\n            \"display.windw\"]\n";
    let err = parse(text).unwrap_err().to_string();
    let expected = format!(
        "{PATH}:8:13: permissions.required[1]: unknown capability \"display.windw\" (did you mean display.window?); expected one of display.window, display.layer,"
    );
    assert!(err.starts_with(&expected), "{err}");
    assert!(err.ends_with("sentry.control, net.connect"), "{err}");
}

#[test]
fn permission_errors() {
    let msg = error_at(
        &with("[permissions]\nrequired = [\"net.connect\", \"display.window\", \"net.connect\"]\n"),
        7,
        46,
    );
    assert_eq!(
        msg,
        "permissions.required[2]: net.connect is listed twice (first as permissions.required[0])"
    );
    let msg = error_at(&with("[permissions]\nrequired = \"display.window\"\n"), 7, 12);
    assert_eq!(
        msg,
        "permissions.required: expected an array of capability names like [\"display.window\"], found a string"
    );
    let msg = error_at(&with("[permissions]\nrequired = [1]\n"), 7, 13);
    assert_eq!(
        msg,
        "permissions.required[0]: expected a string, found an integer"
    );
    let msg = error_at(&with("[permissions]\noptional = []\n"), 7, 1);
    assert_eq!(msg, "permissions.optional: unknown key (expected required)");
}

#[test]
fn required_keys_are_reported_at_the_capsule_table() {
    let msg = error_at("[capsule]\nversion = \"1\"\nexec = [\"foot\"]\n", 1, 2);
    assert!(
        msg.starts_with("capsule.name: missing; expected a name of 1 to 32"),
        "{msg}"
    );
    let msg = error_at("[capsule]\nname = \"term\"\nexec = [\"foot\"]\n", 1, 2);
    assert_eq!(
        msg,
        "capsule.version: missing; expected a version string like \"0.1.0\""
    );
    let msg = error_at("[capsule]\nname = \"term\"\nversion = \"1\"\n", 1, 2);
    assert!(
        msg.starts_with("capsule.exec: missing; expected a non-empty array"),
        "{msg}"
    );
    let msg = error_at("[permissions]\nrequired = []\n", 1, 1);
    assert_eq!(msg, "capsule: missing the [capsule] table (name, version, exec)");
    let msg = error_at("", 1, 1);
    assert!(msg.starts_with("capsule: missing"), "{msg}");
}

#[test]
fn names_are_checked() {
    for bad in ["", "Term", "te rm", "term_1", "-term", "tèrm", &"a".repeat(33)] {
        let text = format!("[capsule]\nname = \"{bad}\"\nversion = \"1\"\nexec = [\"foot\"]\n");
        let msg = error_at(&text, 2, 8);
        assert!(
            msg.starts_with("capsule.name: expected a name of 1 to 32 characters"),
            "{msg}"
        );
        assert!(msg.ends_with(&format!("found \"{bad}\"")), "{msg}");
    }
    let msg = error_at("[capsule]\nname = 5\n", 2, 8);
    assert!(msg.ends_with("found an integer"), "{msg}");
    let path = format!("/x/{}/Capsule.toml", "a1-".repeat(10) + "zz");
    let text = format!(
        "[capsule]\nname = \"{}zz\"\nversion = \"1\"\nexec = [\"a\"]\n",
        "a1-".repeat(10)
    );
    assert_eq!(parse_manifest(&text, Path::new(&path), 1).unwrap().name.len(), 32);
}

#[test]
fn folder_must_match_the_name() {
    let text = MINIMAL.replace("\"term\"", "\"terminal\"");
    let msg = error_at(&text, 3, 8);
    assert_eq!(
        msg,
        "capsule.name: \"terminal\" does not match its folder \"term\" (the folder must be named after the capsule)"
    );
    // Paths without a folder (built-in or test text) are not checked.
    assert!(parse_manifest(&text, Path::new("Capsule.toml"), 1).is_ok());
}

#[test]
fn capsule_value_errors() {
    let cases = [
        (
            "[capsule]\nname = \"term\"\nversion = \"\"\nexec = [\"foot\"]\n",
            (3, 11),
            "capsule.version: expected a version string like \"0.1.0\", found \"\"",
        ),
        (
            "[capsule]\nname = \"term\"\nversion = \"1\"\nexec = \"foot --server\"\n",
            (4, 8),
            "capsule.exec: expected a non-empty array of strings like [\"foot\", \"--server\"] (the argv; no shell), found a string",
        ),
        (
            "[capsule]\nname = \"term\"\nversion = \"1\"\nexec = []\n",
            (4, 8),
            "capsule.exec: expected a non-empty array of strings like [\"foot\", \"--server\"] (the argv; no shell), found an empty array",
        ),
        (
            "[capsule]\nname = \"term\"\nversion = \"1\"\nexec = [\"foot\", 3]\n",
            (4, 17),
            "capsule.exec[1]: expected a string, found an integer",
        ),
        (
            "[capsule]\nname = \"term\"\nversion = \"1\"\nexec = [\" \", \"x\"]\n",
            (4, 9),
            "capsule.exec[0]: expected a program name or path, found an empty string",
        ),
        (
            "[capsule]\nname = \"term\"\nversion = \"1\"\nexec = [\"a\", \"b\\u0000\"]\n",
            (4, 14),
            "capsule.exec[1]: arguments cannot contain NUL characters",
        ),
    ];
    for (text, (line, column), expected) in cases {
        assert_eq!(error_at(text, line, column), expected, "{text}");
    }
    let msg = error_at(&with("autostart = \"yes\"\n"), 6, 13);
    assert_eq!(msg, "capsule.autostart: expected true or false, found a string");
    let msg = error_at(&with("restart = \"on_failure\"\n"), 6, 11);
    assert_eq!(
        msg,
        "capsule.restart: unknown restart policy \"on_failure\"; expected one of \"never\", \"on-failure\", \"always\""
    );
    let msg = error_at(&with("color = \"blue\"\n"), 6, 9);
    assert_eq!(
        msg,
        "capsule.color: expected a colour like \"#1d2b3a\", found \"blue\""
    );
    let msg = error_at(&with("command = [\"x\"]\n"), 6, 1);
    assert_eq!(
        msg,
        "capsule.command: unknown key (expected one of name, version, description, exec, autostart, restart, color)"
    );
    let msg = error_at(&with("[capsule.extra]\n"), 6, 10);
    assert!(msg.starts_with("capsule.extra: unknown key"), "{msg}");
}

#[test]
fn empty_arguments_after_the_program_are_allowed() {
    let text = MINIMAL.replace("[\"foot\"]", "[\"printf\", \"\"]");
    assert_eq!(parse(&text).unwrap().exec, ["printf", ""]);
}

#[test]
fn restart_policies_parse() {
    for (text, policy) in [
        ("never", RestartPolicy::Never),
        ("on-failure", RestartPolicy::OnFailure),
        ("always", RestartPolicy::Always),
    ] {
        let m = parse(&with(&format!("restart = \"{text}\"\n"))).unwrap();
        assert_eq!(m.restart, policy);
    }
}

#[test]
fn memory_sizes() {
    let size = |v: &str| {
        parse(&with(&format!("[resources]\nmemory_max = {v}\n"))).map(|m| m.resources.memory_max.unwrap())
    };
    assert_eq!(size("\"512M\"").unwrap(), 512 * 1024 * 1024);
    assert_eq!(size("\"64k\"").unwrap(), 64 * 1024);
    assert_eq!(size("\"2G\"").unwrap(), 2 << 30);
    assert_eq!(size("\"4096\"").unwrap(), 4096);
    assert_eq!(size("1048576").unwrap(), 1 << 20);
    for bad in [
        "\"0\"",
        "0",
        "-5",
        "\"\"",
        "\"M\"",
        "\"1.5G\"",
        "\"512MB\"",
        "\"12 M\"",
        "\"1T\"",
        "\"max\"",
        "\"99999999999999999999\"",
        "\"17179869184G\"",
    ] {
        let msg = error_at(&with(&format!("[resources]\nmemory_max = {bad}\n")), 7, 14);
        assert_eq!(
            msg,
            format!(
                "resources.memory_max: expected a size like \"512M\" (bytes, or a number with K, M or G), more than 0, found {bad}"
            ),
            "{bad}"
        );
    }
    let msg = error_at(&with("[resources]\nmemory_max = true\n"), 7, 14);
    assert!(msg.ends_with("found a boolean"), "{msg}");
}

#[test]
fn cpu_percentages_are_bounded_by_the_cpu_count() {
    let text = |v: &str| with(&format!("[resources]\ncpu_max = \"{v}\"\n"));
    let cpu = |v: &str, cpus| parse_manifest(&text(v), Path::new(PATH), cpus);
    assert_eq!(cpu("50%", 1).unwrap().resources.cpu_max_percent, Some(50));
    assert_eq!(cpu("1%", 1).unwrap().resources.cpu_max_percent, Some(1));
    assert_eq!(cpu("400%", 4).unwrap().resources.cpu_max_percent, Some(400));
    assert!(cpu("150%", 1).is_err());
    assert!(cpu("150%", 2).is_ok());
    for bad in ["0%", "201%", "50", "%", "12.5%", "-5%", "50 %"] {
        let msg = error_at(&text(bad), 7, 11);
        assert_eq!(
            msg,
            format!(
                "resources.cpu_max: expected a percentage like \"50%\" from 1% to 200% (100% per CPU; 2 CPUs), found \"{bad}\""
            )
        );
    }
    let msg = error_at(&with("[resources]\ncpu_max = 50\n"), 7, 11);
    assert!(msg.ends_with("found an integer"), "{msg}");
}

#[test]
fn pids_max_is_bounded() {
    let pids = |v: &str| parse(&with(&format!("[resources]\npids_max = {v}\n")));
    assert_eq!(pids("1").unwrap().resources.pids_max, Some(1));
    assert_eq!(pids("4194304").unwrap().resources.pids_max, Some(MAX_PIDS));
    for bad in ["0", "-1", "4194305"] {
        let msg = error_at(&with(&format!("[resources]\npids_max = {bad}\n")), 7, 12);
        assert_eq!(
            msg,
            format!("resources.pids_max: expected an integer from 1 to 4194304, found {bad}")
        );
    }
    assert!(error_at(&with("[resources]\npids_max = \"256\"\n"), 7, 12).ends_with("found a string"));
    let msg = error_at(&with("[resources]\nmemory = \"1G\"\n"), 7, 1);
    assert_eq!(
        msg,
        "resources.memory: unknown key (expected one of memory_max, cpu_max, pids_max)"
    );
}

#[test]
fn env_keys_are_checked_and_reserved_ones_refused() {
    for reserved in RESERVED_ENV {
        let msg = error_at(&with(&format!("[env]\n{reserved} = \"x\"\n")), 7, 1);
        assert_eq!(
            msg,
            format!("env.{reserved}: {reserved} is set by the supervisor and cannot be set in a manifest")
        );
    }
    for bad in ["lower", "1ABC", "\"A-B\"", "\"\"", "\"A B\""] {
        let msg = error_at(&with(&format!("[env]\n{bad} = \"x\"\n")), 7, 1);
        assert!(
            msg.ends_with("expected a variable name of A-Z, 0-9 and '_', not starting with a digit"),
            "{msg}"
        );
    }
    let msg = error_at(&with("[env]\nTERM = 1\n"), 7, 8);
    assert_eq!(msg, "env.TERM: expected a string, found an integer");
    let msg = error_at(&with("[env]\nTERM = \"a\\u0000\"\n"), 7, 8);
    assert_eq!(msg, "env.TERM: values cannot contain NUL characters");
}

#[test]
fn unknown_sections_and_syntax_errors() {
    let msg = error_at(&with("[permission]\nrequired = []\n"), 6, 2);
    assert_eq!(
        msg,
        "permission: unknown section (expected one of capsule, permissions, resources, env, sentry)"
    );
    let msg = error_at(&with("env = \"X=1\"\n"), 6, 1);
    assert!(msg.starts_with("capsule.env: unknown key"), "{msg}");
    let msg = error_at("env = \"X=1\"\n", 1, 7);
    assert_eq!(msg, "env: expected a table, found a string");
    let err = parse("[capsule]\nname = \"term\nversion = \"1\"\n").unwrap_err();
    assert!(matches!(err, ManifestError::Syntax { line: 2, .. }), "{err:?}");
    assert!(err.to_string().starts_with(&format!("{PATH}:2:")), "{err}");
    assert!(!err.to_string().contains('\n'), "{err}");
    let err = parse(&with("name = \"again\"\n")).unwrap_err();
    assert!(
        matches!(err, ManifestError::Syntax { .. }),
        "duplicate keys: {err:?}"
    );
}

#[test]
fn load_reports_unreadable_files() {
    let missing = Path::new("/nonexistent/exosphere/x/Capsule.toml");
    let err = Manifest::load(missing).unwrap_err();
    assert!(matches!(err, ManifestError::Read { .. }));
    assert_eq!(err.path(), missing);
    assert!(err
        .to_string()
        .starts_with("cannot read /nonexistent/exosphere/x/Capsule.toml: "));
}

#[test]
fn every_shipped_manifest_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/capsules");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("assets/capsules exists") {
        let folder = entry.unwrap().path();
        let path = folder.join(MANIFEST_FILE);
        let m = Manifest::load(&path).unwrap_or_else(|e| panic!("{e}"));
        names.push(m.name.clone());
        if m.name == "hello" {
            assert_eq!(m.exec, ["sh", "-c", "echo 'Hello, Exosphere!'"]);
            assert!(m.autostart);
            assert_eq!(m.restart, RestartPolicy::Never);
            assert!(m.capabilities.is_empty());
        }
        if m.name == "terminal" {
            assert_eq!(m.exec, ["foot"]);
            assert_eq!(m.capabilities, Capability::DisplayWindow.into());
            assert_eq!(m.color.to_string(), "#4a90d9");
            assert!(m.env.contains_key("TERM"));
            let busy = m.sentry.actions.cpu_saturation;
            assert_eq!(busy, crate::sentry::ActionKind::Notify, "a terminal runs builds");
        }
        if m.name == "clock" {
            assert!(!m.autostart);
            assert_eq!(m.capabilities, Capability::DisplayWindow.into());
        }
    }
    names.sort();
    assert_eq!(names, ["clock", "hello", "sentry-dashboard", "terminal"]);
}
