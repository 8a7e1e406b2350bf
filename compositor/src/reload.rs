//! Config reload on SIGHUP: a bad file keeps the running config and logs why.

use exo_shell::config::Config;
use smithay::{
    input::keyboard::XkbConfig,
    reexports::calloop::{
        signals::{Signal, Signals},
        LoopHandle,
    },
};

use crate::{keyboard_map::KeyboardMap, state::State};

pub fn watch_sighup(handle: &LoopHandle<'static, State>) -> anyhow::Result<()> {
    let signals =
        Signals::new(&[Signal::SIGHUP]).map_err(|err| anyhow::anyhow!("cannot watch SIGHUP: {err}"))?;
    handle
        .insert_source(signals, |_, _, state| state.reload_config())
        .map_err(|err| anyhow::anyhow!("cannot watch SIGHUP: {err}"))?;
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
        let keyboard_map = match KeyboardMap::new(&config.keyboard) {
            Ok(map) => map,
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
        self.nexq.keyboard_map = keyboard_map;
        self.nexq.config = config;
        tracing::info!("config reloaded");
        self.nexq.sync_space();
        self.queue_redraw();
    }
}
