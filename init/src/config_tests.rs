use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/etc/exosphere/init.toml"))
}

/// The error's text, which must name the file.
fn error(text: &str) -> String {
    let e = parse(text).expect_err("accepted bad input").to_string();
    assert!(e.starts_with("/etc/exosphere/init.toml:"), "{e}");
    e
}

const SHIPPED: &str = r#"
[shutdown]
grace = 3

[[service]]
name = "udevd"
exec = ["/usr/lib/systemd/systemd-udevd"]
ready = [
  ["/usr/bin/udevadm", "trigger", "--type=subsystems", "--action=add"],
  ["/usr/bin/udevadm", "trigger", "--type=devices", "--action=add"],
  ["/usr/bin/udevadm", "settle", "--timeout=30"],
]

[[service]]
name = "nexquelium"
exec = ["/usr/bin/nexquelium", "--backend", "drm"]
after = ["udevd"]
restart = "always"
env = { XDG_RUNTIME_DIR = "/run/exosphere", EXO_INIT = "1" }
"#;

#[test]
fn parses_the_shipped_shape() {
    let config = parse(SHIPPED).unwrap();
    assert_eq!(config.shutdown.grace, Duration::from_secs(3));
    assert_eq!(config.restart, BackoffConfig::default());
    let [udevd, nexq] = &config.services[..] else {
        panic!("{:?}", config.services)
    };
    assert_eq!(udevd.name, "udevd");
    assert_eq!(udevd.ready.len(), 3);
    assert_eq!(udevd.ready[2], ["/usr/bin/udevadm", "settle", "--timeout=30"]);
    assert_eq!(udevd.restart, Restart::Always);
    assert_eq!(nexq.after, ["udevd"]);
    assert_eq!(nexq.exec, ["/usr/bin/nexquelium", "--backend", "drm"]);
    assert_eq!(nexq.env["XDG_RUNTIME_DIR"], "/run/exosphere");
}

#[test]
fn empty_file_has_no_services_and_defaults() {
    let config = parse("").unwrap();
    assert!(config.services.is_empty());
    assert_eq!(config, Config::default());
    assert_eq!(config.restart.initial_delay, Duration::from_millis(500));
    assert_eq!(config.restart.max_delay, Duration::from_secs(30));
}

#[test]
fn restart_table_and_fractional_seconds() {
    let config = parse(
        "[restart]\ninitial_delay = 0.1\nmax_delay = 2\nreset_after = 5\nmax_failures = 3\nfailure_window = 10.5\n\
         [shutdown]\ngrace = 0.25\n",
    )
    .unwrap();
    assert_eq!(config.restart.initial_delay, Duration::from_millis(100));
    assert_eq!(config.restart.max_delay, Duration::from_secs(2));
    assert_eq!(config.restart.reset_after, Duration::from_secs(5));
    assert_eq!(config.restart.max_failures, 3);
    assert_eq!(config.restart.failure_window, Duration::from_millis(10_500));
    assert_eq!(config.shutdown.grace, Duration::from_millis(250));
}

#[test]
fn services_are_ordered_by_after() {
    let config = parse(
        r#"
[[service]]
name = "c"
exec = ["c"]
after = ["b"]
[[service]]
name = "a"
exec = ["a"]
[[service]]
name = "b"
exec = ["b"]
after = ["a"]
"#,
    )
    .unwrap();
    let names: Vec<_> = config.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
}

#[test]
fn bad_restart_value_names_the_field_and_line() {
    let e = error("[[service]]\nname = \"x\"\nexec = [\"x\"]\nrestart = \"sometimes\"\n");
    assert_eq!(
        e,
        "/etc/exosphere/init.toml:4:11: service[0].restart: expected one of \"always\", \"on-failure\", \"never\", found \"sometimes\""
    );
}

#[test]
fn missing_exec_is_named() {
    let e = error("[[service]]\nname = \"x\"\n");
    assert!(e.contains("service[0].exec: missing"), "{e}");
}

#[test]
fn missing_name_is_named() {
    let e = error("[[service]]\nname = \"a\"\nexec = [\"a\"]\n[[service]]\nexec = [\"b\"]\n");
    assert!(e.contains(":5:1: service[1].name: missing"), "{e}");
}

#[test]
fn exec_must_be_a_non_empty_argv() {
    assert!(error("[[service]]\nname = \"x\"\nexec = \"x\"\n")
        .contains("service[0].exec: expected a non-empty array"));
    assert!(error("[[service]]\nname = \"x\"\nexec = []\n").contains("found an empty array"));
    let e = error("[[service]]\nname = \"x\"\nexec = [\"x\", 3]\n");
    assert!(
        e.contains(":3:14: service[0].exec[1]: expected a string, found an integer"),
        "{e}"
    );
}

#[test]
fn bad_ready_command_is_named_with_its_index() {
    let e = error("[[service]]\nname = \"x\"\nexec = [\"x\"]\nready = [[\"a\"], []]\n");
    assert!(
        e.contains("service[0].ready[1]: expected a non-empty array"),
        "{e}"
    );
    assert!(e.contains(":4:17:"), "{e}");
}

#[test]
fn unknown_keys_and_sections_are_refused() {
    let e = error("[[service]]\nname = \"x\"\nexec = [\"x\"]\nrestrat = \"never\"\n");
    assert!(e.contains(":4:1: service[0].restrat: unknown key"), "{e}");
    let e = error("[services]\n");
    assert!(e.contains(":1:2: services: unknown section"), "{e}");
    let e = error("[shutdown]\ngrace_period = 1\n");
    assert!(
        e.contains("shutdown.grace_period: unknown key (expected grace)"),
        "{e}"
    );
}

#[test]
fn bad_durations_are_refused() {
    assert!(error("[shutdown]\ngrace = -1\n").contains("shutdown.grace: expected a number of seconds"));
    assert!(error("[shutdown]\ngrace = \"3s\"\n").contains("found a string"));
    assert!(error("[restart]\ninitial_delay = 0\n")
        .contains("restart.initial_delay: expected a number of seconds greater than 0"));
    assert!(error("[restart]\ninitial_delay = 5\nmax_delay = 1\n")
        .contains("restart.max_delay: max_delay (1 s) is shorter"));
    assert!(error("[restart]\nmax_failures = 0\n")
        .contains("restart.max_failures: expected an integer from 1 to 1000, found 0"));
}

#[test]
fn names_must_be_valid_and_unique() {
    let e = error("[[service]]\nname = \"Bad Name\"\nexec = [\"x\"]\n");
    assert!(e.contains(":2:8: service[0].name: expected a name"), "{e}");
    let e = error("[[service]]\nname = \"a\"\nexec = [\"x\"]\n[[service]]\nname = \"a\"\nexec = [\"y\"]\n");
    assert!(
        e.contains(":5:8: service[1].name: the name \"a\" is already used by service[0]"),
        "{e}"
    );
}

#[test]
fn after_must_name_existing_services_without_cycles() {
    let e = error("[[service]]\nname = \"a\"\nexec = [\"x\"]\nafter = [\"nope\"]\n");
    assert!(
        e.contains(":4:10: service[0].after[0]: no service is named \"nope\""),
        "{e}"
    );
    let e = error("[[service]]\nname = \"a\"\nexec = [\"x\"]\nafter = [\"a\"]\n");
    assert!(e.contains("cannot come after itself"), "{e}");
    let e = error(
        "[[service]]\nname = \"a\"\nexec = [\"x\"]\nafter = [\"b\"]\n[[service]]\nname = \"b\"\nexec = [\"x\"]\nafter = [\"a\"]\n",
    );
    assert!(e.contains("service[0].after: \"a\" is part of a cycle"), "{e}");
}

#[test]
fn env_must_be_strings_with_valid_names() {
    let e = error("[[service]]\nname = \"a\"\nexec = [\"x\"]\nenv = { PATH = 1 }\n");
    assert!(
        e.contains("service[0].env.PATH: expected a string, found an integer"),
        "{e}"
    );
    let e = error("[[service]]\nname = \"a\"\nexec = [\"x\"]\nenv = { \"1X\" = \"y\" }\n");
    assert!(e.contains("service[0].env.1X: expected a variable name"), "{e}");
}

#[test]
fn syntax_errors_name_line_and_column() {
    let e = error("[[service]]\nname = \"a\nexec = [\"x\"]\n");
    assert!(e.starts_with("/etc/exosphere/init.toml:2:"), "{e}");
}

#[test]
fn load_of_a_missing_file_is_none() {
    assert_eq!(
        Config::load(Path::new("/nonexistent/exo-init/init.toml")),
        Ok(None)
    );
}
