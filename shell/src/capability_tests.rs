//! Tests for `capability`: names, parsing, the set and its serde form.

use proptest::prelude::*;

use super::*;

#[test]
fn names_are_dotted_unique_and_round_trip() {
    let names: Vec<&str> = Capability::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(names[0], "display.window");
    assert_eq!(names[13], "net.connect");
    for (i, name) in names.iter().enumerate() {
        assert_eq!(name.split('.').count(), 2, "{name}");
        assert!(!names[..i].contains(name), "{name} repeated");
        let parsed: Capability = name.parse().unwrap();
        assert_eq!(parsed, Capability::ALL[i]);
        assert_eq!(parsed.to_string(), *name);
    }
}

#[test]
fn unknown_names_suggest_the_closest() {
    let err = "display.windw".parse::<Capability>().unwrap_err();
    assert_eq!(err.suggestion, Some(Capability::DisplayWindow));
    let text = err.to_string();
    assert!(
        text.starts_with(
            "unknown capability \"display.windw\" (did you mean display.window?); expected one of display.window, display.layer,"
        ),
        "{text}"
    );
    assert!(text.ends_with("net.connect"), "{text}");
    let cases = [
        ("Display.Window", Some(Capability::DisplayWindow)),
        ("display_capture", Some(Capability::DisplayCapture)),
        ("net", Some(Capability::NetConnect)),
        ("clipboard", Some(Capability::ClipboardManage)),
        ("io.print", None),
        ("", None),
    ];
    for (name, expected) in cases {
        let err = name.parse::<Capability>().unwrap_err();
        assert_eq!(err.suggestion, expected, "{name}");
        assert_eq!(err.to_string().contains("did you mean"), expected.is_some());
    }
}

#[test]
fn set_operations() {
    let mut set = CapabilitySet::empty();
    assert!(set.is_empty());
    assert_eq!(set.len(), 0);
    assert!(set.insert(Capability::NetConnect));
    assert!(!set.insert(Capability::NetConnect));
    assert!(set.insert(Capability::DisplayWindow));
    assert!(set.contains(Capability::NetConnect));
    assert!(!set.contains(Capability::DisplayLayer));
    assert_eq!(
        set.iter().collect::<Vec<_>>(),
        [Capability::DisplayWindow, Capability::NetConnect]
    );
    assert!(set.remove(Capability::NetConnect));
    assert!(!set.remove(Capability::NetConnect));
    assert_eq!(set, CapabilitySet::from(Capability::DisplayWindow));
    let all = CapabilitySet::all();
    assert_eq!(all.len(), 14);
    assert_eq!(all.iter().collect::<Vec<_>>(), Capability::ALL);
    assert_eq!(Capability::ALL.into_iter().collect::<CapabilitySet>(), all);
    assert_eq!(CapabilitySet::default(), CapabilitySet::empty());
}

#[test]
fn parse_list_accepts_keywords_and_lists() {
    assert_eq!(CapabilitySet::parse_list("all").unwrap(), CapabilitySet::all());
    assert_eq!(
        CapabilitySet::parse_list(" none ").unwrap(),
        CapabilitySet::empty()
    );
    let set = CapabilitySet::parse_list("net.connect, display.window").unwrap();
    assert_eq!(
        set.iter().collect::<Vec<_>>(),
        [Capability::DisplayWindow, Capability::NetConnect]
    );
    assert_eq!(set.to_string(), "display.window,net.connect");
    assert_eq!(CapabilitySet::empty().to_string(), "none");
    assert_eq!("display.layer".parse::<CapabilitySet>().unwrap().len(), 1);
}

#[test]
fn parse_list_errors_name_the_bad_entry() {
    let err = |text: &str| CapabilitySet::parse_list(text).unwrap_err().to_string();
    assert!(err("display.window,display.windw").contains("\"display.windw\" (did you mean display.window?)"));
    assert_eq!(
        err("display.window,,net.connect"),
        "empty entry 2 in the capability list (a stray comma?)"
    );
    assert_eq!(
        err("display.window,display.window"),
        "capability display.window is listed twice"
    );
    assert_eq!(
        err("all,net.connect"),
        "\"all\" cannot be combined with other entries; write it alone"
    );
    assert!(err("  ").starts_with("empty capability list"));
}

#[test]
fn serde_uses_dotted_names() {
    let set: CapabilitySet = [Capability::DisplayCapture, Capability::DisplayWindow]
        .into_iter()
        .collect();
    let json = serde_json::to_string(&set).unwrap();
    assert_eq!(json, r#"["display.window","display.capture"]"#);
    assert_eq!(serde_json::from_str::<CapabilitySet>(&json).unwrap(), set);
    assert_eq!(
        serde_json::to_string(&Capability::InputInject).unwrap(),
        r#""input.inject""#
    );
    assert_eq!(
        serde_json::from_str::<Capability>(r#""sentry.observe""#).unwrap(),
        Capability::SentryObserve
    );
    let err = serde_json::from_str::<CapabilitySet>(r#"["display.window","nope"]"#).unwrap_err();
    assert!(err.to_string().contains("unknown capability \"nope\""), "{err}");
    assert_eq!(serde_json::to_string(&CapabilitySet::empty()).unwrap(), "[]");
}

fn any_set() -> impl Strategy<Value = CapabilitySet> {
    (0u16..(1 << 14)).prop_map(|bits| {
        Capability::ALL
            .into_iter()
            .enumerate()
            .filter(|&(i, _)| bits & (1 << i) != 0)
            .map(|(_, c)| c)
            .collect()
    })
}

proptest! {
    #[test]
    fn display_parses_back(set in any_set()) {
        prop_assert_eq!(CapabilitySet::parse_list(&set.to_string()).unwrap(), set);
        let json = serde_json::to_string(&set).unwrap();
        prop_assert_eq!(serde_json::from_str::<CapabilitySet>(&json).unwrap(), set);
        prop_assert_eq!(set.iter().count(), set.len());
    }
}
