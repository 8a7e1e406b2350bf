//! The kernel command line (`/proc/cmdline`).
//!
//! Parameters containing a dot are not passed to init in argv or the
//! environment, so `exo.run=NAME` has to be read from here. Splitting follows
//! the kernel's rules: whitespace separates parameters, double quotes group
//! (and are removed), and `--` ends the kernel's own parameters (what follows
//! goes to init's argv, not here).

/// One `key` or `key=value` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub key: String,
    pub value: Option<String>,
}

/// Splits a kernel command line into parameters.
pub fn parse(text: &str) -> Vec<Param> {
    let mut params = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    if word == "--" {
                        return params;
                    }
                    params.push(split(&word));
                    word.clear();
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
        if chars.peek().is_none() && in_word && word != "--" {
            params.push(split(&word));
        }
    }
    params
}

fn split(word: &str) -> Param {
    match word.split_once('=') {
        Some((key, value)) => Param {
            key: key.to_string(),
            value: Some(value.to_string()),
        },
        None => Param {
            key: word.to_string(),
            value: None,
        },
    }
}

/// What `exo.run` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Run {
    /// No `exo.run`: boot normally (services).
    Services,
    /// `exo.run=NAME`: run capsule NAME as the first program, then power off.
    Capsule(String),
    /// `exo.run` with a missing or malformed name; the text says what was given.
    Invalid(String),
}

/// The last `exo.run` wins, like most kernel parameters.
pub fn run_request(params: &[Param]) -> Run {
    match params.iter().rev().find(|p| p.key == "exo.run") {
        None => Run::Services,
        Some(Param {
            value: Some(name), ..
        }) if valid_capsule_name(name) => Run::Capsule(name.clone()),
        Some(Param {
            value: Some(name), ..
        }) => Run::Invalid(format!(
            "exo.run={name}: not a capsule name (1 to 32 characters a-z, 0-9 and '-', not starting with '-')"
        )),
        Some(Param { value: None, .. }) => Run::Invalid("exo.run: missing =NAME".to_string()),
    }
}

/// The capsule name rule (docs/capsules.md); also keeps `..` and `/` out of paths.
pub fn valid_capsule_name(name: &str) -> bool {
    (1..=exo_shell::capsule::manifest::MAX_NAME_LEN).contains(&name.len())
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(text: &str) -> Vec<(String, Option<String>)> {
        parse(text).into_iter().map(|p| (p.key, p.value)).collect()
    }

    fn kv(key: &str, value: Option<&str>) -> (String, Option<String>) {
        (key.to_string(), value.map(str::to_string))
    }

    #[test]
    fn splits_on_whitespace_and_equals() {
        assert_eq!(
            keys("console=ttyS0  quiet\texo.run=hello\n"),
            vec![
                kv("console", Some("ttyS0")),
                kv("quiet", None),
                kv("exo.run", Some("hello"))
            ]
        );
    }

    #[test]
    fn empty_and_blank_lines_have_no_params() {
        assert!(parse("").is_empty());
        assert!(parse("  \n").is_empty());
    }

    #[test]
    fn quotes_group_and_are_removed() {
        assert_eq!(
            keys("a=\"x y\" \"b=c d\" e"),
            vec![kv("a", Some("x y")), kv("b", Some("c d")), kv("e", None)]
        );
    }

    #[test]
    fn value_keeps_later_equals_signs() {
        assert_eq!(keys("root=UUID=abc"), vec![kv("root", Some("UUID=abc"))]);
    }

    #[test]
    fn double_dash_ends_kernel_params() {
        assert_eq!(keys("quiet -- exo.run=hello"), vec![kv("quiet", None)]);
        assert_eq!(keys("quiet --"), vec![kv("quiet", None)]);
    }

    #[test]
    fn run_request_reads_exo_run() {
        assert_eq!(run_request(&parse("quiet")), Run::Services);
        assert_eq!(
            run_request(&parse("console=ttyS0 exo.run=hello")),
            Run::Capsule("hello".into())
        );
        assert_eq!(
            run_request(&parse("exo.run=a exo.run=b")),
            Run::Capsule("b".into())
        );
    }

    #[test]
    fn run_request_refuses_paths_and_bad_names() {
        for bad in [
            "exo.run=../etc",
            "exo.run=a/b",
            "exo.run=",
            "exo.run=-x",
            "exo.run=Hello",
        ] {
            assert!(
                matches!(run_request(&parse(bad)), Run::Invalid(_)),
                "{bad} was accepted"
            );
        }
        assert_eq!(
            run_request(&parse("exo.run")),
            Run::Invalid("exo.run: missing =NAME".into())
        );
    }
}
