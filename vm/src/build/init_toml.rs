//! `/etc/exosphere/init.toml`: exo-init's services in the image (format: docs/exo-init.md,
//! init/src/config.rs), and the test variant's fault injector script.

use super::Variant;

/// The environment Nexquelium (and through it every capsule) starts with.
const NEXQUELIUM_ENV: &[(&str, &str)] = &[
    ("XDG_RUNTIME_DIR", "/run/exosphere"),
    ("EXO_INIT", "1"),
    ("HOME", "/root"),
    ("PATH", "/usr/local/bin:/usr/bin:/usr/sbin"),
    ("RUST_LOG", "info"),
    // On the data partition when the disk has one (see DATA_MOUNT): the user's configuration,
    // Sentry's event log and the capsules' homes survive a reboot.
    ("XDG_CONFIG_HOME", "/var/lib/exosphere/config"),
    ("XDG_STATE_HOME", "/var/lib/exosphere/state"),
    // Outside the (private, 0700) state directory: capsules run under their own uids.
    ("NEXQUELIUM_CAPSULE_HOMES", "/var/lib/exosphere/homes"),
    ("LIBSEAT_BACKEND", "builtin"),
    // foot refuses a locale that is not UTF-8; glibc's C.UTF-8 ships in the image.
    ("LANG", "C.UTF-8"),
    // The serial console is a log file, not a terminal: no colour escapes.
    ("NO_COLOR", "1"),
];

/// Where the disk image's data partition goes, and the ready command that mounts it once
/// coldplug has loaded the disk and ext4 modules (`exo-vm disk` labels it `exosphere-data`;
/// booted from the initramfs alone there is none, and the directory stays in memory).
pub const DATA_DIR: &str = "/var/lib/exosphere";
const DATA_MOUNT: &[&str] = &[
    "/init",
    "--mount-label",
    "exosphere-data",
    "--mount-at",
    DATA_DIR,
    "--mount-optional",
];

fn quote(s: &str) -> String {
    // TOML basic strings share JSON's escapes for everything we write.
    serde_json::to_string(s).expect("a string serializes")
}

fn argv(args: &[&str]) -> String {
    let items: Vec<String> = args.iter().map(|a| quote(a)).collect();
    format!("[{}]", items.join(", "))
}

/// The file's text for `variant`.
pub fn render(variant: Variant) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "# exo-init's services. Written by `exo-vm build --variant {}`.\n\n",
        variant.name()
    ));
    s.push_str("[shutdown]\ngrace = 3\n\n");

    s.push_str("# The distribution's udev daemon in the foreground (init supervises it); coldplug\n");
    s.push_str("# loads the kernel modules and tags input devices for libinput.\n");
    s.push_str("[[service]]\nname = \"udevd\"\n");
    s.push_str(&format!("exec = {}\n", argv(&["/usr/lib/systemd/systemd-udevd"])));
    s.push_str("ready = [\n");
    for cmd in [
        &["/usr/bin/udevadm", "trigger", "--type=subsystems", "--action=add"][..],
        &["/usr/bin/udevadm", "trigger", "--type=devices", "--action=add"][..],
        &["/usr/bin/udevadm", "settle", "--timeout=30"][..],
        DATA_MOUNT,
    ] {
        s.push_str(&format!("  {},\n", argv(cmd)));
    }
    s.push_str("]\nrestart = \"always\"\n\n");

    s.push_str("# The compositor on DRM; it starts the autostart capsules (the Sentry dashboard).\n");
    s.push_str("[[service]]\nname = \"nexquelium\"\n");
    s.push_str(&format!(
        "exec = {}\n",
        argv(&["/usr/bin/nexquelium", "--backend", "drm"])
    ));
    let env: Vec<String> = NEXQUELIUM_ENV
        .iter()
        .map(|(k, v)| format!("{k} = {}", quote(v)))
        .collect();
    s.push_str(&format!("env = {{ {} }}\n", env.join(", ")));
    s.push_str("after = [\"udevd\"]\nrestart = \"always\"\n");

    if variant == Variant::Test {
        s.push_str("\n# TEST VARIANT ONLY: reads commands from /dev/ttyS1 (a unix socket on the host).\n");
        s.push_str("[[service]]\nname = \"fault\"\n");
        s.push_str(&format!("exec = {}\n", argv(&["/bin/sh", FAULT_SH_PATH])));
        // It exits 0 when the VM has no second serial port: nothing to restart then.
        s.push_str("restart = \"on-failure\"\n");
    }
    s
}

/// Where the test variant's fault injector lives in the image.
pub const FAULT_SH_PATH: &str = "/usr/libexec/exosphere/fault.sh";

/// The fault injector: dash only (no coreutils in the image). Reads lines from the second
/// serial port; `kill-nexquelium` sends SIGKILL to every process named nexquelium,
/// `plane-state` copies the kernel's atomic DRM state (which framebuffer each plane shows,
/// where) to the console; `nexquelium-switches` prints the voluntary and involuntary context
/// switches of the compositor's threads so far (and those of libseat's seatd child, also named
/// nexquelium).
pub const FAULT_SH: &str = r#"#!/bin/sh
# Exosphere TEST image only: fault injection over the second serial port (ttyS1).
# Commands, one per line:
#   kill-nexquelium   SIGKILL the compositor (exo-init must restart it)
#   plane-state       print the kernel's DRM plane state (debugfs) on the console
#   nexquelium-switches  print the voluntary and involuntary context switches so far
#                        of every thread of every process named nexquelium, then "end"
# Without a second serial port (QEMU started without one) there is nothing to listen to.
if ! { true </dev/ttyS1; } 2>/dev/null; then
  echo "exo-fault: /dev/ttyS1 is not there; fault injection is off" >/dev/console
  exit 0
fi
# The /proc directories of the processes named nexquelium (the compositor, and the seatd
# child libseat's builtin backend forks), one per line.
nexquelium_procs() {
  for d in /proc/[0-9]*; do
    comm=
    read -r comm 2>/dev/null <"$d/comm" || continue
    [ "$comm" = nexquelium ] && echo "$d"
  done
}
exec </dev/ttyS1
while read -r cmd; do
  case "$cmd" in
    kill-nexquelium)
      for d in $(nexquelium_procs); do
        pid=${d#/proc/}
        kill -KILL "$pid" && echo "exo-fault: killed nexquelium $pid" >/dev/console
      done
      ;;
    plane-state)
      while IFS= read -r line; do
        echo "exo-plane: $line"
      done </sys/kernel/debug/dri/0/state >/dev/console 2>&1 ||
        echo "exo-fault: cannot read /sys/kernel/debug/dri/0/state" >/dev/console
      echo "exo-plane: end" >/dev/console
      ;;
    nexquelium-switches)
      v=0 n=0
      for d in $(nexquelium_procs); do
        for t in "$d"/task/*; do
          { while read -r key value; do
            case "$key" in
              voluntary_ctxt_switches:) v=$((v + value)) ;;
              nonvoluntary_ctxt_switches:) n=$((n + value)) ;;
            esac
          done; } 2>/dev/null <"$t/status"
        done
      done
      # One line, ended by a word of its own: the serial port may cut it in two.
      echo "exo-switches: $v $n end" >/dev/console
      ;;
    "") ;;
    *) echo "exo-fault: unknown command: $cmd" >/dev/console ;;
  esac
done
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_service_only_in_the_test_variant() {
        let shipped = render(Variant::Shipped);
        let test = render(Variant::Test);
        assert!(!shipped.contains("fault"), "{shipped}");
        assert!(test.contains("name = \"fault\""), "{test}");
        assert!(test.contains(FAULT_SH_PATH));
        for t in [&shipped, &test] {
            assert!(t.contains("[\"/usr/bin/nexquelium\", \"--backend\", \"drm\"]"));
            assert!(t.contains("LIBSEAT_BACKEND = \"builtin\""));
            assert!(t.contains("after = [\"udevd\"]"));
            assert!(t.contains("\"--mount-label\", \"exosphere-data\""), "{t}");
            assert!(t.contains("XDG_STATE_HOME = \"/var/lib/exosphere/state\""), "{t}");
            assert!(t.contains("\"--type=devices\""));
        }
    }
}
