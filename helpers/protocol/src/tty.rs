//! Asking a person for a value on the controlling terminal (`/dev/tty`), for helpers and clients whose
//! stdin is a protocol channel or a pipe. Never blocks when there is no terminal: [`open`] says so at once.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::io::AsRawFd;

use zeroize::Zeroizing;

/// The controlling terminal, or None when the process has none.
pub fn open() -> Option<File> {
    std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").ok()
}

/// Reads one line with echo on (a username).
pub fn read_line(prompt: &str) -> std::io::Result<String> {
    let mut tty = open().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no terminal"))?;
    tty.write_all(prompt.as_bytes())?;
    tty.flush()?;
    let mut line = String::new();
    BufReader::new(&tty).take(64 << 10).read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// Reads one line with echo off. Echo is turned off *before* the prompt is shown, so input typed or pasted
/// the instant the prompt appears is never displayed; it is restored on every path.
pub fn read_secret(prompt: &str) -> std::io::Result<Zeroizing<String>> {
    let mut tty = open().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no terminal"))?;
    let fd = tty.as_raw_fd();
    // SAFETY: termios is plain data; tcgetattr fills it for a valid terminal descriptor.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut quiet = saved;
    quiet.c_lflag &= !(libc::ECHO | libc::ECHONL);
    quiet.c_lflag |= libc::ICANON;
    // SAFETY: attributes from tcgetattr with echo cleared, on the same descriptor.
    if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let result = (|| {
        tty.write_all(prompt.as_bytes())?;
        tty.flush()?;
        let mut line = Zeroizing::new(String::new());
        BufReader::new(&tty).take(64 << 10).read_line(&mut line)?;
        Ok::<_, std::io::Error>(line)
    })();
    // SAFETY: restores the attributes saved above.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &saved) };
    let _ = tty.write_all(b"\n");
    let line = result?;
    Ok(Zeroizing::new(line.trim_end_matches(['\n', '\r']).to_owned()))
}
