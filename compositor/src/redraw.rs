//! Frame scheduling: a redraw is queued by commits and input, and with nothing queued no timer
//! is armed, so an idle session wakes up zero times. A frame that changed the screen holds the
//! next one back for a refresh interval (the frame timer). A redraw that changed nothing does
//! not: the next commit is rendered at once, so a new window's first buffer is not kept waiting
//! behind the empty commit that preceded it; frame callbacks are still sent at most once per
//! interval, so a client committing without damage cannot make the compositor spin. While frames
//! keep coming, the timer ticks on a fixed grid ([`next_tick`]): one frame per interval, not one
//! per interval + render time + the loop's wake-up latency. A render that fails is tried again
//! on the timer, backing off while it keeps failing ([`FailedRenders`]); a backend that shows
//! nothing for now (a VT switched away) stops the frames until it asks for one again.

use std::time::{Duration, Instant};

use smithay::{
    backend::renderer::element::RenderElementStates,
    desktop::utils::{
        surface_presentation_feedback_flags_from_states, take_presentation_feedback_surface_tree,
        OutputPresentationFeedback,
    },
    input::pointer::CursorImageStatus,
    output::Output,
    reexports::{
        calloop::{
            timer::{TimeoutAction, Timer},
            RegistrationToken,
        },
        wayland_protocols::wp::presentation_time::server::wp_presentation_feedback,
        wayland_server::protocol::wl_surface::WlSurface,
    },
    wayland::{
        compositor::{with_surface_tree_downward, SurfaceAttributes, TraversalAction},
        presentation::Refresh,
    },
};

use crate::state::State;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum RedrawState {
    /// Nothing to do and no timer armed.
    #[default]
    Idle,
    /// A redraw runs as soon as the event loop is idle.
    Queued,
    /// A frame was just rendered (or failed to render, and is `queued` to be tried again) and
    /// the frame timer is armed; when it fires, a redraw runs if one was `queued`. `changed`:
    /// that frame changed the screen, or failed (else a redraw asked for meanwhile is tried at
    /// once, see [`State::early_redraw`]).
    WaitingForFrame { queued: bool, changed: bool },
}

/// The frame timer (a calloop timer source) while one is armed.
#[derive(Default)]
pub struct FrameTimer {
    /// The armed timer's token, `None` when no timer is armed or while its callback runs.
    token: Option<RegistrationToken>,
    /// Its callback is running.
    firing: bool,
    /// Set while it runs when the frame it rendered re-arms it: the timer is kept, on a grid
    /// of this interval ([`next_tick`]).
    rearm: Option<Duration>,
}

/// What a backend reports after rendering one frame (of every output).
#[derive(Default)]
pub struct RenderOutcome {
    pub damaged: bool,
    pub states: RenderElementStates,
    /// The backend shows nothing for now (its session is paused: the VT was switched away), so
    /// no frame callbacks go out and the frame timer stops until it resumes and asks for a
    /// redraw, as wlroots and Weston stop their frames while away.
    pub paused: bool,
}

impl RenderOutcome {
    /// Adds one output's outcome to the frame's.
    pub fn merge(&mut self, other: RenderOutcome) {
        self.damaged |= other.damaged;
        self.paused |= other.paused;
        if self.states.states.is_empty() {
            // The first (often the only) output's states: taken, not copied entry by entry.
            self.states = other.states;
        } else {
            self.states.states.extend(other.states.states);
        }
    }
}

impl State {
    /// Asks for a frame after a change to the scene; the frame also refreshes the pointer focus.
    pub fn queue_redraw(&mut self) {
        self.nexq.pointer_scene_changed = true;
        self.nexq.space_changed = true;
        self.queue_redraw_after_commit();
    }

    /// Asks for a frame after a surface commit, which has already refreshed the pointer focus
    /// where it could have changed it and marked the Space changed where it could have changed
    /// it (`CompositorHandler::commit`).
    pub fn queue_redraw_after_commit(&mut self) {
        match self.nexq.redraw {
            RedrawState::Idle => {
                self.nexq.redraw = RedrawState::Queued;
                self.nexq.loop_handle.insert_idle(|state| state.redraw());
            }
            RedrawState::Queued => {}
            RedrawState::WaitingForFrame { queued: true, .. } => {}
            RedrawState::WaitingForFrame {
                queued: false,
                changed,
            } => {
                self.nexq.redraw = RedrawState::WaitingForFrame {
                    queued: true,
                    changed,
                };
                if !changed {
                    self.nexq.loop_handle.insert_idle(|state| state.early_redraw());
                }
            }
        }
    }

    /// A redraw asked for after a frame that changed nothing, before its timer fired: rendered
    /// now if it changes the screen; else the timer's redraw sends the frame callbacks.
    fn early_redraw(&mut self) {
        if !matches!(
            self.nexq.redraw,
            RedrawState::WaitingForFrame {
                queued: true,
                changed: false
            }
        ) {
            return;
        }
        self.render_frame(false);
    }

    pub fn redraw(&mut self) {
        self.render_frame(true);
    }

    /// Renders; a frame that changed the screen (or `always_finish`) is finished: feedback,
    /// frame callbacks, and the frame timer re-armed.
    fn render_frame(&mut self, always_finish: bool) {
        // Whatever changed on screen may have changed what is under the pointer; a window's
        // commit in place away from the pointer (an animation frame) did not.
        if std::mem::take(&mut self.nexq.pointer_scene_changed) {
            self.refresh_pointer_focus();
        }
        let outcome = self.backend.render(&mut self.nexq);
        // The buffers replaced since the last frame: their releases go out with this frame's
        // callbacks, in one write per client (`replaced`), whatever this render did.
        self.nexq.replaced_buffers.release();
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(err) => return self.render_failed(&err),
        };
        if outcome.paused {
            // Nothing of the session is on screen: a lock asked for meanwhile holds already,
            // and the first frame after the resume is drawn locked.
            self.session_lock_frame_rendered();
            self.cancel_frame_timer();
            self.nexq.redraw = RedrawState::Idle;
            return;
        }
        let failed_before = self.nexq.failed_renders.succeeded();
        if failed_before > 0 {
            tracing::info!("rendering works again after {failed_before} failed frames");
        }
        if !outcome.damaged && !always_finish {
            // Nothing new to show: the armed timer finishes this frame.
            return;
        }
        self.session_lock_frame_rendered();
        let now = self.nexq.clock.now();
        let output = self.nexq.outputs.primary().clone();
        let interval = self.nexq.frame_interval();
        if outcome.damaged {
            self.send_presentation_feedback(&output, &outcome.states, now.into(), interval);
            self.submit_screencopies_after_render();
        }
        self.send_frame_callbacks(&output, now.into());
        self.nexq.redraw = RedrawState::WaitingForFrame {
            queued: false,
            changed: outcome.damaged,
        };
        self.arm_frame_timer(interval);
    }

    /// A render failed: it is tried again on the frame timer, one interval later, and later
    /// still while the failures go on ([`FailedRenders`]), so that clients waiting for a frame
    /// callback get one as soon as a frame can be shown, without a failing backend being tried
    /// sixty times a second. Only the first failure of a run is logged as a warning.
    fn render_failed(&mut self, err: &anyhow::Error) {
        let wait = self.nexq.failed_renders.failed(self.nexq.frame_interval());
        if self.nexq.failed_renders.count() == 1 {
            tracing::warn!("rendering failed (trying again on the next frames): {err:#}");
        } else {
            tracing::debug!("rendering failed again (next try in {wait:?}): {err:#}");
        }
        // `changed`: a commit meanwhile waits for the retry instead of rendering at once.
        self.nexq.redraw = RedrawState::WaitingForFrame {
            queued: true,
            changed: true,
        };
        self.arm_frame_timer(wait);
    }

    /// (Re)arms the frame timer: when it fires, a queued redraw runs, else the loop goes idle.
    /// Armed from the timer's own callback (the redraw it runs), the timer is kept and fires
    /// again at the next tick of its grid, instead of being removed from the loop and made anew.
    fn arm_frame_timer(&mut self, interval: Duration) {
        if self.nexq.frame_timer.firing {
            self.nexq.frame_timer.rearm = Some(interval);
            return;
        }
        self.cancel_frame_timer();
        let timer = Timer::from_duration(interval);
        let inserted = self
            .nexq
            .loop_handle
            .insert_source(timer, |due, _, state| state.frame_timer_fired(due));
        match inserted {
            Ok(token) => self.nexq.frame_timer.token = Some(token),
            Err(err) => {
                tracing::warn!(%err, "cannot arm frame timer");
                self.nexq.redraw = RedrawState::Idle;
            }
        }
    }

    /// The frame timer, due at `due`, fires: a queued redraw runs, and the timer is kept for the
    /// next tick of its grid after now ([`next_tick`]) if that redraw re-armed it, else dropped.
    /// (Public so that tests can call it with a chosen `due`.)
    pub fn frame_timer_fired(&mut self, due: Instant) -> TimeoutAction {
        // While it runs, the timer is not cancelled by token: `rearm` decides its fate.
        let token = self.nexq.frame_timer.token.take();
        self.nexq.frame_timer.firing = true;
        match self.nexq.redraw {
            RedrawState::WaitingForFrame { queued: true, .. } => self.redraw(),
            _ => self.nexq.redraw = RedrawState::Idle,
        }
        let timer = &mut self.nexq.frame_timer;
        timer.firing = false;
        match timer.rearm.take() {
            Some(interval) => {
                timer.token = token;
                TimeoutAction::ToInstant(next_tick(due, interval, Instant::now()))
            }
            None => TimeoutAction::Drop,
        }
    }

    fn cancel_frame_timer(&mut self) {
        let timer = &mut self.nexq.frame_timer;
        timer.rearm = None;
        if let Some(token) = timer.token.take() {
            self.nexq.loop_handle.remove(token);
        }
    }

    fn send_frame_callbacks(&self, output: &Output, now: Duration) {
        let on_output = |_: &_, _: &_| Some(output.clone());
        for window in self.nexq.space.elements() {
            match self.nexq.lone_tree(window) {
                Some(surface) => send_frames(surface, now),
                None => window.send_frame(output, now, None, on_output),
            }
        }
        for layer in self.nexq.layers.iter() {
            layer.send_frame(output, now, None, on_output);
        }
        for lock_surface in self.nexq.session_lock.surfaces() {
            send_frames(lock_surface.wl_surface(), now);
        }
        if let CursorImageStatus::Surface(surface) = &self.nexq.cursor_status {
            send_frames(surface, now);
        }
    }

    fn send_presentation_feedback(
        &self,
        output: &Output,
        states: &RenderElementStates,
        now: Duration,
        interval: Duration,
    ) {
        let mut feedback = OutputPresentationFeedback::new(output);
        let on_output = |_: &_, _: &_| Some(output.clone());
        let flags = |surface: &_, _: &_| surface_presentation_feedback_flags_from_states(surface, states);
        for window in self.nexq.space.elements() {
            match self.nexq.lone_tree(window) {
                Some(surface) => {
                    take_presentation_feedback_surface_tree(surface, &mut feedback, on_output, flags)
                }
                None => window.take_presentation_feedback(&mut feedback, on_output, flags),
            }
        }
        for layer in self.nexq.layers.iter() {
            layer.take_presentation_feedback(&mut feedback, on_output, flags);
        }
        if let CursorImageStatus::Surface(surface) = &self.nexq.cursor_status {
            take_presentation_feedback_surface_tree(surface, &mut feedback, on_output, flags);
        }
        let seq = self.backend.frame_count();
        feedback.presented::<_, smithay::utils::Monotonic>(
            now,
            Refresh::Fixed(interval),
            seq,
            wp_presentation_feedback::Kind::empty(),
        );
    }
}

/// The renders that failed in a row, and how long to wait before the next try.
#[derive(Debug, Default)]
pub struct FailedRenders {
    count: u32,
}

/// The longest wait between two tries of a render that keeps failing.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(1);

impl FailedRenders {
    /// Counts a failed render and returns the wait before the next try: one frame `interval`
    /// after the first failure, doubled for each further one, at most [`MAX_RETRY_WAIT`] (and
    /// never under `interval`).
    pub fn failed(&mut self, interval: Duration) -> Duration {
        self.count = self.count.saturating_add(1);
        exo_shell::backoff::doubling(interval, self.count - 1, MAX_RETRY_WAIT).max(interval)
    }

    /// A render worked: the count starts again; returns how many had failed before it.
    pub fn succeeded(&mut self) -> u32 {
        std::mem::take(&mut self.count)
    }

    pub fn count(&self) -> u32 {
        self.count
    }
}

/// When a frame timer that was due at `due` and is kept armed fires next: one `interval` after
/// `due`, not after `now`. Re-armed from `now` (after the frame has been rendered, and after the
/// loop's own latency in waking up), the timer ran slow: 58.8 frames a second on a 60 Hz output.
/// A timer that has fallen a whole interval or more behind (a long frame, a stalled loop) goes on
/// from the next tick after `now`, instead of firing at once for each tick it missed.
///
/// `interval` is never zero ([`crate::state::Nexq::frame_interval`] comes from a positive
/// refresh rate); a zero one gives `now`, so nothing goes back in time or panics.
pub fn next_tick(due: Instant, interval: Duration, now: Instant) -> Instant {
    let next = due + interval;
    if next > now || interval.is_zero() {
        return next.max(now);
    }
    // Behind by `now - due`: the next tick is what is left of the current interval from now.
    let into_interval = (now - due).as_nanos() % interval.as_nanos();
    now + (interval - Duration::from_nanos(into_interval as u64))
}

/// Answers the frame callbacks of `surface` and its subsurfaces with `now`.
///
/// Smithay's `send_frames_surface_tree` does the same, after consulting a throttling state and
/// a primary scan-out output that it keeps in each surface's data map (a list searched by type,
/// twice per surface per frame). Every surface given here is on the output being drawn, where
/// that check always passes, so only the answering is kept.
fn send_frames(surface: &WlSurface, now: Duration) {
    let time = now.as_millis() as u32;
    with_surface_tree_downward(
        surface,
        (),
        |_, _, _| TraversalAction::DoChildren(()),
        |_, states, _| {
            let mut attributes = states.cached_state.get::<SurfaceAttributes>();
            for callback in attributes.current().frame_callbacks.drain(..) {
                callback.done(time);
            }
        },
        |_, _, _| true,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const HZ60: Duration = Duration::from_nanos(16_666_667);

    #[test]
    fn a_timer_on_time_or_late_within_an_interval_keeps_the_grid() {
        let due = Instant::now();
        for late in [
            Duration::ZERO,
            Duration::from_micros(350),
            Duration::from_millis(16),
        ] {
            assert_eq!(next_tick(due, HZ60, due + late), due + HZ60, "late by {late:?}");
        }
    }

    #[test]
    fn sixty_ticks_of_a_60hz_timer_take_one_second_when_each_frame_costs_0_4_ms() {
        let start = Instant::now();
        let mut due = start;
        for _ in 0..60 {
            // Each frame is rendered and the timer handled 0.4 ms after it was due.
            due = next_tick(due, HZ60, due + Duration::from_micros(400));
        }
        let took = due - start;
        assert!(
            took.abs_diff(Duration::from_secs(1)) < Duration::from_micros(1),
            "{took:?}"
        );
    }

    #[test]
    fn a_timer_that_fell_behind_skips_to_the_next_tick_ahead() {
        let due = Instant::now();
        let now = due + HZ60 * 5 / 2;
        assert_eq!(next_tick(due, HZ60, now), due + HZ60 * 3);
        // Exactly on a later tick: that tick has come, the next one is ahead.
        assert_eq!(next_tick(due, HZ60, due + HZ60), due + HZ60 * 2);
        assert_eq!(next_tick(due, HZ60, due + HZ60 * 2), due + HZ60 * 3);
    }

    #[test]
    fn frames_of_varying_cost_keep_the_grid_and_a_stall_skips_whole_ticks() {
        let start = Instant::now();
        let mut due = start;
        // Late by 0.1 ms, by 16 ms, by 40 ms (a stall: two ticks are missed), then by 1 ms.
        for (late_us, ticks) in [(100, 1), (16_000, 1), (40_000, 3), (1_000, 1)] {
            let next = next_tick(due, HZ60, due + Duration::from_micros(late_us));
            assert_eq!(next, due + HZ60 * ticks, "late by {late_us} µs");
            due = next;
        }
        assert_eq!(due, start + HZ60 * 6);
    }

    #[test]
    fn failed_renders_wait_one_interval_then_twice_as_long_up_to_a_second_and_start_again() {
        let mut failed = FailedRenders::default();
        let waits: Vec<Duration> = (0..8).map(|_| failed.failed(HZ60)).collect();
        assert_eq!(&waits[..4], &[HZ60, HZ60 * 2, HZ60 * 4, HZ60 * 8]);
        assert_eq!(waits[6], MAX_RETRY_WAIT, "{waits:?}");
        assert_eq!(waits[7], MAX_RETRY_WAIT);
        assert_eq!(failed.succeeded(), 8);
        assert_eq!(
            failed.failed(HZ60),
            HZ60,
            "a new run of failures starts at one interval"
        );
        // Thousands of failures in a row: no overflow, still capped; a slow output waits its
        // own interval at least.
        for _ in 0..5000 {
            failed.failed(HZ60);
        }
        assert_eq!(failed.failed(HZ60), MAX_RETRY_WAIT);
        let slow = Duration::from_secs(2);
        assert_eq!(FailedRenders::default().failed(slow), slow);
    }

    #[test]
    fn a_zero_interval_does_not_panic_or_go_back_in_time() {
        let due = Instant::now();
        let now = due + Duration::from_millis(3);
        assert_eq!(next_tick(due, Duration::ZERO, now), now);
    }
}
