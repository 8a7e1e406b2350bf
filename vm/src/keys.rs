//! Key combos and text as QEMU key codes (QKeyCode names, the `qcode` keys of QMP `send-key`
//! and `input-send-event`), for a US keyboard layout — the image's default keymap.

use anyhow::{bail, Result};

/// A named key or modifier → its QKeyCode. Names are case-insensitive; common aliases accepted.
pub fn qcode(name: &str) -> Result<&'static str> {
    let lower = name.to_ascii_lowercase();
    let n = lower.as_str();
    let code = match n {
        "super" | "logo" | "win" | "meta" | "mod4" | "meta_l" => "meta_l",
        "super_r" | "meta_r" => "meta_r",
        "ctrl" | "control" | "ctrl_l" => "ctrl",
        "ctrl_r" => "ctrl_r",
        "alt" | "mod1" | "alt_l" => "alt",
        "alt_r" | "altgr" => "alt_r",
        "shift" | "shift_l" => "shift",
        "shift_r" => "shift_r",
        "ret" | "return" | "enter" => "ret",
        "esc" | "escape" => "esc",
        "spc" | "space" => "spc",
        "tab" => "tab",
        "backspace" | "bs" => "backspace",
        "delete" | "del" => "delete",
        "insert" | "ins" => "insert",
        "home" => "home",
        "end" => "end",
        "pgup" | "pageup" | "page_up" | "prior" => "pgup",
        "pgdn" | "pagedown" | "page_down" | "next" => "pgdn",
        "up" => "up",
        "down" => "down",
        "left" => "left",
        "right" => "right",
        "minus" => "minus",
        "equal" => "equal",
        "bracketleft" | "bracket_left" => "bracket_left",
        "bracketright" | "bracket_right" => "bracket_right",
        "semicolon" => "semicolon",
        "apostrophe" => "apostrophe",
        "grave" | "grave_accent" => "grave_accent",
        "backslash" => "backslash",
        "comma" => "comma",
        "period" | "dot" => "dot",
        "slash" => "slash",
        "print" | "sysrq" => "sysrq",
        "menu" => "menu",
        "caps_lock" | "capslock" => "caps_lock",
        "power" => "power",
        _ => return single(n),
    };
    Ok(code)
}

fn single(n: &str) -> Result<&'static str> {
    const LETTERS: [&str; 26] = [
        "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t",
        "u", "v", "w", "x", "y", "z",
    ];
    const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    const F: [&str; 12] = [
        "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10", "f11", "f12",
    ];
    if let Some(k) = LETTERS.iter().chain(&DIGITS).chain(&F).find(|k| **k == n) {
        return Ok(k);
    }
    bail!("unknown key {n:?} (letters, digits, f1..f12, ret, esc, spc, tab, super, ctrl, alt, shift, delete, arrows, ...)")
}

/// A combo such as `super-ret`, `ctrl-alt-delete` or `super+shift+e`: the keys in press order.
pub fn combo(spec: &str) -> Result<Vec<&'static str>> {
    if spec.is_empty() {
        bail!("empty key combo");
    }
    // "-" and "+" both separate; a lone "-" or "+" key is spelt minus/plus... "plus" is
    // shift+equal and not a single key, so it is not offered.
    let keys: Result<Vec<_>> = spec
        .split(['-', '+'])
        .map(|k| {
            if k.is_empty() {
                bail!("key combo {spec:?} has an empty key")
            }
            qcode(k).map_err(|e| anyhow::anyhow!("key combo {spec:?}: {e}"))
        })
        .collect();
    keys
}

/// One character of text as (qcode, shift held), US layout.
pub fn char_key(c: char) -> Result<(&'static str, bool)> {
    if c.is_ascii_lowercase() || c.is_ascii_digit() {
        return Ok((single(&c.to_string())?, false));
    }
    if c.is_ascii_uppercase() {
        return Ok((single(&c.to_ascii_lowercase().to_string())?, true));
    }
    let k = match c {
        ' ' => ("spc", false),
        '\n' => ("ret", false),
        '\t' => ("tab", false),
        '-' => ("minus", false),
        '_' => ("minus", true),
        '=' => ("equal", false),
        '+' => ("equal", true),
        '[' => ("bracket_left", false),
        '{' => ("bracket_left", true),
        ']' => ("bracket_right", false),
        '}' => ("bracket_right", true),
        '\\' => ("backslash", false),
        '|' => ("backslash", true),
        ';' => ("semicolon", false),
        ':' => ("semicolon", true),
        '\'' => ("apostrophe", false),
        '"' => ("apostrophe", true),
        ',' => ("comma", false),
        '<' => ("comma", true),
        '.' => ("dot", false),
        '>' => ("dot", true),
        '/' => ("slash", false),
        '?' => ("slash", true),
        '`' => ("grave_accent", false),
        '~' => ("grave_accent", true),
        '!' => ("1", true),
        '@' => ("2", true),
        '#' => ("3", true),
        '$' => ("4", true),
        '%' => ("5", true),
        '^' => ("6", true),
        '&' => ("7", true),
        '*' => ("8", true),
        '(' => ("9", true),
        ')' => ("0", true),
        _ => bail!("character {c:?} cannot be typed on a US keyboard"),
    };
    Ok(k)
}

/// Text as a sequence of combos (each a `send-key` call). Errors name the first bad character.
pub fn text(s: &str) -> Result<Vec<Vec<&'static str>>> {
    s.chars()
        .map(|c| {
            let (k, shift) = char_key(c)?;
            Ok(if shift { vec!["shift", k] } else { vec![k] })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combos_parse_with_both_separators_and_aliases() {
        assert_eq!(combo("super-ret").unwrap(), vec!["meta_l", "ret"]);
        assert_eq!(combo("ctrl-alt-delete").unwrap(), vec!["ctrl", "alt", "delete"]);
        assert_eq!(combo("Super+Shift+E").unwrap(), vec!["meta_l", "shift", "e"]);
        assert_eq!(combo("f12").unwrap(), vec!["f12"]);
    }

    #[test]
    fn bad_combos_name_the_key() {
        let e = combo("super-bogus").unwrap_err().to_string();
        assert!(e.contains("bogus") && e.contains("super-bogus"), "{e}");
        assert!(combo("super--ret").is_err());
        assert!(combo("").is_err());
    }

    #[test]
    fn text_uses_shift_for_capitals_and_symbols() {
        assert_eq!(
            text("echo Hi!\n").unwrap(),
            vec![
                vec!["e"],
                vec!["c"],
                vec!["h"],
                vec!["o"],
                vec!["spc"],
                vec!["shift", "h"],
                vec!["i"],
                vec!["shift", "1"],
                vec!["ret"],
            ]
        );
        assert_eq!(text("a-b").unwrap()[1], vec!["minus"]);
        let e = text("é").unwrap_err().to_string();
        assert!(e.contains('é'), "{e}");
    }
}
