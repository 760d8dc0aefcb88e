//! Parsers of instruction arguments that need no variables and no image: `ARG` names and defaults, `EXPOSE`
//! port specs, `--chmod` modes, `STOPSIGNAL` names, Go durations and `HEALTHCHECK`. Each error is the text
//! after the instruction's keyword (the caller places it at its line).
//!
//! What it is not: the Dockerfile's syntax (`dockerfile`) or substitution (`shell`).

use super::config::Healthcheck;
use super::dockerfile::{self, Instruction};
use super::refusal::Refusal;
use super::{BuildError, at, excerpt, shell};

/// `ARG a b=1 c="x y"`: each name and its default (unexpanded).
pub(super) fn arg_words(ins: &Instruction, escape: char) -> Result<Vec<(String, Option<String>)>, BuildError> {
    let mut out = Vec::new();
    for w in shell::split_words(&ins.args, escape) {
        let (name, default) = match w.split_once('=') {
            Some((n, d)) => (n.to_owned(), Some(d.to_owned())),
            None => (w.clone(), None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            return at(ins.line, Refusal::ArgName { name: excerpt(&name) });
        }
        out.push((name, default));
    }
    Ok(out)
}

/// `80`, `80/tcp`, `8000-8002/udp` → `80/tcp`, `8000/udp`, `8001/udp`, `8002/udp`.
pub(super) fn exposed(spec: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = match spec.split_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (spec, "tcp".to_owned()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid protocol in {spec:?}"));
    }
    let port = |s: &str| s.parse::<u16>().map_err(|_| format!("invalid port {spec:?}"));
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (port(a)?, port(b)?),
        None => (port(ports)?, port(ports)?),
    };
    if hi < lo {
        return Err(format!("invalid port range {spec:?}"));
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

/// An octal mode (`0644`, `755`).
pub(super) fn parse_mode(s: &str) -> Result<u32, String> {
    if s.is_empty() || s.len() > 5 || !s.chars().all(|c| ('0'..='7').contains(&c)) {
        return Err(format!("{s:?}: only octal modes (such as 0644) are supported"));
    }
    let m = u32::from_str_radix(s, 8).map_err(|e| e.to_string())?;
    if m > 0o7777 {
        return Err(format!("{s:?}: more than 07777"));
    }
    Ok(m)
}

/// A signal as `STOPSIGNAL` takes it: a number, or `SIG` and a name (`SIGTERM`, `SIGRTMIN+3`).
pub(super) fn is_signal(sig: &str) -> bool {
    sig.parse::<u32>().is_ok()
        || (sig.len() > 3
            && sig.to_ascii_uppercase().starts_with("SIG")
            && sig[3..].chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '-'))
}

/// A Go duration (`30s`, `1m30s`, `500ms`) in nanoseconds.
pub(super) fn go_duration(s: &str) -> Result<i64, String> {
    if s == "0" {
        return Ok(0);
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return Err("an empty duration".to_owned());
    }
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let num: f64 = rest[..num_len].parse().map_err(|_| format!("invalid duration {s:?}"))?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(format!("invalid duration {s:?} (a unit is ns, us, ms, s, m or h)")),
        };
        rest = &rest[unit_len..];
        total += num * scale;
    }
    Ok(total as i64)
}

/// `HEALTHCHECK [--interval=D ...] CMD ...` or `HEALTHCHECK NONE`, as docker records it.
pub(super) fn healthcheck(ins: &Instruction) -> Result<Healthcheck, String> {
    let args = ins.args.trim();
    if args.eq_ignore_ascii_case("NONE") {
        if !ins.flags.is_empty() {
            return Err("NONE takes no options".to_owned());
        }
        return Ok(Healthcheck { test: vec!["NONE".to_owned()], ..Healthcheck::default() });
    }
    let (word, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
    if !word.eq_ignore_ascii_case("CMD") {
        return Err("expected CMD or NONE".to_owned());
    }
    let rest = rest.trim();
    let test = match dockerfile::json_array(rest) {
        Some(list) => std::iter::once("CMD".to_owned()).chain(list).collect::<Vec<_>>(),
        None => vec!["CMD-SHELL".to_owned(), rest.to_owned()],
    };
    let mut hc = Healthcheck { test, ..Healthcheck::default() };
    let duration = |flag: &str| -> Result<Option<i64>, String> {
        match ins.flag(flag).and_then(|f| f.value.as_deref()) {
            Some(v) => go_duration(v).map(|d| (d != 0).then_some(d)),
            None => Ok(None),
        }
    };
    hc.interval = duration("interval")?;
    hc.timeout = duration("timeout")?;
    hc.start_period = duration("start-period")?;
    hc.start_interval = duration("start-interval")?;
    if let Some(v) = ins.flag("retries").and_then(|f| f.value.as_deref()) {
        let n: i64 = v.parse().map_err(|_| format!("--retries: {v:?} is not a number"))?;
        if n < 0 {
            return Err("--retries cannot be negative".to_owned());
        }
        hc.retries = (n != 0).then_some(n);
    }
    Ok(hc)
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn small_parsers() {
        assert_eq!(exposed("80").unwrap(), ["80/tcp"]);
        assert_eq!(exposed("53/UDP").unwrap(), ["53/udp"]);
        assert_eq!(exposed("8000-8002/tcp").unwrap(), ["8000/tcp", "8001/tcp", "8002/tcp"]);
        assert_eq!(exposed("80/xyz").unwrap_err(), "invalid protocol in \"80/xyz\"");
        assert_eq!(exposed("x").unwrap_err(), "invalid port \"x\"");
        assert_eq!(exposed("9-1").unwrap_err(), "invalid port range \"9-1\"");
        assert_eq!(parse_mode("0640"), Ok(0o640));
        assert_eq!(parse_mode("755"), Ok(0o755));
        for bad in ["u+x", "8", ""] {
            assert_eq!(parse_mode(bad).unwrap_err(), format!("{bad:?}: only octal modes (such as 0644) are supported"));
        }
        assert_eq!(parse_mode("17777").unwrap_err(), "\"17777\": more than 07777");
        assert_eq!(go_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(go_duration("500ms"), Ok(500_000_000));
        assert_eq!(go_duration("5").unwrap_err(), "invalid duration \"5\" (a unit is ns, us, ms, s, m or h)");
        assert_eq!(go_duration("").unwrap_err(), "an empty duration");
        assert_eq!(go_duration("x1s").unwrap_err(), "invalid duration \"x1s\"");
        assert!(is_signal("9") && is_signal("SIGTERM") && is_signal("sigrtmin+3"));
        assert!(!is_signal("SIG") && !is_signal("TERM") && !is_signal("SIG TERM"));
    }

    #[test]
    fn healthchecks_as_docker_records_them() {
        let df = dockerfile::parse(
            "FROM x\nHEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/ || exit 1\n\
             HEALTHCHECK CMD [\"/bin/check\", \"-q\"]\nHEALTHCHECK NONE\nHEALTHCHECK --timeout=0s --retries=0 CMD x\n",
        )
        .unwrap();
        let hc: Vec<Value> =
            df.instructions[1..].iter().map(|i| serde_json::to_value(healthcheck(i).unwrap()).unwrap()).collect();
        assert_eq!(
            hc[0],
            json!({"Test": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"], "Interval": 5_000_000_000i64, "Retries": 3})
        );
        assert_eq!(hc[1], json!({"Test": ["CMD", "/bin/check", "-q"]}));
        assert_eq!(hc[2], json!({"Test": ["NONE"]}));
        assert_eq!(hc[3], json!({"Test": ["CMD-SHELL", "x"]}), "zeros are left out");
        let bad =
            dockerfile::parse("FROM x\nHEALTHCHECK --interval=5s NONE\nHEALTHCHECK --retries=-1 CMD x\n").unwrap();
        assert_eq!(healthcheck(&bad.instructions[1]).unwrap_err(), "NONE takes no options");
        assert_eq!(healthcheck(&bad.instructions[2]).unwrap_err(), "--retries cannot be negative");
    }
}
