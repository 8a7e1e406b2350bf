//! Window titles made safe for trusted labels.
//!
//! The compositor draws every capsule window's title as `[capsule] title`.
//! The title is a claim by the client, so before it is drawn it is
//! sanitised: control characters, bidi controls, zero-width and other
//! invisible characters and Unicode tag characters are removed, whitespace
//! runs become one space, and the length is capped. What is left cannot
//! reorder, hide or push away the compositor's `[capsule]` prefix.

/// The longest sanitised title, in characters, including a trailing `…`.
pub const MAX_TITLE_CHARS: usize = 80;

/// Whether `c` is removed from titles outright.
fn is_stripped(c: char) -> bool {
    matches!(
        c,
        // C0 controls, DEL and C1 controls.
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}'
        // Bidi embeddings, overrides and isolates; directional marks.
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200e}' | '\u{200f}' | '\u{61c}'
        // Zero-width space, non-joiner, joiner; word joiner and invisible operators.
        | '\u{200b}'..='\u{200d}'
        | '\u{2060}'..='\u{2064}'
        // Byte order mark, Mongolian vowel separator, soft hyphen.
        | '\u{feff}' | '\u{180e}' | '\u{ad}'
        // Tag characters (invisible ASCII copies).
        | '\u{e0000}'..='\u{e007f}'
        // Also invisible in practice: combining grapheme joiner, Hangul fillers,
        // interlinear annotation controls, deprecated format characters.
        | '\u{34f}' | '\u{115f}' | '\u{1160}' | '\u{3164}' | '\u{ffa0}'
        | '\u{fff9}'..='\u{fffb}'
        | '\u{206a}'..='\u{206f}'
    )
}

/// `title` made safe to draw in a trusted label: see the module docs.
/// The result has no leading, trailing or repeated whitespace and at most
/// [`MAX_TITLE_CHARS`] characters, ending in `…` when it was cut.
pub fn sanitize_title(title: &str) -> String {
    // Keep one character more than fits, to know whether the title is cut;
    // once that many are kept, the rest of a (possibly huge) title is skipped.
    let mut kept: Vec<char> = Vec::with_capacity(MAX_TITLE_CHARS + 1);
    let mut pending_space = false;
    for c in title.chars() {
        if kept.len() > MAX_TITLE_CHARS {
            break;
        }
        // Whitespace first, so tabs and newlines separate words instead of vanishing.
        if c.is_whitespace() {
            pending_space = !kept.is_empty();
        } else if !is_stripped(c) {
            if pending_space {
                kept.push(' ');
                pending_space = false;
            }
            kept.push(c);
        }
    }
    if kept.len() > MAX_TITLE_CHARS {
        kept.truncate(MAX_TITLE_CHARS - 1);
        while kept.last() == Some(&' ') {
            kept.pop();
        }
        kept.push('…');
    }
    kept.into_iter().collect()
}

/// The label text for a window: `[capsule] title`, or `[capsule]` for an empty title.
pub fn label_text(capsule: &str, title: &str) -> String {
    let name = sanitize_title(capsule);
    let title = sanitize_title(title);
    if title.is_empty() {
        format!("[{name}]")
    } else {
        format!("[{name}] {title}")
    }
}

#[cfg(test)]
#[path = "title_tests.rs"]
mod tests;
