//! `exoctl capsules`, `run`, `start`/`stop`/`restart`, `grant`/`revoke`
//! and `logs` against the fake server.

use std::process::Output;

use serde_json::{json, Value};

use super::{exoctl, exoctl_at, run_ok, temp_dir, FakeServer, TempDir};

/// A `capsules` entry as the compositor sends it.
fn capsule(name: &str, status: Value, uptime_s: Option<u64>, caps: &[&str], confinement: &str) -> Value {
    let pid = status.get("pid").cloned().unwrap_or(Value::Null);
    json!({
        "name": name, "status": status, "pid": pid, "uptime_s": uptime_s, "restarts": 1,
        "capabilities": caps, "confinement": confinement, "color": "#4a90d9",
        "source": format!("/etc/exosphere/capsules/{name}/Capsule.toml"),
    })
}

fn sample_capsules() -> Value {
    json!([
        capsule(
            "terminal",
            json!({"state": "running", "pid": 1234, "since_ms": 5021}),
            Some(192),
            &["display.window", "net.connect"],
            "uid 60001, no network",
        ),
        capsule("clock", json!({"state": "stopped"}), None, &[], ""),
        capsule(
            "panel",
            json!({"state": "running", "pid": 99, "since_ms": 1}),
            Some(3720),
            &["display.window", "display.layer"],
            "uid 60002",
        ),
        capsule(
            "editor",
            json!({"state": "backoff", "restart_in_ms": 400}),
            Some(5),
            &["display.window"],
            ""
        ),
    ])
}

#[test]
fn capsules_prints_a_table() {
    let (request, stdout) = run_ok(&["capsules"], json!({ "ok": sample_capsules() }));
    assert_eq!(request, json!({"request": "capsules"}));
    let lines: Vec<&str> = stdout.lines().collect();
    let words = |i: usize| lines[i].split_whitespace().collect::<Vec<_>>();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert_eq!(
        words(0),
        [
            "name",
            "state",
            "pid",
            "uptime",
            "restarts",
            "capabilities",
            "confinement"
        ]
    );
    assert_eq!(
        words(1),
        [
            "terminal",
            "running",
            "1234",
            "3m12s",
            "1",
            "display.window,net.connect",
            "uid",
            "60001,",
            "no",
            "network"
        ]
    );
    assert_eq!(words(2), ["clock", "stopped", "-", "-", "1", "none", "-"]);
    assert_eq!(
        words(3),
        [
            "panel",
            "running",
            "99",
            "1h02m",
            "1",
            "display.window,display.layer",
            "uid",
            "60002"
        ]
    );
    assert_eq!(
        words(4),
        ["editor", "backoff", "-", "5s", "1", "display.window", "-"]
    );
    // Columns line up.
    assert_eq!(lines[0].find("uptime"), lines[1].find("3m12s"));
    assert_eq!(lines[0].find("confinement"), lines[1].find("uid 60001"));
}

#[test]
fn capsules_json_prints_the_array_as_received() {
    let (request, stdout) = run_ok(&["capsules", "--json"], json!({ "ok": sample_capsules() }));
    assert_eq!(request, json!({"request": "capsules"}));
    assert_eq!(stdout.lines().count(), 1, "one JSON array: {stdout}");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).expect("json"),
        sample_capsules()
    );
}

#[test]
fn run_sends_argv_and_capabilities() {
    let (request, stdout) = run_ok(
        &[
            "run",
            "--name",
            "scratch",
            "--cap",
            "display.window",
            "--cap",
            "net.connect",
            "--",
            "foot",
            "-e",
            "sh",
            "-c",
            "ls --all",
        ],
        json!({"ok": {"name": "scratch", "pid": 4242}}),
    );
    assert_eq!(
        request,
        json!({"request": "run", "name": "scratch", "capabilities": ["display.window", "net.connect"],
               "argv": ["foot", "-e", "sh", "-c", "ls --all"]})
    );
    assert_eq!(stdout, "started scratch (pid 4242)\n");
    // No name, no capabilities: the fields are left out; `--` is optional.
    let (request, stdout) = run_ok(
        &["run", "weston-simple-shm"],
        json!({"ok": {"name": "weston-simple-shm", "pid": 7}}),
    );
    assert_eq!(request, json!({"request": "run", "argv": ["weston-simple-shm"]}));
    assert_eq!(stdout, "started weston-simple-shm (pid 7)\n");
}

/// `exoctl run --wait …` against a server that answers `run`, then each of
/// `states` (the capsule's status) to a `capsules` poll.
fn run_wait(states: &[Value]) -> (Output, Vec<Value>) {
    let mut replies = vec![json!({"ok": {"name": "job", "pid": 77}})];
    for state in states {
        let other = capsule(
            "terminal",
            json!({"state": "running", "pid": 5, "since_ms": 0}),
            Some(1),
            &[],
            "",
        );
        replies.push(json!({"ok": [other, capsule("job", state.clone(), None, &[], "")]}));
    }
    let server = FakeServer::script(replies);
    let out = exoctl_at(
        &server,
        &["run", "--wait", "--name", "job", "--", "sh", "-c", "exit 3"],
    );
    (out, server.requests())
}

#[test]
fn run_wait_exits_with_the_capsule_exit_code() {
    let running = json!({"state": "running", "pid": 77, "since_ms": 10});
    let exited = json!({"state": "exited", "code": 3, "signal": null});
    let start = std::time::Instant::now();
    let (out, requests) = run_wait(&[running.clone(), running, exited]);
    let elapsed = start.elapsed();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "started job (pid 77)\n");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        requests[0],
        json!({"request": "run", "name": "job", "argv": ["sh", "-c", "exit 3"]})
    );
    assert_eq!(requests[1..], vec![json!({"request": "capsules"}); 3]);
    // It polls every 100 ms: two waits after the two "running" answers.
    assert!(elapsed >= std::time::Duration::from_millis(190), "{elapsed:?}");
}

#[test]
fn run_wait_maps_signals_failures_and_stops() {
    let cases = [
        (json!({"state": "exited", "code": 0, "signal": null}), 0),
        (json!({"state": "exited", "code": null, "signal": 9}), 137),
        (json!({"state": "failed", "reason": "cannot execute sh"}), 1),
        (json!({"state": "stopped"}), 0),
    ];
    for (state, code) in cases {
        let (out, requests) = run_wait(&[json!({"state": "backoff", "restart_in_ms": 200}), state.clone()]);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{state}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(requests.len(), 3, "{state}");
    }
}

#[test]
fn run_wait_fails_when_the_capsule_disappears() {
    let server = FakeServer::script(vec![json!({"ok": {"name": "job", "pid": 77}}), json!({"ok": []})]);
    let out = exoctl_at(&server, &["run", "--wait", "true"]);
    assert_eq!(server.requests().len(), 2);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "exoctl: capsule \"job\" is no longer listed, so how it ended is unknown\n"
    );
}

#[test]
fn capsule_actions() {
    let ok = json!({"ok": null});
    let cases: &[(&[&str], Value)] = &[
        (
            &["start", "terminal"],
            json!({"request": "capsule_start", "name": "terminal"}),
        ),
        (
            &["stop", "terminal"],
            json!({"request": "capsule_stop", "name": "terminal"}),
        ),
        (
            &["restart", "terminal"],
            json!({"request": "capsule_restart", "name": "terminal"}),
        ),
        (
            &["grant", "terminal", "net.connect"],
            json!({"request": "grant", "name": "terminal", "capability": "net.connect"}),
        ),
        (
            &["revoke", "terminal", "display.layer"],
            json!({"request": "revoke", "name": "terminal", "capability": "display.layer"}),
        ),
    ];
    for (args, expected) in cases {
        let (request, stdout) = run_ok(args, ok.clone());
        assert_eq!(&request, expected, "exoctl {args:?}");
        assert_eq!(stdout, "", "nothing printed on success");
    }
}

#[test]
fn logs_prints_the_text_as_is() {
    let text = "first line\nsecond line, no newline at the end";
    let reply = json!({"ok": {"name": "terminal", "path": "/run/user/0/terminal.log", "text": text}});
    let (request, stdout) = run_ok(&["logs", "terminal"], reply.clone());
    assert_eq!(request, json!({"request": "logs", "name": "terminal"}));
    assert_eq!(stdout, text);
    let (request, _) = run_ok(&["logs", "terminal", "--tail", "4096"], reply.clone());
    assert_eq!(
        request,
        json!({"request": "logs", "name": "terminal", "tail_bytes": 4096})
    );
    let (_, stdout) = run_ok(&["--json", "logs", "terminal"], reply.clone());
    assert_eq!(serde_json::from_str::<Value>(&stdout).expect("json"), reply["ok"]);
}

#[test]
fn bad_capability_fails_before_connecting() {
    let tmp = TempDir(temp_dir());
    let dir = tmp.0.clone();
    for args in [
        &["--socket", "/nonexistent/s", "grant", "terminal", "net.conect"][..],
        &["--socket", "/nonexistent/s", "revoke", "terminal", "net.conect"],
        &[
            "--socket",
            "/nonexistent/s",
            "run",
            "--cap",
            "net.conect",
            "--",
            "foot",
        ],
    ] {
        let out = exoctl(args, &dir);
        assert_eq!(out.status.code(), Some(2), "usage error for {args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("unknown capability \"net.conect\" (did you mean net.connect?)"),
            "{stderr}"
        );
        assert!(!stderr.contains("cannot connect"), "{stderr}");
    }
    let out = exoctl(&["--socket", "/nonexistent/s", "run", "--wait"], &dir);
    assert_eq!(out.status.code(), Some(2), "run needs a command");
}
