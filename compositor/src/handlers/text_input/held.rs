//! What a text-input asked while no input method was bound, kept to be replayed to Smithay when
//! one is (see the parent module).

use std::mem;

use smithay::reexports::{
    wayland_protocols::wp::text_input::zv3::server::zwp_text_input_v3::{
        ChangeCause, ContentHint, ContentPurpose, Request,
    },
    wayland_server::WEnum,
};

/// The double-buffered fields of text-input-v3, each as last set.
#[derive(Debug, Default, Clone, PartialEq)]
struct Fields {
    surrounding_text: Option<(String, i32, i32)>,
    change_cause: Option<ChangeCause>,
    content_type: Option<(ContentHint, ContentPurpose)>,
    cursor_rectangle: Option<(i32, i32, i32, i32)>,
}

impl Fields {
    /// Take the value of a state request; others are ignored.
    fn set(&mut self, request: Request) {
        match request {
            Request::SetSurroundingText { text, cursor, anchor } => {
                self.surrounding_text = Some((text, cursor, anchor))
            }
            Request::SetTextChangeCause {
                cause: WEnum::Value(cause),
            } => self.change_cause = Some(cause),
            Request::SetContentType {
                hint: WEnum::Value(hint),
                purpose: WEnum::Value(purpose),
            } => self.content_type = Some((hint, purpose)),
            Request::SetCursorRectangle { x, y, width, height } => {
                self.cursor_rectangle = Some((x, y, width, height))
            }
            _ => {}
        }
    }

    /// The fields set in `newer` replace these.
    fn update(&mut self, newer: Fields) {
        self.surrounding_text = newer.surrounding_text.or(self.surrounding_text.take());
        self.change_cause = newer.change_cause.or(self.change_cause);
        self.content_type = newer.content_type.or(self.content_type);
        self.cursor_rectangle = newer.cursor_rectangle.or(self.cursor_rectangle);
    }

    fn into_requests(self) -> impl Iterator<Item = Request> {
        let surrounding = self
            .surrounding_text
            .map(|(text, cursor, anchor)| Request::SetSurroundingText { text, cursor, anchor });
        let cause = self.change_cause.map(|cause| Request::SetTextChangeCause {
            cause: WEnum::Value(cause),
        });
        let content = self.content_type.map(|(hint, purpose)| Request::SetContentType {
            hint: WEnum::Value(hint),
            purpose: WEnum::Value(purpose),
        });
        let cursor = self
            .cursor_rectangle
            .map(|(x, y, width, height)| Request::SetCursorRectangle { x, y, width, height });
        [surrounding, cause, content, cursor].into_iter().flatten()
    }
}

/// One text-input's requests since the last replay, reduced to what they amount to.
#[derive(Debug, Default)]
pub(super) struct Held {
    /// Commits made: each advances the serial Smithay sends in `done`.
    commits: u32,
    pending_enable: Option<bool>,
    pending: Fields,
    /// The committed state, while the text-input is enabled.
    enabled: Option<Fields>,
}

impl Held {
    pub fn request(&mut self, request: Request) {
        match request {
            Request::Enable => self.pending_enable = Some(true),
            Request::Disable => self.pending_enable = Some(false),
            Request::Commit => self.commit(),
            other => self.pending.set(other),
        }
    }

    fn commit(&mut self) {
        self.commits = self.commits.saturating_add(1);
        let fields = mem::take(&mut self.pending);
        match self.pending_enable.take() {
            // An enable starts from the initial state: only what came with it counts.
            Some(true) => self.enabled = Some(fields),
            Some(false) => self.enabled = None,
            None => {
                if let Some(enabled) = &mut self.enabled {
                    enabled.update(fields);
                }
            }
        }
    }

    /// Text-input focus moved: an enabled text-input is disabled by it (the client enables it
    /// again after the next `enter`).
    pub fn focus_moved(&mut self) {
        self.enabled = None;
    }

    /// Requests that take Smithay to where the client is: as many commits as it made, the last
    /// of them carrying the enabled state if it is enabled, then what it has not committed yet.
    pub fn into_requests(self) -> Vec<Request> {
        let bare = self.commits - u32::from(self.enabled.is_some());
        let mut requests: Vec<Request> = (0..bare).map(|_| Request::Commit).collect();
        if let Some(enabled) = self.enabled {
            requests.push(Request::Enable);
            requests.extend(enabled.into_requests());
            requests.push(Request::Commit);
        }
        match self.pending_enable {
            Some(true) => requests.push(Request::Enable),
            Some(false) => requests.push(Request::Disable),
            None => {}
        }
        requests.extend(self.pending.into_requests());
        requests
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(requests: &[Request]) -> Vec<String> {
        requests
            .iter()
            .map(|r| match r {
                Request::SetSurroundingText { text, .. } => format!("text {text}"),
                Request::SetContentType { .. } => "content".into(),
                Request::SetTextChangeCause { .. } => "cause".into(),
                Request::SetCursorRectangle { x, .. } => format!("cursor {x}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    fn replay(requests: Vec<Request>, focus_moved_after: Option<usize>) -> Vec<String> {
        let mut held = Held::default();
        for (i, r) in requests.into_iter().enumerate() {
            held.request(r);
            if focus_moved_after == Some(i) {
                held.focus_moved();
            }
        }
        names(&held.into_requests())
    }

    fn text(text: &str) -> Request {
        Request::SetSurroundingText {
            text: text.into(),
            cursor: 0,
            anchor: 0,
        }
    }

    #[test]
    fn an_enabled_text_input_is_replayed_as_one_commit_among_as_many_as_it_made() {
        let got = replay(
            vec![
                Request::Commit,
                Request::Enable,
                text("a"),
                Request::Commit,
                Request::SetCursorRectangle {
                    x: 7,
                    y: 0,
                    width: 1,
                    height: 1,
                },
                Request::Commit,
                text("b"),
            ],
            None,
        );
        assert_eq!(
            got,
            ["Commit", "Commit", "Enable", "text a", "cursor 7", "Commit", "text b"]
        );
    }

    #[test]
    fn disabled_or_left_text_inputs_replay_bare_commits() {
        let enable_disable = vec![
            Request::Enable,
            text("a"),
            Request::Commit,
            Request::Disable,
            Request::Commit,
        ];
        assert_eq!(replay(enable_disable, None), ["Commit", "Commit"]);
        let enabled_then_left = vec![Request::Enable, Request::Commit];
        assert_eq!(replay(enabled_then_left, Some(1)), ["Commit"]);
    }

    #[test]
    fn a_new_enable_forgets_the_state_of_the_previous_one() {
        let got = replay(
            vec![
                Request::Enable,
                text("old"),
                Request::Commit,
                Request::Enable,
                Request::Commit,
            ],
            None,
        );
        assert_eq!(got, ["Commit", "Enable", "Commit"]);
    }

    #[test]
    fn nothing_held_replays_nothing() {
        assert!(replay(vec![], None).is_empty());
    }
}
