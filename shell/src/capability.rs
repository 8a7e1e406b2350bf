//! The capability vocabulary: what a capsule may do beyond running at all.
//!
//! Capabilities are written dotted, like `display.window` or `net.connect`,
//! in manifests, on the command line and in the control protocol. Deny by
//! default: a capsule has exactly the capabilities its manifest lists. A
//! [`CapabilitySet`] is a small `Copy` bitset of them.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// One right a capsule can be granted. See `docs/capsules.md` for what each grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// A Wayland connection at all, with the ordinary client globals.
    DisplayWindow,
    /// wlr-layer-shell (panels, overlays).
    DisplayLayer,
    /// Fullscreen without the label strip.
    DisplayFullscreen,
    /// Screen capture (screencopy, image-copy-capture, export-dmabuf).
    DisplayCapture,
    /// Foreign-toplevel list and management.
    DisplayToplevels,
    /// Output management, gamma, output power.
    DisplayOutput,
    /// ext-session-lock.
    DisplayLock,
    /// Virtual keyboard and virtual pointer.
    InputInject,
    /// input-method.
    InputMethod,
    /// keyboard-shortcuts-inhibit (secure keys are never inhibited).
    InputInhibit,
    /// data-control: clipboard managers.
    ClipboardManage,
    /// A read-only control channel.
    SentryObserve,
    /// Control actions (start, stop, restart, grant, revoke).
    SentryControl,
    /// Network access; without it the capsule has an empty network namespace.
    NetConnect,
}

impl Capability {
    /// Every capability, in the documented order (also the bit order of [`CapabilitySet`]).
    pub const ALL: [Capability; 14] = [
        Capability::DisplayWindow,
        Capability::DisplayLayer,
        Capability::DisplayFullscreen,
        Capability::DisplayCapture,
        Capability::DisplayToplevels,
        Capability::DisplayOutput,
        Capability::DisplayLock,
        Capability::InputInject,
        Capability::InputMethod,
        Capability::InputInhibit,
        Capability::ClipboardManage,
        Capability::SentryObserve,
        Capability::SentryControl,
        Capability::NetConnect,
    ];

    /// The dotted name, e.g. `"display.window"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Capability::DisplayWindow => "display.window",
            Capability::DisplayLayer => "display.layer",
            Capability::DisplayFullscreen => "display.fullscreen",
            Capability::DisplayCapture => "display.capture",
            Capability::DisplayToplevels => "display.toplevels",
            Capability::DisplayOutput => "display.output",
            Capability::DisplayLock => "display.lock",
            Capability::InputInject => "input.inject",
            Capability::InputMethod => "input.method",
            Capability::InputInhibit => "input.inhibit",
            Capability::ClipboardManage => "clipboard.manage",
            Capability::SentryObserve => "sentry.observe",
            Capability::SentryControl => "sentry.control",
            Capability::NetConnect => "net.connect",
        }
    }

    /// This capability's bit in a [`CapabilitySet`].
    const fn bit(self) -> u16 {
        1 << self as u16
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every dotted name, comma-separated, for error messages.
fn all_names() -> String {
    Capability::ALL.map(Capability::as_str).join(", ")
}

/// A name that is not a capability; suggests the closest one when it looks like a typo.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "unknown capability \"{name}\"{hint}; expected one of {all}",
    hint = suggestion.map(|s| format!(" (did you mean {s}?)")).unwrap_or_default(),
    all = all_names()
)]
pub struct UnknownCapability {
    pub name: String,
    pub suggestion: Option<Capability>,
}

impl UnknownCapability {
    fn new(name: &str) -> Self {
        UnknownCapability {
            name: name.to_string(),
            suggestion: closest(name),
        }
    }
}

/// Levenshtein distance over chars; names here are short, so the simple table is fine.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// The capability `name` was probably meant to be, if any is close enough.
fn closest(name: &str) -> Option<Capability> {
    let lower = name.trim().to_ascii_lowercase().replace(['_', '-', ' '], ".");
    let (best, distance) = Capability::ALL
        .iter()
        .map(|&c| (c, edit_distance(&lower, c.as_str())))
        .min_by_key(|&(_, d)| d)?;
    // Also catch a missing or wrong half: "window" or "display.windows".
    let half = Capability::ALL
        .iter()
        .copied()
        .find(|c| c.as_str().split('.').any(|part| part == lower));
    if distance <= 2 + lower.len() / 8 {
        Some(best)
    } else {
        half
    }
}

impl FromStr for Capability {
    type Err = UnknownCapability;

    /// Exactly the dotted name; no case folding or aliases.
    fn from_str(s: &str) -> Result<Self, UnknownCapability> {
        Capability::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCapability::new(s))
    }
}

impl Serialize for Capability {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Capability {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CapabilityVisitor;
        impl Visitor<'_> for CapabilityVisitor {
            type Value = Capability;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a capability name like \"display.window\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Capability, E> {
                v.parse().map_err(E::custom)
            }
        }
        deserializer.deserialize_str(CapabilityVisitor)
    }
}

/// A set of capabilities; iterates in [`Capability::ALL`] order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CapabilitySet(u16);

impl CapabilitySet {
    /// No rights at all.
    pub const fn empty() -> Self {
        CapabilitySet(0)
    }

    /// Every capability.
    pub const fn all() -> Self {
        CapabilitySet((1 << Capability::ALL.len()) - 1)
    }

    pub const fn contains(self, capability: Capability) -> bool {
        self.0 & capability.bit() != 0
    }

    /// Adds `capability`; returns whether it was new.
    pub fn insert(&mut self, capability: Capability) -> bool {
        let new = !self.contains(capability);
        self.0 |= capability.bit();
        new
    }

    /// Removes `capability`; returns whether it was present.
    pub fn remove(&mut self, capability: Capability) -> bool {
        let present = self.contains(capability);
        self.0 &= !capability.bit();
        present
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The members in [`Capability::ALL`] order.
    pub fn iter(self) -> Iter {
        Iter { set: self, next: 0 }
    }

    /// Parses `"all"`, `"none"` or a comma-separated list like
    /// `"display.window, net.connect"` (spaces around entries are ignored).
    /// Empty entries, unknown names and repeated names are errors.
    pub fn parse_list(text: &str) -> Result<CapabilitySet, CapabilityListError> {
        let trimmed = text.trim();
        match trimmed {
            "all" => return Ok(CapabilitySet::all()),
            "none" => return Ok(CapabilitySet::empty()),
            "" => return Err(CapabilityListError::Empty),
            _ => {}
        }
        let mut set = CapabilitySet::empty();
        for (index, entry) in trimmed.split(',').enumerate() {
            let entry = entry.trim();
            if entry.is_empty() {
                return Err(CapabilityListError::EmptyEntry { index });
            }
            if entry == "all" || entry == "none" {
                return Err(CapabilityListError::Keyword(entry.to_string()));
            }
            let capability: Capability = entry.parse()?;
            if !set.insert(capability) {
                return Err(CapabilityListError::Duplicate(capability));
            }
        }
        Ok(set)
    }
}

/// Why [`CapabilitySet::parse_list`] refused its input.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CapabilityListError {
    #[error(
        "empty capability list; expected \"all\", \"none\" or names like \"display.window,net.connect\""
    )]
    Empty,
    /// `index` counts from 0.
    #[error("empty entry {} in the capability list (a stray comma?)", index + 1)]
    EmptyEntry { index: usize },
    #[error("\"{0}\" cannot be combined with other entries; write it alone")]
    Keyword(String),
    #[error("capability {0} is listed twice")]
    Duplicate(Capability),
    #[error(transparent)]
    Unknown(#[from] UnknownCapability),
}

impl FromIterator<Capability> for CapabilitySet {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        let mut set = CapabilitySet::empty();
        for capability in iter {
            set.insert(capability);
        }
        set
    }
}

impl Extend<Capability> for CapabilitySet {
    fn extend<I: IntoIterator<Item = Capability>>(&mut self, iter: I) {
        for capability in iter {
            self.insert(capability);
        }
    }
}

impl From<Capability> for CapabilitySet {
    fn from(capability: Capability) -> Self {
        CapabilitySet(capability.bit())
    }
}

impl IntoIterator for CapabilitySet {
    type Item = Capability;
    type IntoIter = Iter;

    fn into_iter(self) -> Iter {
        self.iter()
    }
}

/// The members of a [`CapabilitySet`], in [`Capability::ALL`] order.
#[derive(Debug, Clone)]
pub struct Iter {
    set: CapabilitySet,
    next: usize,
}

impl Iterator for Iter {
    type Item = Capability;

    fn next(&mut self) -> Option<Capability> {
        while let Some(&capability) = Capability::ALL.get(self.next) {
            self.next += 1;
            if self.set.contains(capability) {
                return Some(capability);
            }
        }
        None
    }
}

impl FromStr for CapabilitySet {
    type Err = CapabilityListError;

    /// Same as [`CapabilitySet::parse_list`].
    fn from_str(s: &str) -> Result<Self, CapabilityListError> {
        CapabilitySet::parse_list(s)
    }
}

impl fmt::Display for CapabilitySet {
    /// Comma-separated dotted names (`display.window,net.connect`), or `none`
    /// for the empty set, so the text parses back with [`CapabilitySet::parse_list`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        for (i, capability) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(capability.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Debug for CapabilitySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl Serialize for CapabilitySet {
    /// A list of dotted names, e.g. `["display.window","net.connect"]`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for capability in self.iter() {
            seq.serialize_element(capability.as_str())?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for CapabilitySet {
    /// A list of dotted names; unknown names are errors, repeats are harmless.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SetVisitor;
        impl<'de> Visitor<'de> for SetVisitor {
            type Value = CapabilitySet;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of capability names")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CapabilitySet, A::Error> {
                let mut set = CapabilitySet::empty();
                while let Some(capability) = seq.next_element::<Capability>()? {
                    set.insert(capability);
                }
                Ok(set)
            }
        }
        deserializer.deserialize_seq(SetVisitor)
    }
}

#[cfg(test)]
#[path = "capability_tests.rs"]
mod tests;
