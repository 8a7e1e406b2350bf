//! Tests for `config`: defaults, merging, and located error messages.

use super::*;
use crate::keys::Modifiers;

const PATH: &str = "/home/u/.config/nexquelium/config.toml";

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new(PATH))
}

/// The error message, checked to start with the file name and line.
fn error_at(text: &str, line: usize) -> String {
    let err = parse(text).expect_err("config should be rejected").to_string();
    let prefix = format!("{PATH}:{line}:");
    assert!(err.starts_with(&prefix), "{err:?} should start with {prefix:?}");
    err
}

fn logo() -> Modifiers {
    Modifiers {
        logo: true,
        ..Modifiers::default()
    }
}

#[test]
fn default_config_parses_and_has_documented_values() {
    let config =
        Config::parse(DEFAULT_CONFIG, Path::new("assets/config.toml")).expect("default config parses");
    assert_eq!(config, Config::default());
    let k = &config.keyboard;
    assert_eq!(
        (k.layout.as_str(), k.variant.as_str(), k.options.as_str()),
        ("us", "", "")
    );
    assert_eq!((k.repeat_delay, k.repeat_rate), (600, 25));
    let a = &config.appearance;
    assert_eq!(a.background, Color::new(0x1d, 0x2b, 0x3a));
    assert_eq!(a.focused_border.to_string(), "#4a90d9");
    assert_eq!(a.unfocused_border.to_string(), "#555555");
    assert_eq!((a.border_width, a.title_height), (2, 24));
    assert_eq!(config.layout.placement, crate::layout::Placement::Cascade);
    let b = &config.bindings;
    assert_eq!(b.len(), 3 + 9 + 9 + 1 + 5 + 5);
    assert_eq!(b.lookup(logo(), "o"), Some(&Action::MoveToNextOutput));
    assert_eq!(b.lookup(logo(), "x"), Some(&Action::XRay));
    assert_eq!(b.lookup(logo(), "d"), Some(&Action::DashboardToggle));
    assert_eq!(b.lookup(logo(), "space"), Some(&Action::LauncherToggle));
    assert_eq!(config.sentry.log, None);
    assert_eq!(config.sentry.log_max_kib, crate::sentry::log::DEFAULT_LOG_MAX_KIB);
    let logo_shift = Modifiers {
        shift: true,
        ..logo()
    };
    assert_eq!(b.lookup(logo_shift, "c"), Some(&Action::ClipboardCopy));
    assert_eq!(b.lookup(logo_shift, "v"), Some(&Action::ClipboardPaste));
    assert_eq!(
        config.limits,
        Limits {
            windows: 32,
            surface_size: 8192,
            shm_mib: 512,
            clipboard_kib: 1024
        }
    );
    assert_eq!(config.limits.shm_bytes(), 512 << 20);
    assert_eq!(config.limits.clipboard_bytes(), 1 << 20);
    assert_eq!(b.lookup(logo(), "q"), Some(&Action::Close));
    assert_eq!(
        b.lookup(
            Modifiers {
                alt: true,
                ..Modifiers::default()
            },
            "Tab"
        ),
        Some(&Action::FocusNext)
    );
    assert_eq!(
        b.lookup(
            Modifiers {
                shift: true,
                ..logo()
            },
            "9"
        ),
        Some(&Action::MoveToWorkspace(9))
    );
    assert_eq!(b.lookup(logo(), "7"), Some(&Action::Workspace(7)));
    assert_eq!(
        b.lookup(logo(), "Return"),
        Some(&Action::StartCapsule("terminal".into()))
    );
    assert_eq!(
        b.lookup(
            Modifiers {
                shift: true,
                ..logo()
            },
            "e"
        ),
        Some(&Action::Quit)
    );
}

#[test]
fn user_file_merges_over_defaults() {
    let config = parse("[keyboard]\nlayout = \"de\"\n").expect("valid");
    assert_eq!(config.keyboard.layout, "de");
    assert_eq!(config.keyboard.repeat_rate, 25);
    assert_eq!(config.appearance, Config::default().appearance);
    assert_eq!(config.bindings, Config::default().bindings);
}

#[test]
fn bindings_are_added_replaced_and_unbound() {
    let text = r#"
[bindings]
"super+q" = "none"
"super+return" = "spawn alacritty -e fish"
"ctrl+alt+t" = "spawn foot"
"#;
    let config = parse(text).expect("valid");
    let b = &config.bindings;
    assert_eq!(b.lookup(logo(), "q"), None);
    let argv = ["alacritty", "-e", "fish"].map(String::from).to_vec();
    assert_eq!(b.lookup(logo(), "return"), Some(&Action::Spawn(argv)));
    assert_eq!(
        b.lookup(
            Modifiers {
                ctrl: true,
                alt: true,
                ..Modifiers::default()
            },
            "t"
        ),
        Some(&Action::Spawn(vec!["foot".into()]))
    );
    assert_eq!(b.len(), Config::default().bindings.len());
}

#[test]
fn inline_and_dotted_tables_work() {
    let config = parse("keyboard = { layout = \"fr\" }\nappearance.border_width = 5\n").expect("valid");
    assert_eq!(config.keyboard.layout, "fr");
    assert_eq!(config.appearance.border_width, 5);
}

#[test]
fn type_error_names_file_line_column_and_key() {
    let err = error_at("[keyboard]\nlayout = \"us\"\nrepeat_rate = \"fast\"\n", 3);
    assert_eq!(
        err,
        format!("{PATH}:3:15: keyboard.repeat_rate: expected an integer, found a string")
    );
}

#[test]
fn out_of_range_integer() {
    let err = error_at("[keyboard]\nrepeat_delay = -5\n", 2);
    assert!(
        err.ends_with("keyboard.repeat_delay: expected an integer from 0 to 10000, found -5"),
        "{err}"
    );
    let err = error_at("[appearance]\n\nborder_width = 1000\n", 3);
    assert!(
        err.contains("appearance.border_width: expected an integer from 0 to 64"),
        "{err}"
    );
}

#[test]
fn unknown_keys_are_errors() {
    let err = error_at("[keyboard]\nlayuot = \"de\"\n", 2);
    assert!(
        err.contains(":2:1: keyboard.layuot: unknown key (expected one of layout,"),
        "{err}"
    );
    let err = error_at("\n[mouse]\nspeed = 1\n", 2);
    assert!(err.contains(":2:2: mouse: unknown section"), "{err}");
    let err = error_at("[appearance.extra]\nx = 1\n", 1);
    assert!(err.contains("appearance.extra: unknown key"), "{err}");
}

#[test]
fn layout_placement_is_parsed_and_checked() {
    let config = parse("[layout]\nplacement = \"centre\"\n").expect("valid placement");
    assert_eq!(config.layout.placement, crate::layout::Placement::Centre);
    let err = error_at("[layout]\n\nplacement = \"tiled\"\n", 3);
    assert!(
        err.ends_with(
            ":3:13: layout.placement: unknown placement \"tiled\" (expected \"cascade\" or \"centre\")"
        ),
        "{err}"
    );
    let err = error_at("[layout]\nplacement = 1\n", 2);
    assert!(
        err.contains("layout.placement: expected a string, found an integer"),
        "{err}"
    );
    let err = error_at("[layout]\ngaps = 4\n", 2);
    assert!(
        err.contains("layout.gaps: unknown key (expected one of placement)"),
        "{err}"
    );
}

#[test]
fn limits_merge_and_are_range_checked() {
    let config = parse("[limits]\nwindows = 4\nclipboard_kib = 64\n").expect("valid limits");
    assert_eq!((config.limits.windows, config.limits.clipboard_kib), (4, 64));
    assert_eq!(config.limits.shm_mib, 512, "unset keys keep their default");
    let err = error_at("[limits]\nwindows = 0\n", 2);
    assert!(
        err.contains("limits.windows: expected an integer from 1 to 4096, found 0"),
        "{err}"
    );
    let err = error_at("[limits]\n\nsurface_size = \"big\"\n", 3);
    assert!(
        err.contains("limits.surface_size: expected an integer, found a string"),
        "{err}"
    );
    let err = error_at("[limits]\nshm = 5\n", 2);
    assert!(
        err.contains(
            "limits.shm: unknown key (expected one of windows, surface_size, shm_mib, clipboard_kib)"
        ),
        "{err}"
    );
}

#[test]
fn section_must_be_a_table() {
    let err = error_at("keyboard = 5\n", 1);
    assert!(
        err.ends_with("keyboard: expected a table, found an integer"),
        "{err}"
    );
    let err = error_at("[[bindings]]\n", 1);
    assert!(
        err.ends_with("bindings: expected a table, found an array of tables"),
        "{err}"
    );
}

#[test]
fn bad_action_names_the_binding() {
    let text = "[bindings]\n\"super+q\" = \"close\"\n\"super+x\" = \"fly\"\n";
    let err = error_at(text, 3);
    assert!(
        err.contains("bindings.\"super+x\": unknown action \"fly\" (expected close, focus-next, "),
        "{err}"
    );
    let err = error_at("[bindings]\n\"super+1\" = \"workspace 12\"\n", 2);
    assert!(
        err.contains("bindings.\"super+1\": workspace must be a number from 1 to 9, found \"12\""),
        "{err}"
    );
    let err = error_at("[bindings]\n\"super+1\" = 3\n", 2);
    assert!(
        err.contains("bindings.\"super+1\": expected an action string like \"close\", found an integer"),
        "{err}"
    );
}

#[test]
fn bad_key_combo_names_the_binding() {
    let err = error_at("[bindings]\n\n\"super+blah\" = \"close\"\n", 3);
    assert_eq!(
        err,
        format!("{PATH}:3:1: bindings.\"super+blah\": unknown key \"blah\"")
    );
    let err = error_at("[bindings]\n\"hyper+q\" = \"close\"\n", 2);
    assert!(
        err.contains("bindings.\"hyper+q\": unknown modifier \"hyper\""),
        "{err}"
    );
}

#[test]
fn two_spellings_of_one_combo_are_rejected() {
    let err = error_at("[bindings]\n\"super+q\" = \"close\"\n\"Super+Q\" = \"quit\"\n", 3);
    assert!(
        err.contains("bindings.\"Super+Q\": binds the same keys as \"super+q\""),
        "{err}"
    );
}

#[test]
fn bad_colour_names_the_key_and_value() {
    let err = error_at("[appearance]\nbackground = \"red\"\n", 2);
    assert_eq!(
        err,
        format!("{PATH}:2:14: appearance.background: expected a colour like \"#1d2b3a\", found \"red\"")
    );
    let err = error_at("[appearance]\nfocused_border = 0xff0000\n", 2);
    assert!(
        err.ends_with("appearance.focused_border: expected a colour like \"#1d2b3a\", found an integer"),
        "{err}"
    );
    assert!(error_at("[appearance]\nbackground = \"#12345\"\n", 2).contains("\"#12345\""));
    assert!(error_at("[appearance]\nbackground = \"#12345g\"\n", 2).contains("\"#12345g\""));
}

#[test]
fn string_expected() {
    let err = error_at("[keyboard]\noptions = [\"caps:escape\"]\n", 2);
    assert!(
        err.ends_with("keyboard.options: expected a string, found an array"),
        "{err}"
    );
}

#[test]
fn syntax_errors_name_file_and_position() {
    let err = error_at("[keyboard]\nlayout = \"us\nvariant = \"\"\n", 2);
    assert!(err.starts_with(&format!("{PATH}:2:")), "{err}");
    assert!(!err.contains('\n'), "one line: {err:?}");
    let err = error_at("[keyboard]\nlayout = \"us\"\nlayout = \"de\"\n", 3);
    assert!(err.contains("duplicate key"), "{err}");
    assert!(error_at("[keyboard\n", 1).contains("invalid table header"));
    let err = error_at("[bindings]\nsuper+q = \"close\"\n", 2);
    assert!(
        err.contains("(put keys with '+' in quotes: \"super+q\" = ...)"),
        "{err}"
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let err = error_at("[keyboard]\nlayout = \"ü\"\nrepeat_rate = \"ü\"\n", 3);
    assert!(err.contains(":3:15:"), "{err}");
    assert_eq!(line_col("é\néa", 5), (2, 2));
    assert_eq!(line_col("é\néa", 4), (2, 1), "mid-character offsets step back");
    assert_eq!(line_col("ab", 99), (1, 3));
}

#[test]
fn load_reports_missing_file() {
    let path = Path::new("/nonexistent/nexquelium/config.toml");
    let err = Config::load(path).expect_err("missing file").to_string();
    assert!(
        err.starts_with("cannot read /nonexistent/nexquelium/config.toml: "),
        "{err}"
    );
    let err = Config::load_or_default(Some(path))
        .expect_err("explicit path must exist")
        .to_string();
    assert!(err.contains("/nonexistent/nexquelium/config.toml"), "{err}");
}

#[test]
fn load_reads_a_file() {
    let dir = std::env::temp_dir().join(format!("exo-shell-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("config.toml");
    std::fs::write(
        &path,
        "[appearance]\ntitle_height = 30\nbackground = \"#000000\"\n",
    )
    .expect("write");
    let (config, used) = Config::load_or_default(Some(&path)).expect("loads");
    assert_eq!(used.as_deref(), Some(path.as_path()));
    assert_eq!(config.appearance.title_height, 30);
    std::fs::write(&path, "[appearance]\ntitle_height = true\n").expect("write");
    let err = Config::load(&path).expect_err("bad type").to_string();
    assert!(
        err.starts_with(&format!("{}:2:16: appearance.title_height", path.display())),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn config_path_follows_xdg() {
    let p =
        |xdg: Option<&str>, home: Option<&str>| config_path_from(xdg.map(Into::into), home.map(Into::into));
    assert_eq!(
        p(Some("/x/cfg"), Some("/home/u")),
        Some(PathBuf::from("/x/cfg/nexquelium/config.toml"))
    );
    assert_eq!(
        p(None, Some("/home/u")),
        Some(PathBuf::from("/home/u/.config/nexquelium/config.toml"))
    );
    assert_eq!(
        p(Some("relative"), Some("/home/u")),
        Some(PathBuf::from("/home/u/.config/nexquelium/config.toml"))
    );
    assert_eq!(p(None, None), None);
    assert_eq!(p(Some(""), Some("")), None);
}

#[test]
fn colours() {
    assert_eq!("#FFa000".parse::<Color>(), Ok(Color::new(255, 160, 0)));
    assert_eq!(Color::new(255, 0, 51).to_f32_rgba(), [1.0, 0.0, 0.2, 1.0]);
    assert!("#ff".parse::<Color>().is_err());
    assert!("ff0000".parse::<Color>().is_err());
    assert!("#ff00é0".parse::<Color>().is_err());
}

#[test]
fn host_capabilities_come_from_the_session_section() {
    let path = std::path::Path::new("/t/config.toml");
    assert_eq!(
        crate::Config::default().session.host_capabilities,
        "display.window".parse::<crate::CapabilitySet>().unwrap()
    );
    let c = crate::Config::parse("[session]\nhost_capabilities = \"all\"\n", path).unwrap();
    assert_eq!(c.session.host_capabilities, crate::CapabilitySet::all());
    let err = crate::Config::parse("[session]\nhost_capabilities = \"display.windw\"\n", path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("/t/config.toml:2:"), "{err}");
    assert!(err.contains("session.host_capabilities"), "{err}");
    assert!(err.contains("display.windw"), "{err}");
}

#[test]
fn the_sentry_section_sets_the_event_log() {
    let path = std::path::Path::new("/t/config.toml");
    let c = crate::Config::parse(
        "[sentry]
log = \"/var/log/s.jsonl\"
log_max_kib = 64
",
        path,
    )
    .unwrap();
    assert_eq!(
        c.sentry.log.as_deref(),
        Some(std::path::Path::new("/var/log/s.jsonl"))
    );
    assert_eq!(c.sentry.log_max_bytes(), 64 << 10);
    let c = crate::Config::parse(
        "[sentry]
log = \"\"
",
        path,
    )
    .unwrap();
    assert_eq!(c.sentry.log, None);
    let err = |text: &str| crate::Config::parse(text, path).unwrap_err().to_string();
    let e = err("[sentry]
log = \"logs/s.jsonl\"
");
    assert!(
        e.starts_with("/t/config.toml:2:7: sentry.log: expected an absolute path"),
        "{e}"
    );
    let e = err("[sentry]
log_max_kib = 1
");
    assert!(
        e.starts_with("/t/config.toml:2:15: sentry.log_max_kib: expected an integer from 16"),
        "{e}"
    );
    let e = err("[sentry]
logs = 1
");
    assert!(
        e.contains("sentry.logs: unknown key (expected one of log, log_max_kib)"),
        "{e}"
    );
}
