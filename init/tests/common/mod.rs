//! Runs the real exo-init as PID 1 of a new PID (and mount) namespace:
//! `unshare --pid --fork --mount-proc -- exo-init --no-mount ...`.

#![allow(dead_code)]

use std::fs::File;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_exo-init");

/// A scratch directory, removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("exo-init-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("run")).unwrap();
        std::fs::create_dir_all(dir.join("input")).unwrap();
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// `@DIR@` in `text` becomes this directory.
    pub fn expand(&self, text: &str) -> String {
        text.replace("@DIR@", &self.0.display().to_string())
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// exo-init running in its namespace.
pub struct Init {
    child: Child,
    console: PathBuf,
    started: Instant,
}

/// How the run ended.
pub struct Ended {
    pub status: ExitStatus,
    pub console: String,
}

impl Ended {
    /// The signal that ended unshare (it re-raises the one that ended init).
    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }

    /// Asserts the lines appear in this order on the console.
    pub fn assert_in_order(&self, lines: &[&str]) {
        let mut from = 0;
        for line in lines {
            match self.console[from..].find(line) {
                Some(at) => from += at + line.len(),
                None => panic!(
                    "`{line}` missing (or out of order) in console output:\n{}",
                    self.console
                ),
            }
        }
    }
}

impl Init {
    /// Starts exo-init with `config` (`@DIR@` expanded) and extra arguments.
    pub fn start(dir: &Scratch, config: &str, args: &[&str]) -> Init {
        let config_path = dir.path("init.toml");
        std::fs::write(&config_path, dir.expand(config)).unwrap();
        let console = dir.path("console.log");
        let out = File::create(&console).unwrap();
        let err = out.try_clone().unwrap();
        let child = Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "--"])
            .arg(BIN)
            .arg("--no-mount")
            .arg("--config")
            .arg(&config_path)
            .arg("--run-dir")
            .arg(dir.path("run"))
            .arg("--input-dir")
            .arg(dir.path("input"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("unshare (util-linux) runs");
        Init {
            child,
            console,
            started: Instant::now(),
        }
    }

    pub fn console(&self) -> String {
        std::fs::read_to_string(&self.console).unwrap_or_default()
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Init's pid as the host sees it: unshare's child.
    pub fn host_pid(&self) -> i32 {
        let pid = self.child.id();
        let path = format!("/proc/{pid}/task/{pid}/children");
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            if let Some(child) = text.split_whitespace().next() {
                return child.parse().unwrap();
            }
            assert!(Instant::now() < deadline, "unshare started no child");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill has no memory effects.
        assert_eq!(unsafe { libc::kill(self.host_pid(), sig) }, 0);
    }

    /// Waits until `file` (in the scratch dir) contains `text`.
    pub fn wait_for_file(&mut self, dir: &Scratch, file: &str, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !dir.read(file).contains(text) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "init ended ({status}) before {file} had `{text}`:\n{}",
                    self.console()
                );
            }
            if Instant::now() > deadline {
                self.kill();
                panic!(
                    "{file} never had `{text}` (it has `{}`):\n{}",
                    dir.read(file),
                    self.console()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(&mut self) {
        // SIGKILL to a namespace's init ends the whole namespace.
        // SAFETY: as above.
        unsafe { libc::kill(self.host_pid(), libc::SIGKILL) };
        let _ = self.child.wait();
    }

    /// Waits for the namespace to end (10 s at most).
    pub fn wait(mut self) -> Ended {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Ended {
                    status,
                    console: self.console(),
                };
            }
            if Instant::now() > deadline {
                self.kill();
                panic!("init did not end within 10 s:\n{}", self.console());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A capsules folder holding the repository's `hello` capsule.
pub fn capsules_with_hello(dir: &Scratch) -> PathBuf {
    let capsules = dir.path("capsules");
    std::fs::create_dir_all(capsules.join("hello")).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/capsules/hello/Capsule.toml");
    std::fs::copy(repo, capsules.join("hello/Capsule.toml")).unwrap();
    capsules
}
