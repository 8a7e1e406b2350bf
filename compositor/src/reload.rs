//! Config reload on SIGHUP and when the config file is written (inotify on its directory, so
//! editors that replace the file are seen too). A bad file keeps the running config.

use std::{ffi::OsString, mem::MaybeUninit, os::unix::ffi::OsStrExt, path::PathBuf};

use exo_shell::config::Config;
use rustix::fs::inotify;
use smithay::{
    input::keyboard::XkbConfig,
    reexports::calloop::{
        generic::Generic,
        signals::{Signal, Signals},
        Interest, LoopHandle, Mode, PostAction,
    },
};

use crate::state::State;

pub fn watch_sighup(handle: &LoopHandle<'static, State>) -> anyhow::Result<()> {
    let signals =
        Signals::new(&[Signal::SIGHUP]).map_err(|err| anyhow::anyhow!("cannot watch SIGHUP: {err}"))?;
    handle
        .insert_source(signals, |_, _, state| state.reload_config())
        .map_err(|err| anyhow::anyhow!("cannot watch SIGHUP: {err}"))?;
    Ok(())
}

/// Watch the directory holding the config file and reload when that file is written or moved in.
/// Only complete writes count (close-after-write, rename), never a half-written file.
pub fn watch_config_file(handle: &LoopHandle<'static, State>, path: Option<PathBuf>) -> anyhow::Result<()> {
    let Some(path) = path.or_else(exo_shell::config::default_config_path) else {
        return Ok(());
    };
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(());
    };
    if !dir.is_dir() {
        tracing::debug!(dir = %dir.display(), "config directory does not exist; not watching it");
        return Ok(());
    }
    let fd = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
        .map_err(|err| anyhow::anyhow!("cannot watch the config file: {err}"))?;
    inotify::add_watch(
        &fd,
        dir,
        inotify::WatchFlags::CLOSE_WRITE | inotify::WatchFlags::MOVED_TO,
    )
    .map_err(|err| anyhow::anyhow!("cannot watch {}: {err}", dir.display()))?;
    let name: OsString = name.to_owned();
    handle
        .insert_source(
            Generic::new(fd, Interest::READ, Mode::Level),
            move |_, fd, state| {
                let mut buf = [MaybeUninit::uninit(); 4096];
                let mut reader = inotify::Reader::new(&*fd, &mut buf);
                let mut ours = false;
                loop {
                    match reader.next() {
                        Ok(event) => {
                            ours |= event.file_name().is_some_and(|f| f.to_bytes() == name.as_bytes());
                        }
                        Err(rustix::io::Errno::AGAIN) => break,
                        Err(err) => {
                            tracing::warn!(%err, "reading config watch events failed");
                            break;
                        }
                    }
                }
                if ours {
                    state.reload_config();
                }
                Ok(PostAction::Continue)
            },
        )
        .map_err(|err| anyhow::anyhow!("cannot watch the config file: {err}"))?;
    Ok(())
}

impl State {
    pub fn reload_config(&mut self) {
        let path = self.nexq.config_path.clone();
        let loaded = Config::load_or_default(path.as_deref());
        let config = match loaded {
            Ok((config, _)) => config,
            Err(err) => {
                tracing::error!("config not reloaded, keeping the running one: {err}");
                return;
            }
        };
        if let Some(keyboard) = self.nexq.seat.get_keyboard() {
            let kb = &config.keyboard;
            let xkb = XkbConfig {
                rules: &kb.rules,
                model: &kb.model,
                layout: &kb.layout,
                variant: &kb.variant,
                options: (!kb.options.is_empty()).then(|| kb.options.clone()),
            };
            if let Err(err) = keyboard.set_xkb_config(self, xkb) {
                tracing::error!(?err, "config not reloaded: the keymap does not compile");
                return;
            }
            keyboard.change_repeat_info(kb.repeat_rate as i32, kb.repeat_delay as i32);
        }
        self.nexq.keyboard_map = None;
        self.nexq.layout.set_placement(config.layout.placement);
        self.nexq.config = config;
        self.nexq.labels_epoch += 1;
        tracing::info!("config reloaded");
        self.nexq.sync_space();
        self.queue_redraw();
    }
}
