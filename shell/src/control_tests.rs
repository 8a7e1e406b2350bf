//! Tests for `control`: wire format, error messages, socket path, client.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;

use proptest::prelude::*;
use serde_json::json;

use super::*;

fn every_request() -> Vec<Request> {
    vec![
        Request::Version,
        Request::Outputs,
        Request::Windows { follow: false },
        Request::Windows { follow: true },
        Request::Screenshot {
            path: "/tmp/a.png".into(),
            output: None,
        },
        Request::Screenshot {
            path: "/tmp/b.png".into(),
            output: Some("HEADLESS-1".into()),
        },
        Request::OutputCreate {
            width: 1280,
            height: 720,
        },
        Request::OutputRemove {
            name: "HEADLESS-2".into(),
        },
        Request::Key {
            combo: "super+q".into(),
        },
        Request::Type {
            text: "héllo \"world\"\n".into(),
        },
        Request::PointerMove { x: 10.5, y: -3.0 },
        Request::PointerButton {
            button: PointerButton::Left,
            state: None,
        },
        Request::PointerButton {
            button: PointerButton::Middle,
            state: Some(ButtonState::Press),
        },
        Request::PointerButton {
            button: PointerButton::Right,
            state: Some(ButtonState::Release),
        },
        Request::Capsules,
        Request::CapsuleStart {
            name: "terminal".into(),
        },
        Request::CapsuleStop {
            name: "terminal".into(),
        },
        Request::CapsuleRestart {
            name: "terminal".into(),
        },
        Request::Grant {
            name: "terminal".into(),
            capability: "net.connect".into(),
        },
        Request::Revoke {
            name: "terminal".into(),
            capability: "display.layer".into(),
        },
        Request::Logs {
            name: "terminal".into(),
            tail_bytes: None,
        },
        Request::Logs {
            name: "terminal".into(),
            tail_bytes: Some(4096),
        },
        Request::Run {
            name: None,
            capabilities: vec![],
            argv: vec!["foot".into()],
        },
        Request::Run {
            name: Some("scratch".into()),
            capabilities: vec!["display.window".into(), "net.connect".into()],
            argv: vec!["foot".into(), "-e".into(), "sh -c 'echo \"hi\"'".into()],
        },
        Request::Events {
            since_seq: None,
            capsule: None,
            kinds: vec![],
            min_severity: None,
            limit: None,
            follow: false,
        },
        Request::Events {
            since_seq: Some(41),
            capsule: Some("terminal".into()),
            kinds: vec!["anomaly".into(), "capsule_exited".into()],
            min_severity: Some(crate::sentry::Severity::Warning),
            limit: Some(10),
            follow: true,
        },
        Request::Samples {
            capsule: None,
            stop: false,
        },
        Request::Samples {
            capsule: Some("terminal".into()),
            stop: false,
        },
        Request::Samples {
            capsule: None,
            stop: true,
        },
        Request::Release {
            name: "terminal".into(),
        },
        Request::Xray { on: None },
        Request::Xray { on: Some(true) },
        Request::Dashboard {
            action: DashboardAction::Toggle,
        },
        Request::Session {
            action: SessionAction::Quit,
        },
        Request::Session {
            action: SessionAction::Poweroff,
        },
    ]
}

#[test]
fn every_request_name_is_listed_once() {
    let mut names: Vec<&str> = every_request().iter().map(Request::name).collect();
    names.dedup();
    assert_eq!(names, REQUEST_NAMES);
}

#[test]
fn every_request_round_trips() {
    for request in every_request() {
        let line = request.to_line().expect("encodes");
        assert!(!line.contains('\n'), "one line: {line}");
        assert_eq!(parse_request(&line), Ok(request.clone()), "{line}");
        let tag: Value = serde_json::from_str(&line).expect("json");
        assert_eq!(tag["request"], request.name());
        assert!(REQUEST_NAMES.contains(&request.name()));
    }
}

#[test]
fn wire_format_is_as_documented() {
    let line = |r: Request| r.to_line().expect("encodes");
    assert_eq!(line(Request::Version), r#"{"request":"version"}"#);
    assert_eq!(
        line(Request::Screenshot {
            path: "/tmp/s.png".into(),
            output: None
        }),
        r#"{"request":"screenshot","path":"/tmp/s.png"}"#
    );
    assert_eq!(
        line(Request::PointerMove { x: 100.0, y: 50.0 }),
        r#"{"request":"pointer_move","x":100.0,"y":50.0}"#
    );
    assert_eq!(
        line(Request::PointerButton {
            button: PointerButton::Left,
            state: Some(ButtonState::Press)
        }),
        r#"{"request":"pointer_button","button":"left","state":"press"}"#
    );
    // Integers are accepted where numbers are expected.
    assert_eq!(
        parse_request(r#"{"request":"pointer_move","x":1,"y":2}"#),
        Ok(Request::PointerMove { x: 1.0, y: 2.0 })
    );
    assert!(Request::PointerMove { x: f64::NAN, y: 0.0 }.to_line().is_err());
}

#[test]
fn capsule_requests_wire_format() {
    let line = |r: Request| r.to_line().expect("encodes");
    let name = || "terminal".to_string();
    assert_eq!(line(Request::Capsules), r#"{"request":"capsules"}"#);
    assert_eq!(
        line(Request::CapsuleStart { name: name() }),
        r#"{"request":"capsule_start","name":"terminal"}"#
    );
    assert_eq!(
        line(Request::CapsuleStop { name: name() }),
        r#"{"request":"capsule_stop","name":"terminal"}"#
    );
    assert_eq!(
        line(Request::CapsuleRestart { name: name() }),
        r#"{"request":"capsule_restart","name":"terminal"}"#
    );
    assert_eq!(
        line(Request::Grant {
            name: name(),
            capability: "net.connect".into()
        }),
        r#"{"request":"grant","name":"terminal","capability":"net.connect"}"#
    );
    assert_eq!(
        line(Request::Revoke {
            name: name(),
            capability: "net.connect".into()
        }),
        r#"{"request":"revoke","name":"terminal","capability":"net.connect"}"#
    );
    assert_eq!(
        line(Request::Logs {
            name: name(),
            tail_bytes: None
        }),
        r#"{"request":"logs","name":"terminal"}"#
    );
    assert_eq!(
        line(Request::Logs {
            name: name(),
            tail_bytes: Some(100)
        }),
        r#"{"request":"logs","name":"terminal","tail_bytes":100}"#
    );
    assert_eq!(
        line(Request::Run {
            name: None,
            capabilities: vec![],
            argv: vec!["foot".into()]
        }),
        r#"{"request":"run","argv":["foot"]}"#
    );
    assert_eq!(
        line(Request::Run {
            name: Some("t".into()),
            capabilities: vec!["display.window".into()],
            argv: vec!["foot".into(), "-e".into(), "htop".into()]
        }),
        r#"{"request":"run","name":"t","capabilities":["display.window"],"argv":["foot","-e","htop"]}"#
    );
    // Optional fields may be given as null, or (capabilities) as an empty list.
    assert_eq!(
        parse_request(r#"{"argv":["x"],"capabilities":[],"name":null,"request":"run"}"#),
        Ok(Request::Run {
            name: None,
            capabilities: vec![],
            argv: vec!["x".into()]
        })
    );
    assert_eq!(
        parse_request(r#"{"request":"logs","name":"a","tail_bytes":null}"#),
        Ok(Request::Logs {
            name: "a".into(),
            tail_bytes: None
        })
    );
    // A run without a program cannot be encoded either.
    for argv in [vec![], vec![String::new(), "x".into()]] {
        let run = Request::Run {
            name: None,
            capabilities: vec![],
            argv,
        };
        assert!(run.to_line().is_err(), "{run:?}");
    }
}

#[test]
fn capsule_replies_wire_format() {
    let run = RunInfo {
        name: "foot-1".into(),
        pid: 4242,
    };
    assert_eq!(
        Reply::ok(&run).to_line(),
        r#"{"ok":{"name":"foot-1","pid":4242}}"#
    );
    let logs = CapsuleLogs {
        name: "terminal".into(),
        path: "/run/user/0/exosphere/logs/terminal.log".into(),
        text: "line 1\nline 2\n".into(),
    };
    let value = serde_json::to_value(&logs).expect("encodes");
    assert_eq!(
        value,
        json!({"name": "terminal", "path": "/run/user/0/exosphere/logs/terminal.log", "text": "line 1\nline 2\n"})
    );
    assert_eq!(
        serde_json::from_value::<CapsuleLogs>(value).expect("decodes"),
        logs
    );
    let info: Vec<CapsuleInfo> = serde_json::from_value(json!([{
        "name": "terminal", "status": {"state": "exited", "code": 3, "signal": null},
        "pid": null, "uptime_s": null, "restarts": 0, "capabilities": ["display.window"],
        "confinement": "", "color": "#4a90d9", "source": "/etc/exosphere/capsules/terminal/Capsule.toml"
    }]))
    .expect("a capsules reply");
    assert_eq!(
        info[0].status,
        CapsuleStatus::Exited {
            code: Some(3),
            signal: None
        }
    );
}

#[test]
fn window_info_capsule_is_null_for_host_clients() {
    let mut window = WindowInfo {
        id: 1,
        title: "t".into(),
        app_id: "foot".into(),
        x: 0,
        y: 0,
        width: 10,
        height: 10,
        workspace: 1,
        focused: true,
        maximized: false,
        fullscreen: false,
        minimized: false,
        capsule: None,
        output: "HEADLESS-1".into(),
    };
    let value = serde_json::to_value(&window).expect("encodes");
    assert_eq!(value["capsule"], Value::Null);
    assert!(value.as_object().expect("object").contains_key("capsule"));
    window.capsule = Some("terminal".into());
    let value = serde_json::to_value(&window).expect("encodes");
    assert_eq!(value["capsule"], "terminal");
    assert_eq!(
        serde_json::from_value::<WindowInfo>(value).expect("decodes"),
        window
    );
    // A reply from a compositor without the field still decodes.
    let mut old = serde_json::to_value(&window).expect("encodes");
    old.as_object_mut().expect("object").remove("capsule");
    old.as_object_mut().expect("object").remove("output");
    let decoded: WindowInfo = serde_json::from_value(old).expect("decodes");
    assert_eq!(decoded.capsule, None);
    assert_eq!(decoded.output, "");
}

#[test]
fn replies_are_exact() {
    assert_eq!(Reply::ok(json!([1, 2])).to_line(), r#"{"ok":[1,2]}"#);
    assert_eq!(Reply::Ok(Value::Null).to_line(), r#"{"ok":null}"#);
    assert_eq!(
        Reply::error("no such output \"X\"").to_line(),
        r#"{"error":"no such output \"X\""}"#
    );
    assert_eq!(parse_reply(r#"{"ok":{"a":1}}"#), Ok(Reply::Ok(json!({"a": 1}))));
    assert_eq!(
        parse_reply("{\"error\":\"boom\"}\n").map(Reply::into_result),
        Ok(Err("boom".to_string()))
    );
    assert!(parse_reply(r#"{"ok":1,"error":"x"}"#).is_err());
    assert!(parse_reply(r#"{"result":1}"#).is_err());
    assert!(parse_reply("").is_err());
    let info = VersionInfo {
        protocol: PROTOCOL_VERSION,
        compositor: "nexquelium".into(),
        version: "0.1.0".into(),
    };
    let line = Reply::ok(&info).to_line();
    assert_eq!(
        parse_reply(&line),
        Ok(Reply::Ok(
            json!({"protocol": 2, "compositor": "nexquelium", "version": "0.1.0"})
        ))
    );
}

#[test]
fn v2_requests_wire_format() {
    let cases = [
        (r#"{"request":"events"}"#, 0),
        (
            r#"{"request":"events","since_seq":41,"capsule":"terminal","kinds":["anomaly","capsule_exited"],"min_severity":"warning","limit":10,"follow":true}"#,
            1,
        ),
        (r#"{"request":"samples"}"#, 2),
        (r#"{"request":"samples","capsule":"terminal"}"#, 3),
        (r#"{"request":"samples","stop":true}"#, 4),
        (r#"{"request":"release","name":"terminal"}"#, 5),
        (r#"{"request":"xray"}"#, 6),
        (r#"{"request":"xray","on":true}"#, 7),
        (r#"{"request":"dashboard","action":"toggle"}"#, 8),
        (r#"{"request":"session","action":"quit"}"#, 9),
        (r#"{"request":"session","action":"poweroff"}"#, 10),
    ];
    let v2: Vec<Request> = every_request()
        .into_iter()
        .skip_while(|r| r.name() != "events")
        .collect();
    for (line, index) in cases {
        assert_eq!(parse_request(line).as_ref(), Ok(&v2[index]), "{line}");
        assert_eq!(v2[index].to_line().unwrap(), line);
    }
    let filter = v2[1].event_filter().unwrap();
    assert_eq!(filter.since_seq, Some(41));
    assert_eq!(filter.kinds, ["anomaly", "capsule_exited"]);
    assert_eq!(Request::Version.event_filter(), None);
    assert_eq!(
        Reply::ok(XrayInfo { xray: true }).to_line(),
        r#"{"ok":{"xray":true}}"#
    );
    assert_eq!(
        Reply::ok(DashboardInfo { visible: false }).to_line(),
        r#"{"ok":{"visible":false}}"#
    );
    assert!(DashboardAction::Toggle.apply(false) && !DashboardAction::Toggle.apply(true));
    assert!(DashboardAction::Show.apply(false) && !DashboardAction::Hide.apply(true));
}

#[test]
fn v2_requests_have_clear_errors() {
    assert!(
        err(r#"{"request":"events","kinds":["crash"]}"#)
            .starts_with("unknown event kind \"crash\"; expected some of capsule_started, capsule_exited"),
        "{}",
        err(r#"{"request":"events","kinds":["crash"]}"#)
    );
    assert!(
        err(r#"{"request":"events","min_severity":"loud"}"#)
            .starts_with("unknown variant `loud`, expected one of `info`, `notice`, `warning`, `critical`"),
        "{}",
        err(r#"{"request":"events","min_severity":"loud"}"#)
    );
    assert_eq!(
        err(r#"{"request":"dashboard"}"#),
        "missing field `action` in dashboard request"
    );
    assert!(
        err(r#"{"request":"dashboard","action":"flip"}"#)
            .starts_with("unknown variant `flip`, expected one of `show`, `hide`, `toggle`"),
        "{}",
        err(r#"{"request":"dashboard","action":"flip"}"#)
    );
    assert_eq!(
        err(r#"{"request":"xray","on":"yes"}"#),
        "invalid type: string \"yes\", expected a boolean in xray request"
    );
    assert_eq!(
        err(r#"{"request":"release"}"#),
        "missing field `name` in release request"
    );
}

#[test]
fn capsule_channels_may_observe_and_with_control_act() {
    let access = |name: &str| {
        every_request()
            .into_iter()
            .find(|r| r.name() == name)
            .unwrap()
            .access()
    };
    for name in [
        "version", "outputs", "windows", "capsules", "events", "samples", "logs",
    ] {
        assert_eq!(access(name), Access::Observe, "{name}");
    }
    for name in [
        "capsule_start",
        "capsule_stop",
        "capsule_restart",
        "grant",
        "revoke",
        "release",
        "xray",
        "dashboard",
    ] {
        assert_eq!(access(name), Access::Control, "{name}");
    }
    for name in [
        "screenshot",
        "key",
        "type",
        "pointer_move",
        "pointer_button",
        "run",
    ] {
        assert_eq!(access(name), Access::UserOnly, "{name}");
    }
}

#[test]
fn windows_without_follow_is_the_plain_request_of_version_2() {
    assert_eq!(
        serde_json::from_str::<Request>(r#"{"request":"windows"}"#).unwrap(),
        Request::Windows { follow: false }
    );
    assert_eq!(
        serde_json::to_string(&Request::Windows { follow: false }).unwrap(),
        r#"{"request":"windows"}"#
    );
}

#[test]
fn pushed_lines_are_told_from_replies_by_their_key() {
    let event = crate::sentry::Event {
        seq: 3,
        time_ms: 9,
        capsule: Some("a".into()),
        severity: crate::sentry::Severity::Info,
        kind: crate::sentry::EventKind::Dashboard { visible: true },
    };
    let line = Pushed::Event(event.clone()).to_line();
    assert_eq!(
        line,
        r#"{"event":{"seq":3,"time_ms":9,"capsule":"a","severity":"info","kind":"dashboard","visible":true}}"#
    );
    assert_eq!(
        parse_server_line(&line),
        Ok(ServerLine::Pushed(Pushed::Event(event)))
    );
    let sample = r#"{"sample":{"time_ms":1,"capsule":"a","memory_bytes":2,"cpu_percent":0.5,"pids":1}}"#;
    assert!(matches!(
        parse_server_line(sample),
        Ok(ServerLine::Pushed(Pushed::Sample(s))) if s.memory_bytes == 2 && s.memory_limit_bytes.is_none()
    ));
    assert_eq!(
        parse_server_line(r#"{"windows":[]}"#),
        Ok(ServerLine::Pushed(Pushed::Windows(Vec::new())))
    );
    assert_eq!(
        parse_server_line(r#"{"ok":null}"#),
        Ok(ServerLine::Reply(Reply::Ok(Value::Null)))
    );
    assert!(parse_server_line(r#"{"event":1}"#).is_err());
    assert!(parse_server_line(r#"{"windows":{}}"#).is_err());
}

#[test]
fn the_client_keeps_pushed_lines_that_come_before_a_reply() {
    let push = |seq: u64| {
        Pushed::Event(crate::sentry::Event {
            seq,
            time_ms: 0,
            capsule: None,
            severity: crate::sentry::Severity::Info,
            kind: crate::sentry::EventKind::Dashboard { visible: true },
        })
    };
    let replies = vec![
        format!("{}\n{{\"ok\":[]}}\n", push(1).to_line()),
        format!("{}\n{}\n{{\"ok\":null}}\n", push(2).to_line(), push(3).to_line()),
    ];
    let (path, server) = fake_server(replies);
    let mut client = ControlClient::connect(&path).expect("connects");
    let events = Request::Events {
        since_seq: None,
        capsule: None,
        kinds: vec![],
        min_severity: None,
        limit: None,
        follow: true,
    };
    assert_eq!(client.request(&events).expect("reply"), json!([]));
    assert_eq!(
        client
            .request(&Request::Samples {
                capsule: None,
                stop: false,
            })
            .expect("reply"),
        Value::Null
    );
    for seq in 1..=3 {
        assert_eq!(client.next_pushed().expect("pushed"), Some(push(seq)));
    }
    // The server has hung up.
    assert_eq!(client.next_pushed().expect("end"), None);
    server.join().expect("server thread");
    if let Some(dir) = path.parent() {
        std::fs::remove_dir_all(dir).ok();
    }
}

fn err(line: &str) -> String {
    parse_request(line).expect_err(line).to_string()
}

#[test]
fn malformed_requests_have_clear_errors() {
    assert_eq!(
        err(r#"{"request":"fly"}"#),
        "unknown request \"fly\"; expected one of version, outputs, windows, screenshot, output_create, output_remove, key, type, \
         pointer_move, pointer_button, \
         capsules, capsule_start, capsule_stop, capsule_restart, grant, revoke, logs, run, events, samples, \
         release, xray, dashboard, session"
    );
    assert!(
        err("{\"request\": ").starts_with("malformed JSON at column "),
        "{}",
        err("{\"request\": ")
    );
    assert_eq!(err("{nope}"), "malformed JSON at column 2: key must be a string");
    assert_eq!(
        err(r#"{"request":"screenshot"}"#),
        "missing field `path` in screenshot request"
    );
    assert_eq!(
        err(r#"{"request":"key"}"#),
        "missing field `combo` in key request"
    );
    assert!(err(r#"{"request":"pointer_button","button":"up"}"#).starts_with(
        "unknown variant `up`, expected one of `left`, `right`, `middle` in pointer_button request"
    ));
    assert!(err(r#"{"request":"pointer_move","x":"1","y":2}"#).ends_with("in pointer_move request"));
    assert!(err(r#"{"request":"screenshot","path":"/a","pth":"/b"}"#).starts_with("unknown field `pth`"));
    assert!(err(r#"{"combo":"super+q"}"#).starts_with("missing field `request`"));
    assert_eq!(
        err(r#"{"request":5}"#),
        "field `request` must be a string, found a number"
    );
    assert_eq!(err("[1]"), "a request must be a JSON object, found an array");
    assert_eq!(err("   "), "empty request line");
    // As documented in docs/control-protocol.md.
    assert_eq!(
        err("{\"request\": "),
        "malformed JSON at column 12: EOF while parsing a value"
    );
    assert_eq!(
        err(r#"{"request":"capsules","verbose":true}"#),
        "unknown field `verbose`, there are no fields in capsules request"
    );
    assert_eq!(
        err(r#"{"request":"windows","verbose":true}"#),
        "unknown field `verbose`, expected `follow` in windows request"
    );
}

#[test]
fn malformed_capsule_requests_have_clear_errors() {
    assert_eq!(err(r#"{"request":"run"}"#), "missing field `argv` in run request");
    assert_eq!(
        err(r#"{"request":"run","name":"x","capabilities":["net.connect"]}"#),
        "missing field `argv` in run request"
    );
    assert_eq!(
        err(r#"{"request":"run","argv":[]}"#),
        "`argv` is empty; expected the program and its arguments, like [\"foot\", \"--server\"] in run request"
    );
    assert_eq!(
        err(r#"{"request":"run","argv":["","x"]}"#),
        "`argv[0]` must be a program name or path, found an empty string in run request"
    );
    assert_eq!(
        err(r#"{"request":"run","argv":"foot -e htop"}"#),
        "invalid type: string \"foot -e htop\", expected a sequence in run request"
    );
    assert!(
        err(r#"{"request":"run","argv":["foot"],"caps":["net.connect"]}"#)
            .starts_with("unknown field `caps`, expected one of `name`, `capabilities`, `argv`"),
        "{}",
        err(r#"{"request":"run","argv":["foot"],"caps":["net.connect"]}"#)
    );
    assert_eq!(
        err(r#"{"request":"capsules","all":true}"#),
        "unknown field `all`, there are no fields in capsules request"
    );
    assert_eq!(
        err(r#"{"request":"capsule_start"}"#),
        "missing field `name` in capsule_start request"
    );
    assert!(
        err(r#"{"request":"capsule_stop","name":"a","force":true}"#).starts_with("unknown field `force`"),
        "{}",
        err(r#"{"request":"capsule_stop","name":"a","force":true}"#)
    );
    assert_eq!(
        err(r#"{"request":"grant","name":"a"}"#),
        "missing field `capability` in grant request"
    );
    assert_eq!(
        err(r#"{"request":"revoke","capability":"net.connect"}"#),
        "missing field `name` in revoke request"
    );
    assert!(
        err(r#"{"request":"grant","name":"a","capabilities":["net.connect"]}"#)
            .starts_with("unknown field `capabilities`, expected `name` or `capability`"),
        "{}",
        err(r#"{"request":"grant","name":"a","capabilities":["net.connect"]}"#)
    );
    assert!(
        err(r#"{"request":"logs","name":"a","tail_bytes":-1}"#).ends_with("in logs request"),
        "{}",
        err(r#"{"request":"logs","name":"a","tail_bytes":-1}"#)
    );
    assert!(
        err(r#"{"request":"logs","name":"a","tail":10}"#).starts_with("unknown field `tail`"),
        "{}",
        err(r#"{"request":"logs","name":"a","tail":10}"#)
    );
}

#[test]
fn socket_path_from_variables() {
    let s = |v: Option<&str>| v.map(OsString::from);
    let path = |c, r, d| socket_path_from(s(c), s(r), s(d));
    assert_eq!(path(Some("/x/ctl"), None, None), Ok(PathBuf::from("/x/ctl")));
    assert_eq!(
        path(None, Some("/run/user/0"), Some("wayland-1")),
        Ok(PathBuf::from("/run/user/0/wayland-1.control"))
    );
    assert_eq!(
        path(None, None, Some("/tmp/wl")),
        Ok(PathBuf::from("/tmp/wl.control"))
    );
    let e = path(None, None, None).expect_err("nothing set").to_string();
    assert_eq!(e, "cannot find the control socket: NEXQUELIUM_CONTROL is not set, and XDG_RUNTIME_DIR and WAYLAND_DISPLAY are not set either");
    let e = path(None, Some("/run/user/0"), None)
        .expect_err("no display")
        .to_string();
    assert!(e.ends_with("WAYLAND_DISPLAY is not set either"), "{e}");
    let e = path(None, None, Some("wayland-1"))
        .expect_err("no runtime dir")
        .to_string();
    assert!(e.ends_with("XDG_RUNTIME_DIR is not set either"), "{e}");
}

#[test]
fn evdev_codes() {
    assert_eq!(PointerButton::Left.evdev_code(), 272);
    assert_eq!(PointerButton::Right.evdev_code(), 273);
    assert_eq!(PointerButton::Middle.evdev_code(), 274);
}

/// A server that answers each request line with the next canned reply and
/// returns the lines it received.
fn fake_server(replies: Vec<String>) -> (PathBuf, std::thread::JoinHandle<Vec<String>>) {
    static SERVERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SERVERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("exo-shell-control-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("test.control");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).expect("bind");
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut writer = stream;
        let mut seen = Vec::new();
        for reply in replies {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            seen.push(line);
            if writer.write_all(reply.as_bytes()).is_err() {
                break;
            }
        }
        seen
    });
    (path, handle)
}

#[test]
fn client_sends_lines_and_maps_replies() {
    let replies = vec![
        "{\"ok\":{\"protocol\":1}}\n".to_string(),
        "{\"error\":\"no such output\"}\n".to_string(),
    ];
    let (path, server) = fake_server(replies);
    let mut client = ControlClient::connect(&path).expect("connects");
    assert_eq!(
        client.request(&Request::Version).expect("ok reply"),
        json!({"protocol": 1})
    );
    let shot = Request::Screenshot {
        path: "/tmp/x.png".into(),
        output: Some("X".into()),
    };
    assert_eq!(
        client.request(&shot).expect_err("error reply").to_string(),
        "no such output"
    );
    // The server has hung up: a clear error, not a hang or panic.
    let closed = client.request(&Request::Outputs).expect_err("closed").to_string();
    assert_eq!(closed, "the compositor closed the connection without replying");
    let seen = server.join().expect("server thread");
    assert_eq!(
        seen,
        [
            "{\"request\":\"version\"}\n",
            "{\"request\":\"screenshot\",\"path\":\"/tmp/x.png\",\"output\":\"X\"}\n"
        ]
    );
    if let Some(dir) = path.parent() {
        std::fs::remove_dir_all(dir).ok();
    }
}

#[test]
fn client_reports_missing_socket() {
    let e = ControlClient::connect("/nonexistent/wayland-9.control").expect_err("no socket");
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(line in any::<String>()) {
        let _ = parse_request(&line);
        let _ = parse_reply(&line);
    }

    #[test]
    fn request_shaped_strings_never_panic(
        name in "[a-z_]{0,14}",
        field in "[a-z_]{0,8}",
        value in prop_oneof![Just("1".to_string()), Just("null".to_string()), "\"[a-z+ ]{0,8}\"", "-?[0-9]{1,3}(\\.[0-9])?"],
    ) {
        let line = format!(r#"{{"request":"{name}","{field}":{value}}}"#);
        if let Err(e) = parse_request(&line) {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}
