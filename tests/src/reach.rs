//! Harness pieces for the reach tests (`tunnel`, `proxy`, `ssh-config`, `inventory`): tiny
//! loopback servers a device port can point at, a running `napsh tunnel` that is stopped with
//! SIGTERM on drop, and a napsh install whose paths hold spaces and `%`.

use crate::TestEnv;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// What a [`LoopbackServer`] does with each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// HTTP/1.0: reads the request head, answers `200` with `hello from NAME path=PATH`.
    Http,
    /// Reads until the client half-closes, then answers `got N bytes` and closes: proves
    /// half-close travels both ways.
    CountUntilEof,
}

/// A server on 127.0.0.1 serving every connection on a thread; stopped on drop.
pub struct LoopbackServer {
    /// Where it listens.
    addr: SocketAddr,
    /// Set to stop the accept loop.
    stop: Arc<AtomicBool>,
    /// The accept loop.
    thread: Option<JoinHandle<()>>,
}

impl LoopbackServer {
    /// Starts a server named `name` (the HTTP body says it) behaving as `behaviour`.
    pub fn start(name: &str, behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback server");
        let addr = listener.local_addr().expect("server address");
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, name) = (stop.clone(), name.to_string());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let name = name.clone();
                    std::thread::spawn(move || serve(conn, &name, behaviour));
                }
            }
        });
        LoopbackServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves one connection (errors just end it).
fn serve(mut conn: TcpStream, name: &str, behaviour: Behaviour) {
    match behaviour {
        Behaviour::Http => {
            let mut reader = BufReader::new(conn.try_clone().expect("clone"));
            let mut first = String::new();
            let _ = reader.read_line(&mut first);
            let path = first.split_whitespace().nth(1).unwrap_or("?").to_string();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let body = format!("hello from {name} path={path}\n");
            let answer = format!(
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(answer.as_bytes());
            let _ = conn.shutdown(std::net::Shutdown::Write);
        }
        Behaviour::CountUntilEof => {
            let mut sink = Vec::new();
            let n = conn.read_to_end(&mut sink).unwrap_or(0);
            let _ = write!(conn, "got {n} bytes");
        }
    }
}

/// A running `napsh tunnel`; SIGTERM and wait on drop (or [`RunningTunnel::stop`]).
pub struct RunningTunnel {
    /// The napsh process.
    child: Option<Child>,
    /// The forward lines it printed (`LOCAL ⇒ DEVICE:PORT (mapping …)` and ssh lines).
    pub lines: Vec<String>,
    /// Where its stderr goes.
    stderr_path: PathBuf,
}

impl RunningTunnel {
    /// Starts `napsh tunnel ARGS` and waits until it says the tunnel is open (on stderr, after
    /// printing its forward lines on stdout); `Err` with its stderr when it exits first.
    pub fn start(env: &TestEnv, args: &[&str]) -> Result<Self, String> {
        let stderr_path = env.path().join(format!("tunnel-{}.stderr", unique()));
        let stderr = std::fs::File::create(&stderr_path).expect("creating the stderr file");
        let mut child = env
            .napsh()
            .arg("tunnel")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("starting napsh tunnel");
        let stdout = child.stdout.take().expect("stdout");
        let collected = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = collected.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().expect("lines").push(line);
            }
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            if stderr.contains("tunnel open") {
                // stdout was flushed before stderr said so; let the reader catch up.
                std::thread::sleep(std::time::Duration::from_millis(100));
                let lines = collected.lock().expect("lines").clone();
                return Ok(RunningTunnel {
                    child: Some(child),
                    lines,
                    stderr_path,
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                return Err(format!(
                    "napsh tunnel ended ({status}) before it was open:\n{stderr}"
                ));
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("napsh tunnel did not open within 60 s:\n{stderr}"));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// The local address of the forward to `device_port` (`… ⇒ NAME:PORT …`).
    pub fn local_for(&self, device_port: u16) -> SocketAddr {
        let suffix = format!(":{device_port} (mapping");
        let line = self
            .lines
            .iter()
            .find(|l| l.contains(&suffix))
            .unwrap_or_else(|| panic!("no forward to port {device_port} in {:?}", self.lines));
        line.split(" ⇒ ")
            .next()
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no local address in {line:?}"))
    }

    /// Everything it printed on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Sends SIGTERM and waits: the exit code (-1 when killed by a signal) and its stderr.
    pub fn stop(mut self) -> (i32, String) {
        let code = self.terminate();
        (code, self.stderr())
    }

    fn terminate(&mut self) -> i32 {
        let Some(mut child) = self.child.take() else {
            return -1;
        };
        // SAFETY-free: kill(2) on our own child.
        unsafe { libc_kill(child.id() as i32, 15) };
        child.wait().map(|s| s.code().unwrap_or(-1)).unwrap_or(-1)
    }
}

impl Drop for RunningTunnel {
    fn drop(&mut self) {
        self.terminate();
    }
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// A process-unique number for file names.
fn unique() -> u64 {
    use std::sync::atomic::AtomicU64;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

/// napsh installed where paths are awkward: the binary under `bin dir 100%/` and napsh's data
/// dir (known_hosts) under `data 50% off/`, as a user's paths might be.
pub struct AwkwardInstall {
    /// The copied napsh binary.
    pub napsh: PathBuf,
    /// The environment every command (napsh, ssh, scp, ansible) runs with.
    pub vars: Vec<(String, String)>,
}

impl AwkwardInstall {
    /// Copies the env's napsh and points XDG_DATA_HOME at an awkward directory.
    pub fn new(env: &TestEnv) -> Self {
        let bin_dir = env.path().join("bin dir 100%");
        std::fs::create_dir_all(&bin_dir).expect("creating the bin dir");
        let napsh = bin_dir.join("napsh");
        std::fs::copy(env.napsh_bin(), &napsh).expect("copying napsh");
        let data = env.path().join("data 50% off");
        let mut vars: Vec<(String, String)> = env
            .napsh_env()
            .into_iter()
            .filter(|(k, _)| k != "XDG_DATA_HOME")
            .collect();
        vars.push(("XDG_DATA_HOME".into(), data.display().to_string()));
        AwkwardInstall { napsh, vars }
    }

    /// napsh's known_hosts in this install.
    pub fn known_hosts(&self) -> PathBuf {
        let data = self
            .vars
            .iter()
            .find(|(k, _)| k == "XDG_DATA_HOME")
            .map(|(_, v)| PathBuf::from(v))
            .expect("XDG_DATA_HOME");
        data.join("napsh/known_hosts")
    }

    /// The user's ~/.ssh/config in this install's HOME.
    pub fn ssh_config(&self) -> PathBuf {
        self.home().join(".ssh/config")
    }

    /// HOME.
    pub fn home(&self) -> PathBuf {
        self.vars
            .iter()
            .find(|(k, _)| k == "HOME")
            .map(|(_, v)| PathBuf::from(v))
            .expect("HOME")
    }

    /// A command for `program` with this install's environment only.
    pub fn command(&self, program: impl AsRef<Path>) -> Command {
        let mut cmd = Command::new(program.as_ref());
        cmd.env_clear()
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        cmd
    }

    /// A command running this install's napsh.
    pub fn napsh(&self) -> Command {
        self.command(&self.napsh)
    }
}
