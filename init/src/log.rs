//! Console messages: every line starts with `exo-init: `.
//!
//! Writes go to standard error, which is the console once [`crate::console`]
//! has set it up. A failed write is ignored: PID 1 must not die because the
//! console went away (`eprintln!` would panic).

use std::io::Write;

/// Writes one `exo-init: ...` line to the console, ignoring errors.
pub fn line(args: std::fmt::Arguments<'_>) {
    let text = format!("exo-init: {args}\n");
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// `say!("starting {name}")` prints `exo-init: starting udevd`.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::log::line(format_args!($($arg)*))
    };
}
pub(crate) use say;
