//! Command-line options. As PID 1 the kernel may pass leftover boot
//! parameters in argv, so unknown arguments are then ignored, never fatal.

use std::path::PathBuf;

pub const HELP: &str = "\
exo-init: Exosphere's PID 1 (mounts, console, reaping, signals, services, shutdown)

Usage: exo-init [OPTIONS]

The kernel runs it as /init. It mounts /proc, /sys, /dev, /dev/pts, /dev/shm,
/run and cgroup2, opens /dev/console, starts the services in
/etc/exosphere/init.toml and supervises them. With `exo.run=NAME` on the kernel
command line it runs capsule NAME as the first program instead, then powers off.
Signals: SIGINT reboots; SIGPWR, SIGUSR1 and SIGTERM power off. See docs/exo-init.md.

Outside PID 1 only --help, --version, --check and --mount-label run; as PID 1 unknown
arguments are ignored.

Options:
  --config PATH        services file [default: /etc/exosphere/init.toml]
  --cmdline TEXT       kernel command line to use instead of /proc/cmdline
  --cmdline-file PATH  read the kernel command line from PATH instead
  --capsules-dir DIR   capsule manifests for exo.run [default: /etc/exosphere/capsules]
  --run-dir DIR        where the status file is written [default: /run/exo-init]
  --input-dir DIR      where power buttons are looked for [default: /dev/input]
  --no-mount           skip mounting, console setup, Ctrl-Alt-Del and unmounting
                       (for tests in a PID namespace)
  --check              check the services file (and exo.run's capsule), print a summary, exit
  --mount-label LABEL  mount the ext2/3/4 filesystem labelled LABEL (found by reading the
                       superblocks of /dev's block devices) at --mount-at, then exit; the
                       image runs this after udev's coldplug for its data partition
  --mount-at DIR       where --mount-label mounts [default: /var/lib/exosphere]
  --mount-type TYPE    the filesystem type to mount it as [default: ext4]
  --mount-optional     a missing filesystem is not an error (exit 0)
  -h, --help           print this help
  -V, --version        print the version
";

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub config: PathBuf,
    pub cmdline: Cmdline,
    pub capsules_dir: PathBuf,
    pub run_dir: PathBuf,
    pub input_dir: PathBuf,
    pub no_mount: bool,
    pub check: bool,
    /// `--mount-label` and its companions: mount a data filesystem and exit.
    pub mount: Option<crate::data_mount::DataMount>,
    pub help: bool,
    pub version: bool,
    /// Arguments that were not understood (ignored as PID 1).
    pub ignored: Vec<String>,
}

/// Where the kernel command line comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmdline {
    Proc,
    Text(String),
    File(PathBuf),
}

impl Default for Options {
    fn default() -> Self {
        Options {
            config: PathBuf::from(crate::config::DEFAULT_PATH),
            cmdline: Cmdline::Proc,
            capsules_dir: PathBuf::from("/etc/exosphere/capsules"),
            run_dir: PathBuf::from("/run/exo-init"),
            input_dir: PathBuf::from("/dev/input"),
            no_mount: false,
            check: false,
            mount: None,
            help: false,
            version: false,
            ignored: Vec::new(),
        }
    }
}

impl Options {
    /// Parses `args` (without argv[0]). Unknown arguments and options missing
    /// their value end up in `ignored`; the caller decides whether that is fatal.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Options {
        let mut o = Options::default();
        let (mut mount_at, mut mount_type, mut mount_optional) = (None, None, false);
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            let takes_value = matches!(
                flag.as_str(),
                "--config"
                    | "--cmdline"
                    | "--cmdline-file"
                    | "--capsules-dir"
                    | "--run-dir"
                    | "--input-dir"
                    | "--mount-label"
                    | "--mount-at"
                    | "--mount-type"
            );
            if takes_value {
                let Some(value) = inline.or_else(|| args.next()) else {
                    o.ignored.push(arg);
                    continue;
                };
                match flag.as_str() {
                    "--config" => o.config = value.into(),
                    "--cmdline" => o.cmdline = Cmdline::Text(value),
                    "--cmdline-file" => o.cmdline = Cmdline::File(value.into()),
                    "--capsules-dir" => o.capsules_dir = value.into(),
                    "--run-dir" => o.run_dir = value.into(),
                    "--mount-label" => {
                        o.mount = Some(crate::data_mount::DataMount {
                            label: value,
                            target: PathBuf::new(),
                            fstype: String::new(),
                            optional: false,
                        })
                    }
                    "--mount-at" => mount_at = Some(PathBuf::from(value)),
                    "--mount-type" => mount_type = Some(value),
                    _ => o.input_dir = value.into(),
                }
                continue;
            }
            match (flag.as_str(), inline) {
                ("--no-mount", None) => o.no_mount = true,
                ("--check", None) => o.check = true,
                ("--mount-optional", None) => mount_optional = true,
                ("-h" | "--help", None) => o.help = true,
                ("-V" | "--version", None) => o.version = true,
                _ => o.ignored.push(arg),
            }
        }
        if let Some(m) = &mut o.mount {
            m.target = mount_at.unwrap_or_else(|| PathBuf::from("/var/lib/exosphere"));
            m.fstype = mount_type.unwrap_or_else(|| "ext4".into());
            m.optional = mount_optional;
        }
        o
    }

    /// The kernel command line text ("" when it cannot be read, with a message).
    pub fn read_cmdline(&self) -> Result<String, String> {
        let path = match &self.cmdline {
            Cmdline::Text(text) => return Ok(text.clone()),
            Cmdline::Proc => PathBuf::from("/proc/cmdline"),
            Cmdline::File(path) => path.clone(),
        };
        std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Options {
        Options::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn mount_label_with_defaults_and_overrides() {
        let m = parse(&["--mount-label", "exosphere-data", "--mount-optional"])
            .mount
            .unwrap();
        assert_eq!(m.label, "exosphere-data");
        assert_eq!(m.target, PathBuf::from("/var/lib/exosphere"));
        assert_eq!((m.fstype.as_str(), m.optional), ("ext4", true));
        let m = parse(&["--mount-at=/data", "--mount-type", "ext2", "--mount-label=x"])
            .mount
            .unwrap();
        assert_eq!(
            (m.target, m.fstype, m.optional),
            (PathBuf::from("/data"), "ext2".into(), false)
        );
        assert_eq!(parse(&["--mount-at", "/data"]).mount, None);
    }

    #[test]
    fn defaults() {
        let o = parse(&[]);
        assert_eq!(o, Options::default());
        assert_eq!(o.config, PathBuf::from("/etc/exosphere/init.toml"));
        assert_eq!(o.cmdline, Cmdline::Proc);
    }

    #[test]
    fn values_separate_or_inline() {
        let o = parse(&[
            "--config",
            "/t/init.toml",
            "--cmdline=exo.run=hello quiet",
            "--capsules-dir",
            "/t/caps",
            "--run-dir=/t/run",
            "--input-dir",
            "/t/input",
            "--no-mount",
        ]);
        assert_eq!(o.config, PathBuf::from("/t/init.toml"));
        assert_eq!(o.cmdline, Cmdline::Text("exo.run=hello quiet".into()));
        assert_eq!(o.capsules_dir, PathBuf::from("/t/caps"));
        assert_eq!(o.run_dir, PathBuf::from("/t/run"));
        assert_eq!(o.input_dir, PathBuf::from("/t/input"));
        assert!(o.no_mount && o.ignored.is_empty());
        assert_eq!(
            parse(&["--cmdline-file", "/f"]).cmdline,
            Cmdline::File("/f".into())
        );
    }

    #[test]
    fn unknown_and_incomplete_arguments_are_collected() {
        let o = parse(&["splash", "--frobnicate", "--no-mount=yes", "--config"]);
        assert_eq!(
            o.ignored,
            ["splash", "--frobnicate", "--no-mount=yes", "--config"]
        );
        assert!(!o.no_mount);
    }

    #[test]
    fn help_version_check() {
        assert!(parse(&["--help"]).help && parse(&["-h"]).help);
        assert!(parse(&["-V"]).version && parse(&["--check"]).check);
    }
}
