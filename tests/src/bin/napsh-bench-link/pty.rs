//! A program on a pseudo-terminal of its own, for timing what a user sees: bytes written to
//! it as if typed, everything it prints collected as it arrives.

use anyhow::{Context, Result};
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A child process whose terminal is a pty this side drives.
pub struct Pty {
    /// The child (`ssh` or `napsh ssh`).
    child: Child,
    /// The master side, for typing.
    master: std::fs::File,
    /// Everything the child printed so far.
    output: Arc<Mutex<Vec<u8>>>,
}

impl Pty {
    /// Starts `command` on a new 120×36 pty (`TERM=xterm-256color`), as the session leader
    /// with it as controlling terminal.
    pub fn spawn(mut command: Command) -> Result<Self> {
        let (master, slave) = open_pty()?;
        command.env("TERM", "xterm-256color");
        let stdio = |fd: &OwnedFd| -> Result<Stdio> { Ok(Stdio::from(fd.try_clone()?)) };
        command
            .stdin(stdio(&slave)?)
            .stdout(stdio(&slave)?)
            .stderr(stdio(&slave)?);
        use std::os::unix::process::CommandExt;
        // SAFETY: setsid(2) and ioctl(TIOCSCTTY) are async-signal-safe; run in the child.
        unsafe {
            command.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = command.spawn().context("starting the program on a pty")?;
        drop(slave);
        let master = std::fs::File::from(master);
        let output = Arc::new(Mutex::new(Vec::new()));
        let mut reader = master.try_clone()?;
        let sink = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Ok(Pty {
            child,
            master,
            output,
        })
    }

    /// Types `bytes`.
    pub fn type_bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.master.write_all(bytes).context("typing into the pty")
    }

    /// How much has been printed so far.
    pub fn printed(&self) -> usize {
        self.output.lock().unwrap().len()
    }

    /// Waits until `needle` is printed after byte `from`; how long that took.
    pub fn wait_for(&self, needle: &[u8], from: usize, timeout: Duration) -> Result<Duration> {
        let start = Instant::now();
        loop {
            {
                let out = self.output.lock().unwrap();
                if out[from.min(out.len())..]
                    .windows(needle.len())
                    .any(|w| w == needle)
                {
                    return Ok(start.elapsed());
                }
            }
            anyhow::ensure!(start.elapsed() < timeout, "{needle:?} never came");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Ends the program (SIGHUP, as a closed terminal does) and waits for it.
    pub fn close(mut self) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGHUP) };
        let _ = self.child.wait();
    }
}

/// A new pty pair of 120×36 cells.
fn open_pty() -> Result<(OwnedFd, OwnedFd)> {
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize {
        ws_row: 36,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty(3) writes two descriptors we then own.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    anyhow::ensure!(rc == 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just returned by openpty and are owned by no one else.
    let pair = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    Ok(pair)
}
