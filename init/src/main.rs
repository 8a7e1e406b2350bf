//! exo-init: Exosphere's PID 1. See docs/exo-init.md.
//!
//! It never exits: errors are printed as `exo-init: ...` on the console and
//! it goes on; a panic in the main path is caught and leads to the emergency
//! loop, which still reaps children and can power off.

mod cmdline;
mod config;
mod console;
mod data_mount;
mod event_loop;
mod first_program;
mod log;
mod mounts;
mod options;
mod power;
mod power_button;
mod reap;
mod services;
mod signals;
mod spawn;
mod supervisor;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::ExitCode;

use crate::cmdline::Run;
use crate::config::Config;
use crate::log::say;
use crate::options::Options;
use crate::power::{Kind, Plan};

fn main() -> ExitCode {
    let options = Options::parse(std::env::args().skip(1));
    // SAFETY: getpid has no preconditions.
    let pid1 = unsafe { libc::getpid() } == 1;
    if !pid1 {
        return not_pid1(&options);
    }
    std::panic::set_hook(Box::new(|info| say!("panic: {info}")));
    if catch_unwind(AssertUnwindSafe(|| boot(&options))).is_err() {
        say!("the main loop panicked");
    }
    power::emergency_loop()
}

/// Outside PID 1: help, version, check; anything else is refused (init
/// would otherwise kill every process it can see at shutdown).
fn not_pid1(options: &Options) -> ExitCode {
    if options.help {
        print!("{}", options::HELP);
        return ExitCode::SUCCESS;
    }
    if options.version {
        println!("exo-init {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    if let Some(arg) = options.ignored.first() {
        eprintln!("exo-init: unknown or incomplete argument `{arg}` (see --help)");
        return ExitCode::from(2);
    }
    if options.check {
        return check(options);
    }
    if let Some(m) = &options.mount {
        return match data_mount::mount(m) {
            Ok(said) => {
                println!("exo-init: {said}");
                ExitCode::SUCCESS
            }
            Err(why) => {
                eprintln!("exo-init: {why}");
                ExitCode::FAILURE
            }
        };
    }
    eprintln!(
        "exo-init: not PID 1; this is the system's init and only runs as PID 1 \
         (the kernel's, or a PID namespace's: unshare --pid --fork). See --help."
    );
    ExitCode::from(2)
}

/// `--check`: the services file and, with `exo.run`, the capsule.
fn check(options: &Options) -> ExitCode {
    let mut ok = true;
    match Config::load(&options.config) {
        Ok(None) => println!("{}: does not exist (no services)", options.config.display()),
        Ok(Some(config)) => {
            println!("{}: {} services", options.config.display(), config.services.len());
            for s in &config.services {
                println!(
                    "  {} (restart {}): {}",
                    s.name,
                    s.restart.as_str(),
                    spawn::display_argv(&s.exec)
                );
            }
        }
        Err(e) => {
            eprintln!("exo-init: {e}");
            ok = false;
        }
    }
    if let Ok(text) = options.read_cmdline() {
        match cmdline::run_request(&cmdline::parse(&text)) {
            Run::Services => {}
            Run::Invalid(why) => {
                eprintln!("exo-init: {why}");
                ok = false;
            }
            Run::Capsule(name) => {
                let path = options.capsules_dir.join(&name).join("Capsule.toml");
                match exo_shell::capsule::Manifest::load(&path) {
                    Ok(m) => println!("exo.run={name}: {}", spawn::display_argv(&m.exec)),
                    Err(e) => {
                        eprintln!("exo-init: exo.run={name}: {e}");
                        ok = false;
                    }
                }
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The normal life of PID 1; returns only if powering off failed.
fn boot(options: &Options) {
    if let Err(e) = signals::block_all() {
        say!("cannot block signals: {e}");
    }
    if !options.no_mount {
        let messages = mounts::mount_all();
        if let Err(e) = console::setup() {
            say!("cannot open /dev/console: {e}");
        }
        for m in messages {
            say!("{m}");
        }
        if let Err(e) = console::disable_hard_cad() {
            say!("cannot disable hard Ctrl-Alt-Del: {e}");
        }
    }
    let _ = std::env::set_current_dir("/");
    say!("started (exo-init {})", env!("CARGO_PKG_VERSION"));
    for arg in &options.ignored {
        say!("ignoring argument `{arg}`");
    }
    let signals = match signals::SignalFd::new() {
        Ok(fd) => fd,
        Err(e) => {
            say!("cannot create the signalfd: {e}");
            return;
        }
    };

    let cmdline = options.read_cmdline().unwrap_or_else(|e| {
        say!("{e}");
        String::new()
    });
    let params = cmdline::parse(&cmdline);
    let config = match Config::load(&options.config) {
        Ok(Some(config)) => config,
        Ok(None) => {
            say!("{} does not exist; no services", options.config.display());
            Config::default()
        }
        Err(e) => {
            say!("{e}; starting no services");
            Config::default()
        }
    };
    let grace = config.shutdown.grace;
    let plan = |kind| Plan {
        kind,
        grace,
        unmount: !options.no_mount,
        signals: Some(&signals),
    };

    match cmdline::run_request(&params) {
        Run::Capsule(name) => {
            let kind = first_program::run(&name, &options.capsules_dir, !options.no_mount, &signals);
            power::shutdown(&plan(kind), None);
        }
        Run::Invalid(why) => {
            say!("{why}");
            power::shutdown(&plan(Kind::PowerOff), None);
        }
        Run::Services => {
            let (kind, mut sup) = event_loop::run(&config, &options.run_dir, &options.input_dir, &signals);
            power::shutdown(&plan(kind), Some(&mut sup));
        }
    }
}
