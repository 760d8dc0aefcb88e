//! Test tool: sends one line to a Unix socket and prints the answer (or `no answer`). The vault tests run it
//! as another user to show the agent refuses foreign peers.
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (socket, line) = (&args[1], &args[2]);
    let answer = UnixStream::connect(socket).and_then(|mut s| {
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        s.write_all(format!("{line}\n").as_bytes())?;
        let mut answer = String::new();
        BufReader::new(s).read_line(&mut answer)?;
        Ok(answer)
    });
    match answer {
        Ok(a) if !a.is_empty() => print!("{a}"),
        Ok(_) => println!("no answer"),
        Err(e) => println!("error: {e}"),
    }
}
