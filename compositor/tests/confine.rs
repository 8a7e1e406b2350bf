//! Capsule confinement against the real kernel: real processes spawned through
//! `confine::confine_command` (prepare + apply_in_child in pre_exec), observed from outside
//! (exit signals, cgroup files, CPU time) and from inside (/proc/self/*, sockets).
//!
//! CI runs these as root, where everything is enforced. As an ordinary user they check the
//! documented fallback: no uid change, no cgroup, the limits listed as not enforced.

use std::{
    os::unix::process::ExitStatusExt,
    process::{Child, Command, Output, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use nexquelium::capsules::confine::{self, ConfinementPlan, Resources, UID_BASE, UID_SLOTS};

const PYTHON: &str = "/usr/bin/python3";

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A plan whose cgroup is removed when the test ends, pass or fail.
struct Planned(ConfinementPlan);

impl Drop for Planned {
    fn drop(&mut self) {
        if let Some(cgroup) = self.0.cgroup.take() {
            let paths = cgroup.paths();
            let removed = cgroup.remove();
            if !std::thread::panicking() {
                removed.unwrap_or_else(|e| panic!("cannot remove {paths:?}: {e}"));
                for path in paths {
                    assert!(!path.exists(), "{} is left behind", path.display());
                }
            }
        }
    }
}

/// A long-running child that is killed when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn plan(name: &str, net_connect: bool, resources: Resources) -> Planned {
    Planned(confine::plan(name, net_connect, &resources))
}

fn command(plan: &ConfinementPlan, argv: &[&str]) -> Command {
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    confine::confine_command(&mut cmd, plan);
    cmd
}

fn spawn(plan: &ConfinementPlan, argv: &[&str]) -> Child {
    command(plan, argv)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {argv:?} confined: {e}"))
}

/// Run to completion (60 s at most) and collect the output.
fn run(plan: &ConfinementPlan, argv: &[&str]) -> Output {
    let child = spawn(plan, argv);
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(output) => output.expect("wait"),
        Err(_) => {
            // SAFETY: kill(2) on our own child.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("{argv:?} did not finish within 60 s");
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn wait_for(timeout: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// user + system CPU time of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    // After "pid (comm)": state is field 3, utime 14 and stime 15.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    ticks as f64 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// The interface names in a /proc/net/dev text.
fn interfaces(net_dev: &str) -> Vec<String> {
    let mut names: Vec<String> = net_dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, _)| n.trim().to_string())
        .collect();
    names.sort();
    names
}

const NET_PROBE: &str = r#"
import socket
print(*(l.split()[1] for l in open("/proc/self/status") if l.startswith(("CapPrm", "CapEff", "CapBnd"))))
print("if", *sorted(l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]))
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
socket.create_connection(server.getsockname(), timeout=5).sendall(b"hi")
print("loopback", server.accept()[0].recv(2).decode())
try:
    socket.create_connection(("192.0.2.1", 9), timeout=0.5)
    print("outside connected")
except OSError as e:
    print("outside errno", e.errno)
"#;

#[test]
fn without_net_connect_only_lo_exists_and_works() {
    let host = interfaces(&std::fs::read_to_string("/proc/net/dev").unwrap());
    assert!(
        host.iter().any(|i| i != "lo"),
        "the host needs an interface besides lo for this test: {host:?}"
    );

    let denied = plan("t-netns", false, Resources::default());
    if !denied.0.new_netns {
        assert!(!is_root(), "root always gets a network namespace");
        assert_eq!(denied.0.unenforced, ["net.connect"]);
        assert!(confine::describe(&denied.0).ends_with("not enforced: net.connect"));
        return;
    }
    let out = run(&denied.0, &[PYTHON, "-c", NET_PROBE]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("if lo\n"), "only lo is visible: {stdout}");
    // Also on the user-namespace path, where the child briefly held every capability.
    assert!(
        stdout.starts_with(&["0000000000000000"; 3].join(" ")),
        "no capabilities left: {stdout}"
    );
    assert!(
        stdout.contains("loopback hi\n"),
        "lo is up and carries traffic: {stdout}"
    );
    assert!(
        stdout.contains(&format!("outside errno {}\n", libc::ENETUNREACH)),
        "no route out: {stdout}"
    );
    assert!(confine::describe(&denied.0).contains("netns"));

    // With net.connect the same probe sees the host's interfaces.
    let granted = plan("t-netns-granted", true, Resources::default());
    assert!(!granted.0.new_netns);
    let out = run(&granted.0, &["/bin/cat", "/proc/net/dev"]);
    assert_eq!(interfaces(&text(&out.stdout)), host);
}

/// The numbers after `key:` in /proc/self/status.
fn status_field(status: &str, key: &str) -> Vec<String> {
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {status}"));
    line[key.len() + 1..]
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn runs_as_its_own_uid_without_capabilities_in_its_own_session() {
    let secret_dir = std::env::temp_dir().join(format!("nexquelium-confine-secret-{}", std::process::id()));
    std::fs::create_dir_all(&secret_dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secret_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(secret_dir.join("secret"), "s3cret").unwrap();

    let planned = plan("t-uid", true, Resources::default());
    let script = format!(
        "cat /proc/self/status; cat {}/secret >/dev/null 2>&1 && echo secret readable || echo secret denied; \
         exec cat /proc/self/stat",
        secret_dir.display()
    );
    let out = run(&planned.0, &["/bin/sh", "-c", &script]);
    std::fs::remove_dir_all(&secret_dir).unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));

    for caps in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(status_field(&stdout, caps), ["0000000000000000"], "{caps}");
    }
    assert_eq!(status_field(&stdout, "NoNewPrivs"), ["1"]);
    // The last line is the exec'd cat's /proc/self/stat: it kept the pid that called setsid.
    let stat = stdout.lines().last().unwrap();
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    assert_eq!(
        fields[3],
        stat.split(' ').next().unwrap(),
        "session id is the capsule's pid: {stat}"
    );

    if is_root() {
        let (uid, gid) = planned.0.uid_gid.expect("root plans a uid");
        assert!((UID_BASE..UID_BASE + UID_SLOTS).contains(&uid), "{uid}");
        assert_eq!(status_field(&stdout, "Uid"), vec![uid.to_string(); 4]);
        assert_eq!(status_field(&stdout, "Gid"), vec![gid.to_string(); 4]);
        assert!(
            status_field(&stdout, "Groups").is_empty(),
            "no supplementary groups"
        );
        assert_eq!(status_field(&stdout, "CapBnd"), ["0000000000000000"]);
        assert!(
            stdout.contains("secret denied"),
            "a root-only 0700 directory is out of reach: {stdout}"
        );
        assert!(confine::describe(&planned.0).starts_with(&format!("uid {uid}")));
        // Another capsule gets another uid.
        let other = plan("t-uid-other", true, Resources::default());
        assert_ne!(other.0.uid_gid, planned.0.uid_gid);
    } else {
        assert_eq!(planned.0.uid_gid, None);
        // SAFETY: getuid has no preconditions.
        let uid = unsafe { libc::getuid() };
        assert_eq!(status_field(&stdout, "Uid")[0], uid.to_string());
    }
}

const ALLOCATE: &str = "import sys; n = int(sys.argv[1]) << 20; b = bytearray(n); b[::4096] = b'x' * len(b[::4096]); print('allocated', n >> 20)";

#[test]
fn memory_max_oom_kills_the_capsule_and_nothing_else() {
    let planned = plan(
        "t-oom",
        true,
        Resources {
            memory_max: Some(64 << 20),
            ..Default::default()
        },
    );
    let Some(cgroup) = planned.0.cgroup.as_ref() else {
        assert!(!is_root(), "root gets a cgroup here");
        assert_eq!(planned.0.unenforced, ["memory_max"]);
        assert!(confine::describe(&planned.0).ends_with("not enforced: memory_max"));
        return;
    };
    assert!(
        confine::describe(&planned.0).contains("memory 64M"),
        "{}",
        confine::describe(&planned.0)
    );
    // Under the limit python runs fine: the kill below is the limit, not python failing.
    let small = run(&planned.0, &[PYTHON, "-c", ALLOCATE, "16"]);
    assert!(small.status.success(), "{}", text(&small.stderr));
    assert_eq!(text(&small.stdout), "allocated 16\n");
    assert_eq!(cgroup.oom_kills(), Some(0));

    let big = run(&planned.0, &[PYTHON, "-c", ALLOCATE, "300"]);
    assert_eq!(
        big.status.signal(),
        Some(libc::SIGKILL),
        "{:?} {}",
        big.status,
        text(&big.stderr)
    );
    assert!(cgroup.oom_kills().unwrap() >= 1);
    assert!(cgroup.pids().unwrap().is_empty());
}

const FORK_EIGHT: &str =
    "i=0; while [ $i -lt 8 ]; do sleep 30 >/dev/null 2>&1 & i=$((i+1)); done; echo started $i";

#[test]
fn pids_max_refuses_forks_past_the_limit() {
    let limited = plan(
        "t-pids",
        true,
        Resources {
            pids_max: Some(5),
            ..Default::default()
        },
    );
    let Some(cgroup) = limited.0.cgroup.as_ref() else {
        assert!(!is_root(), "root gets a cgroup here");
        assert_eq!(limited.0.unenforced, ["pids_max"]);
        return;
    };
    let out = run(&limited.0, &["/bin/sh", "-c", FORK_EIGHT]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        !out.status.success() && !stdout.contains("started 8"),
        "{stdout}{stderr}"
    );
    assert!(
        stderr.contains("fork"),
        "the shell reports the refused fork: {stderr}"
    );
    let left = cgroup.pids().unwrap();
    assert!(
        !left.is_empty() && left.len() <= 5,
        "the sleeps that did start, within the limit: {left:?}"
    );
    cgroup.kill_all().unwrap();

    // Without the limit the same script starts all eight.
    let free = plan("t-pids-free", true, Resources::default());
    let cgroup = free.0.cgroup.as_ref().unwrap();
    let out = run(&free.0, &["/bin/sh", "-c", FORK_EIGHT]);
    assert_eq!(text(&out.stdout), "started 8\n", "{}", text(&out.stderr));
    assert_eq!(cgroup.pids().unwrap().len(), 8);
    cgroup.kill_all().unwrap();
}

const BUSY: &[&str] = &["/bin/sh", "-c", "while :; do :; done"];

#[test]
fn freeze_stops_progress_and_thaw_resumes_it() {
    let planned = plan("t-freeze", true, Resources::default());
    let Some(cgroup) = planned.0.cgroup.as_ref() else {
        assert!(!is_root(), "root gets a cgroup here");
        assert_eq!(confine::describe(&planned.0), "unconfined");
        return;
    };
    let mut child = Running(spawn(&planned.0, BUSY));
    let pid = child.0.id();
    assert_eq!(
        cgroup.pids().unwrap(),
        [pid],
        "the child joined its cgroup before exec"
    );
    wait_for(Duration::from_secs(10), "the busy loop to use CPU", || {
        cpu_seconds(pid) > 0.0
    });

    cgroup.freeze(true).unwrap();
    let frozen_at = cpu_seconds(pid);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cpu_seconds(pid), frozen_at, "a frozen capsule makes no progress");
    assert_eq!(child.0.try_wait().unwrap(), None);

    cgroup.freeze(false).unwrap();
    wait_for(Duration::from_secs(10), "the thawed loop to run again", || {
        cpu_seconds(pid) > frozen_at
    });

    cgroup.kill_all().unwrap();
    assert_eq!(child.0.wait().unwrap().signal(), Some(libc::SIGKILL));
}

#[test]
fn cpu_max_caps_cpu_time() {
    let planned = plan(
        "t-cpu",
        true,
        Resources {
            cpu_max_percent: Some(20),
            ..Default::default()
        },
    );
    if planned.0.cgroup.is_none() {
        assert!(!is_root(), "root gets a cgroup here");
        assert_eq!(planned.0.unenforced, ["cpu_max"]);
        return;
    }
    let child = Running(spawn(&planned.0, BUSY));
    let pid = child.0.id();
    let start = Instant::now();
    let before = cpu_seconds(pid);
    std::thread::sleep(Duration::from_millis(1500));
    let used = cpu_seconds(pid) - before;
    let wall = start.elapsed().as_secs_f64();
    // 20 ms per 100 ms period, plus a period of slack and the tick granularity.
    assert!(
        used <= 0.2 * wall + 0.12,
        "{used:.2} s of CPU in {wall:.2} s at cpu_max 20%"
    );
    assert!(used > 0.0, "the loop ran at all");
}

#[test]
fn describe_membership_and_cleanup() {
    let resources = Resources {
        memory_max: Some(64 << 20),
        cpu_max_percent: Some(50),
        pids_max: Some(32),
    };
    let mut planned = plan("t-describe", false, resources);
    let description = confine::describe(&planned.0);
    if !is_root() {
        assert!(planned.0.cgroup.is_none());
        assert!(
            description.ends_with("not enforced: memory_max, cpu_max, pids_max"),
            "{description}"
        );
        return;
    }
    let cgroup = planned.0.cgroup.as_ref().unwrap();
    let (uid, _) = planned.0.uid_gid.unwrap();
    let expected = format!(
        "uid {uid}, netns, {} (memory 64M, cpu 50%, pids 32, {})",
        cgroup.backend(),
        if cgroup.backend() == "cgroup1" {
            "freezer"
        } else {
            "freeze"
        }
    );
    assert_eq!(description, expected);
    assert!(planned.0.unenforced.is_empty(), "{:?}", planned.0.unenforced);

    // The child is in the capsule's group in every hierarchy from its first instruction on.
    let out = run(&planned.0, &["/bin/cat", "/proc/self/cgroup"]);
    let own = text(&out.stdout);
    for line in own.lines() {
        let controllers = line.split(':').nth(1).unwrap();
        let confined = match cgroup.backend() {
            "cgroup2" => controllers.is_empty(),
            _ => ["memory", "cpu", "pids", "freezer"]
                .iter()
                .any(|c| controllers.split(',').any(|x| x == *c)),
        };
        if confined {
            assert!(line.ends_with("/exosphere-t-describe"), "{line} in {own}");
        }
    }

    let paths = cgroup.paths();
    assert!(paths.iter().all(|p| p.is_dir()));
    planned.0.cgroup.take().unwrap().remove().unwrap();
    for path in paths {
        assert!(!path.exists(), "{} is removed", path.display());
    }
}
