//! `serve()`: the whole life of a helper process around its backend, as the Go helpers' `credentials.Serve`.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::process::ExitCode;

use zeroize::Zeroizing;

use crate::wire::{decode_credentials, encode_credentials, encode_list, join_lines};
use crate::{Error, Store};

/// Most bytes read from stdin: a 1 MiB secret plus 64 KiB for the JSON around it (server URL, username,
/// escapes). More is an error, so a runaway client cannot make a helper allocate without bound.
pub const MAX_INPUT: usize = (1 << 20) + (64 << 10);

/// What a helper says about itself in `version` and `--help`.
pub struct HelperInfo {
    /// Program name, `docker-credential-NAME`.
    pub name: &'static str,
    pub version: &'static str,
    /// One paragraph for `--help`: what the store is and where it keeps credentials.
    pub about: &'static str,
}

const VERBS: &str = "<store|get|erase|list|version>";

/// Runs the helper: reads `argv`, stdin, calls the backend that `open` returns, prints the answer.
///
/// Exit codes and output follow docker-credential-helpers 0.6.4: the answer (or nothing) on stdout and 0, or
/// one line of error on stdout and 1. `--help`/`-h` and `--version`/`-v` print to stdout and exit 0.
/// `open` runs only for the four store verbs, so `version` and usage errors never touch the store.
pub fn serve<S: Store>(info: &HelperInfo, open: impl FnOnce() -> Result<S, Error>) -> ExitCode {
    let name = info.name;
    std::panic::set_hook(Box::new(move |panic| {
        // Never the payload: it could hold data. Where it happened is enough for a report.
        let at = panic.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        let _ = writeln!(io::stdout(), "{name}: internal error{at} (please report this)");
        std::process::exit(1);
    }));

    let args: Vec<OsString> = std::env::args_os().collect();
    let argv0 = args.first().map(|a| a.to_string_lossy().into_owned()).unwrap_or_else(|| name.to_owned());
    let mut out = Zeroizing::new(String::new());
    let result = match args.get(1).and_then(|a| a.to_str()) {
        Some("--help" | "-h") if args.len() == 2 => {
            out.push_str(&help(info));
            Ok(())
        }
        Some("--version" | "-v") if args.len() == 2 => {
            version(info, &mut out);
            Ok(())
        }
        _ if args.len() != 2 => Err(Error::Input(format!("Usage: {argv0} {VERBS}"))),
        Some(verb) => handle(info, verb, &mut io::stdin().lock(), &mut out, open),
        None => Err(Error::Input(format!("Unknown credential action `{}`", args[1].to_string_lossy()))),
    };
    let mut stdout = io::stdout().lock();
    match result {
        Ok(()) => match stdout.write_all(out.as_bytes()).and_then(|()| stdout.flush()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        },
        Err(e) => {
            let _ = writeln!(stdout, "{e}");
            let _ = stdout.flush();
            ExitCode::FAILURE
        }
    }
}

fn version(info: &HelperInfo, out: &mut String) {
    out.push_str(&format!("{} (hoist) {}\n", info.name, info.version));
}

fn help(info: &HelperInfo) -> String {
    format!(
        "{name} (hoist) {version}\n{about}\n\n\
         Usage: {name} {VERBS}\n\n\
         A docker credential helper: docker, podman, skopeo, buildah and hoist run it with one verb and talk\n\
         to it on stdin/stdout. Name it in config.json or auth.json as \"credHelpers\": {{\"REGISTRY\": \"{short}\"}}\n\
         (or \"credsStore\": \"{short}\" for docker).\n\n\
         Verbs:\n  \
           store    read {{\"ServerURL\":..,\"Username\":..,\"Secret\":..}} on stdin and store it\n  \
           get      read a server URL on stdin; print its credentials as JSON, or exit 1 with\n           \
                    \"credentials not found in native keychain\"\n  \
           erase    read a server URL on stdin and remove its credentials\n  \
           list     print {{\"SERVER\":\"USERNAME\",...}} for every stored credential (never secrets)\n  \
           version  print the version\n\n\
         Errors are one line on stdout with exit status 1, as the protocol requires.\n",
        name = info.name,
        version = info.version,
        about = info.about,
        short = info.name.strip_prefix("docker-credential-").unwrap_or(info.name),
    )
}

/// One verb with its stdin, writing the answer into `out`. Public to the crate for tests.
pub(crate) fn handle<S: Store>(
    info: &HelperInfo,
    verb: &str,
    stdin: &mut dyn Read,
    out: &mut String,
    open: impl FnOnce() -> Result<S, Error>,
) -> Result<(), Error> {
    match verb {
        "store" => {
            let input = read_input(stdin)?;
            let creds = decode_credentials(&input)?;
            if creds.server_url.is_empty() {
                return Err(Error::MissingServerUrl);
            }
            if creds.username.is_empty() {
                return Err(Error::MissingUsername);
            }
            open()?.add(&creds)
        }
        "get" => {
            let input = read_input(stdin)?;
            let server = server_url(&input)?;
            let (username, secret) = open()?.get(server)?;
            encode_credentials(out, server, &username, secret.expose());
            Ok(())
        }
        "erase" => {
            let input = read_input(stdin)?;
            let server = server_url(&input)?;
            open()?.erase(server)
        }
        "list" => {
            let entries = open()?.list()?;
            encode_list(out, &entries);
            Ok(())
        }
        "version" => {
            version(info, out);
            Ok(())
        }
        other => Err(Error::Input(format!("Unknown credential action `{other}`"))),
    }
}

/// One verb with `stdin`, against `store`, exactly as [`serve`] runs it after reading its arguments: the
/// answer it would print on success, or the error it would print. For fuzzing and tests; not a stable API.
#[doc(hidden)]
pub fn run_verb<S: Store>(info: &HelperInfo, verb: &str, stdin: &[u8], store: S) -> Result<String, Error> {
    let mut out = String::new();
    handle(info, verb, &mut &stdin[..], &mut out, || Ok(store)).map(|()| out)
}

fn server_url(input: &str) -> Result<&str, Error> {
    let server = input.trim();
    if server.is_empty() { Err(Error::MissingServerUrl) } else { Ok(server) }
}

/// Reads stdin whole (at most [`MAX_INPUT`] bytes), joins lines as Go does, and requires UTF-8.
///
/// Deliberate difference: Go replaces invalid UTF-8 with U+FFFD and stores the result; we refuse it, since a
/// credential silently changed on the way in is a credential that no longer works.
fn read_input(stdin: &mut dyn Read) -> Result<Zeroizing<String>, Error> {
    let mut raw = Zeroizing::new(Vec::new());
    stdin
        .take(MAX_INPUT as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| Error::Input(format!("cannot read standard input: {e}")))?;
    if raw.len() > MAX_INPUT {
        return Err(Error::Input(format!("input is larger than {MAX_INPUT} bytes (1 MiB secret + 64 KiB)")));
    }
    let joined = Zeroizing::new(join_lines(&raw));
    match std::str::from_utf8(&joined) {
        Ok(s) => Ok(Zeroizing::new(s.to_owned())),
        Err(_) => Err(Error::Input("input is not valid UTF-8".into())),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    use super::*;
    use crate::{Credentials, Secret};

    #[derive(Default)]
    struct Mem(RefCell<BTreeMap<String, (String, String)>>);

    impl Store for &Mem {
        fn add(&self, c: &Credentials) -> Result<(), Error> {
            self.0.borrow_mut().insert(c.server_url.clone(), (c.username.clone(), c.secret.expose().into()));
            Ok(())
        }
        fn get(&self, s: &str) -> Result<(String, Secret), Error> {
            let m = self.0.borrow();
            let (u, p) = m.get(s).ok_or(Error::NotFound)?;
            Ok((u.clone(), Secret::from(p.as_str())))
        }
        fn erase(&self, s: &str) -> Result<(), Error> {
            self.0.borrow_mut().remove(s);
            Ok(())
        }
        fn list(&self) -> Result<BTreeMap<String, String>, Error> {
            Ok(self.0.borrow().iter().map(|(k, (u, _))| (k.clone(), u.clone())).collect())
        }
    }

    const INFO: HelperInfo = HelperInfo { name: "docker-credential-test", version: "1.2.3", about: "test" };

    fn run(mem: &Mem, verb: &str, input: &[u8]) -> Result<String, Error> {
        let mut out = String::new();
        handle(&INFO, verb, &mut &input[..], &mut out, || Ok(mem)).map(|()| out)
    }

    #[test]
    fn round_trip() {
        let mem = Mem::default();
        assert_eq!(run(&mem, "store", br#"{"ServerURL":"r.io","Username":"<token>","Secret":"s"}"#).unwrap(), "");
        assert_eq!(
            run(&mem, "get", b"r.io\n").unwrap(),
            "{\"ServerURL\":\"r.io\",\"Username\":\"\\u003ctoken\\u003e\",\"Secret\":\"s\"}\n"
        );
        assert_eq!(run(&mem, "list", b"").unwrap(), "{\"r.io\":\"\\u003ctoken\\u003e\"}\n");
        assert_eq!(run(&mem, "erase", b" r.io ").unwrap(), "");
        assert_eq!(run(&mem, "get", b"r.io"), Err(Error::NotFound));
        assert_eq!(run(&mem, "version", b"").unwrap(), "docker-credential-test (hoist) 1.2.3\n");
    }

    #[test]
    fn input_errors() {
        let mem = Mem::default();
        assert_eq!(run(&mem, "get", b"  \n"), Err(Error::MissingServerUrl));
        assert_eq!(run(&mem, "store", br#"{"ServerURL":"x"}"#), Err(Error::MissingUsername));
        assert_eq!(run(&mem, "store", br#"{"Username":"x"}"#), Err(Error::MissingServerUrl));
        assert!(matches!(run(&mem, "get", b"\xff"), Err(Error::Input(m)) if m.contains("UTF-8")));
        let big = vec![b'a'; MAX_INPUT + 1];
        assert!(matches!(run(&mem, "get", &big), Err(Error::Input(m)) if m.contains("larger")));
        assert_eq!(run(&mem, "nope", b"").unwrap_err().to_string(), "Unknown credential action `nope`");
    }

    #[test]
    fn a_one_mib_secret_fits() {
        let mem = Mem::default();
        let secret = "x".repeat(1 << 20);
        let input = format!(r#"{{"ServerURL":"r.io","Username":"u","Secret":"{secret}"}}"#);
        run(&mem, "store", input.as_bytes()).unwrap();
        assert!(run(&mem, "get", b"r.io").unwrap().contains(&secret));
    }
}
