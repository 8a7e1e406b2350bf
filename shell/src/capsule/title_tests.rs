//! Tests for `title`: stripping, collapsing, capping and forging attempts.

use proptest::prelude::*;

use super::*;

#[test]
fn plain_titles_are_kept() {
    assert_eq!(sanitize_title("~/src: vim main.rs"), "~/src: vim main.rs");
    assert_eq!(
        sanitize_title("Straße — ünïcödé 日本語 🚀"),
        "Straße — ünïcödé 日本語 🚀"
    );
    assert_eq!(sanitize_title(""), "");
}

#[test]
fn whitespace_is_collapsed_and_trimmed() {
    assert_eq!(sanitize_title("  a \t\n b\r\n\u{a0}c\u{2028} "), "a b c");
    assert_eq!(sanitize_title("\u{3000}\u{2003}"), "");
}

#[test]
fn controls_and_invisibles_are_stripped() {
    let cases = [
        ("a\u{0}b\u{7}c\u{1b}[31md", "abc[31md"),
        ("del\u{7f}ete", "delete"),
        ("c1\u{85}\u{9b}x", "c1 x"),
        ("bi\u{202a}\u{202b}\u{202c}\u{202d}\u{202e}di", "bidi"),
        ("iso\u{2066}\u{2067}\u{2068}\u{2069}late", "isolate"),
        ("marks\u{200e}\u{200f}\u{61c}", "marks"),
        ("zero\u{200b}\u{200c}\u{200d}width", "zerowidth"),
        ("word\u{2060}\u{2061}\u{2062}\u{2063}\u{2064}joiner", "wordjoiner"),
        ("\u{feff}bom\u{180e}soft\u{ad}hyphen", "bomsofthyphen"),
        ("tag\u{e0001}\u{e0074}\u{e0065}\u{e007f}s", "tags"),
        ("hangul\u{3164}\u{115f}\u{1160}\u{ffa0}fillers", "hangulfillers"),
    ];
    for (input, expected) in cases {
        assert_eq!(sanitize_title(input), expected, "{input:?}");
    }
}

#[test]
fn long_titles_are_capped_with_an_ellipsis() {
    let exact = "x".repeat(MAX_TITLE_CHARS);
    assert_eq!(sanitize_title(&exact), exact);
    assert_eq!(sanitize_title(&format!("{exact}   ")), exact);
    let long = "y".repeat(1000);
    let capped = sanitize_title(&long);
    assert_eq!(capped.chars().count(), MAX_TITLE_CHARS);
    assert!(capped.ends_with("y…"));
    // No dangling space before the ellipsis.
    let words = format!("{} {}", "z".repeat(MAX_TITLE_CHARS - 2), "tail");
    assert_eq!(
        sanitize_title(&words),
        format!("{}…", "z".repeat(MAX_TITLE_CHARS - 2))
    );
    // Invisible padding does not count and cannot push text out.
    let padded = format!("{}visible", "\u{200b}".repeat(10_000));
    assert_eq!(sanitize_title(&padded), "visible");
    // Characters, not bytes.
    let wide = "日".repeat(100);
    assert_eq!(sanitize_title(&wide).chars().count(), MAX_TITLE_CHARS);
}

#[test]
fn labels_put_the_capsule_first() {
    assert_eq!(label_text("terminal", "~: htop"), "[terminal] ~: htop");
    assert_eq!(label_text("terminal", " \u{200b} "), "[terminal]");
}

#[test]
fn forged_prefixes_stay_behind_the_real_one() {
    // Right-to-left override: drawn reversed it would read "[terminal] x".
    let label = label_text("evil", "\u{202E}lanimret[\u{202C} x");
    assert_eq!(label, "[evil] lanimret[ x");
    // A zero-width space hiding where a fake prefix ends.
    assert_eq!(
        label_text("evil", "[terminal]\u{200B} evil"),
        "[evil] [terminal] evil"
    );
    // Newlines and many spaces trying to push the real prefix out of view.
    let label = label_text("evil", &format!("{}[terminal] sudo", "\n".repeat(50)));
    assert_eq!(label, "[evil] [terminal] sudo");
    let label = label_text("evil", &format!("{}[terminal] sudo", " ".repeat(500)));
    assert_eq!(label, "[evil] [terminal] sudo");
    // An isolate trying to wrap the rest of the line.
    assert_eq!(label_text("evil", "\u{2067}[terminal]"), "[evil] [terminal]");
    // Tag characters spelling a hidden prefix.
    let hidden: String = "[terminal]"
        .chars()
        .map(|c| char::from_u32(0xe0000 + c as u32).unwrap())
        .collect();
    assert_eq!(label_text("evil", &format!("{hidden}x")), "[evil] x");
}

proptest! {
    #[test]
    fn sanitised_titles_are_clean(title in "\\PC{0,200}|[\\x00-\\x7f\\u{80}-\\u{9f}\\u{200b}-\\u{206f}\\u{e0000}-\\u{e007f} a]{0,300}") {
        let clean = sanitize_title(&title);
        prop_assert!(clean.chars().count() <= MAX_TITLE_CHARS);
        prop_assert!(!clean.chars().any(is_stripped), "{:?}", clean);
        prop_assert!(!clean.contains("  "));
        prop_assert_eq!(clean.trim(), clean.as_str());
        prop_assert!(clean.chars().all(|c| c == ' ' || !c.is_whitespace()));
        // Sanitising is idempotent.
        prop_assert_eq!(sanitize_title(&clean), clean.clone());
        let label = label_text("evil", &title);
        prop_assert!(label.starts_with("[evil]"));
    }
}
