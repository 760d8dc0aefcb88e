//! What makes copies out of a Docker engine as fast as the engine allows (issue 22's bench rows), shown against
//! a fake engine on a Unix socket: the engine is asked for its archive before hoist opens (or makes) its store,
//! so the store's set-up overlaps the engine making the archive (an engine sends nothing before the whole archive
//! is made); a store that cannot be opened is still one clear line, and the request is dropped unanswered.

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use harness::hoist::HoistWorld;
use harness::process::env_pair;
use harness::run;

/// A fake engine that reads one request's first line, reports it, then holds the connection open until the
/// client closes it; its requests in order.
fn silent_engine(socket: &Path) -> mpsc::Receiver<String> {
    let listener = UnixListener::bind(socket).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(conn);
                let mut line = String::new();
                let _ = r.read_line(&mut line);
                let _ = tx.send(line.trim_end().to_owned());
                // Until the client hangs up.
                let mut rest = Vec::new();
                let _ = r.read_until(0, &mut rest);
            });
        }
    });
    rx
}

/// `copy docker-daemon:… store:` and `pull docker-daemon:…` with a store that cannot be made (its path is
/// under a regular file): the engine was asked for the image first (its `GET` arrived), then the store's error
/// is the one line; nothing is made.
#[test]
fn the_engine_is_asked_before_the_store_is_opened() {
    let w = HoistWorld::new("unqualified-search-registries = []\n");
    let dir = tempfile::Builder::new().prefix("hd-fast-").tempdir_in("/tmp").unwrap();
    let socket = dir.path().join("engine.sock");
    let requests = silent_engine(&socket);
    let blocker = w.path("not-a-dir");
    std::fs::write(&blocker, b"a file").unwrap();
    let store = blocker.join("store");
    let env = vec![
        env_pair("DOCKER_HOST", format!("unix://{}", socket.display())),
        env_pair("HOIST_STORE", store.to_str().unwrap()),
    ];
    for args in [
        &["copy", "docker-daemon:localhost/app:1", "store:localhost/app:1"][..],
        &["pull", "docker-daemon:localhost/app:1"],
    ] {
        let out = run(&mut w.command(args, &env), b"");
        assert!(!out.ok(), "{args:?} succeeded without a store");
        let err = out.err();
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("Error:")).collect();
        assert_eq!(errors.len(), 1, "{err}");
        assert!(errors[0].contains(blocker.to_str().unwrap()), "the error does not name the store: {err}");
        let got = requests
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("{args:?}: the engine was not asked for the image before the store was opened"));
        assert_eq!(got, "GET /images/localhost/app:1/get HTTP/1.1", "{args:?}");
        assert!(requests.try_recv().is_err(), "{args:?}: more than one request");
        assert_eq!(std::fs::read(&blocker).unwrap(), b"a file");
    }
}
