//! Cross-crate integration tests live in `tests/`: the backtest on generated data with known
//! answers and on the shared benchmark data, and the serverless pipeline against AWS services
//! emulated by the moto server, which [`Moto`] starts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// A moto server on 127.0.0.1 (S3, DynamoDB, SQS, SNS, EventBridge Scheduler on one port),
/// stopped when dropped.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

/// How many times [`Moto::start`] starts a server before it gives up.
const ATTEMPTS: usize = 3;

/// How long one start may take (moto imports every service's backend on its first start).
const START_TIMEOUT: Duration = Duration::from_secs(60);

impl Moto {
    /// Starts `moto_server` from `$SEISMO_MOTO_SERVER`, else from the repository's `.venv`
    /// (which `.ci/run` and `scripts/setup-python.sh` install). Panics with the fix when it
    /// is not installed: these tests never skip themselves.
    ///
    /// The server binds a port the system chooses (`-p 0`) and says which in its log, so no
    /// other process can take the port between its choice and the bind. It is ready when it
    /// answers `GET /moto-api/` with 200 and is still running (the answer is its own); a
    /// server that exits or does not answer in time is stopped and another started.
    pub fn start() -> Moto {
        let bin = std::env::var_os("SEISMO_MOTO_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root().join(".venv/bin/moto_server"));
        assert!(
            bin.exists(),
            "{} is missing: run `bash scripts/setup-python.sh` (it installs moto[server] into .venv)",
            bin.display()
        );
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            match Moto::try_start(&bin, START_TIMEOUT) {
                Ok(moto) => return moto,
                Err(why) => failures.push(why),
            }
        }
        panic!(
            "moto_server did not start in {ATTEMPTS} attempts:\n{}",
            failures.join("\n")
        );
    }

    /// One start: the server, once it answers as moto; else why not (the server stopped).
    fn try_start(bin: &Path, timeout: Duration) -> Result<Moto, String> {
        Moto::ready(spawn(bin), timeout)
    }

    /// The started server `child`, once it answers as moto; else why not (it is stopped).
    fn ready(mut child: Child, timeout: Duration) -> Result<Moto, String> {
        let port = listening_port(&mut child);
        // Stopped on every early return below, by its drop.
        let mut moto = Moto {
            child,
            endpoint: String::new(),
        };
        let deadline = Instant::now() + timeout;
        let port = match port.recv_timeout(timeout) {
            Ok(port) => port,
            Err(_) => {
                let exited = moto.child.try_wait().ok().flatten();
                return Err(format!(
                    "no `Running on http://127.0.0.1:PORT` line in its log (exited: {exited:?})"
                ));
            }
        };
        moto.endpoint = format!("http://127.0.0.1:{port}");
        while Instant::now() < deadline {
            if let Ok(Some(status)) = moto.child.try_wait() {
                return Err(format!("it exited ({status}) before it answered on {port}"));
            }
            if moto_api_status(port) == Some(200) {
                return match moto.child.try_wait() {
                    Ok(None) => Ok(moto),
                    _ => Err(format!("it exited; something else answers on {port}")),
                };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!(
            "GET /moto-api/ on port {port} gave no 200 within {timeout:?}"
        ))
    }
}

/// `moto_server` (or a stand-in) on a port the system chooses, its log piped.
fn spawn(bin: &Path) -> Child {
    Command::new(bin)
        .args(["-H", "127.0.0.1", "-p", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()))
}

/// The port the server says it listens on, read from its log (werkzeug's
/// ` * Running on http://127.0.0.1:PORT`); the log is drained until the server exits, so a
/// full pipe never blocks it.
fn listening_port(child: &mut Child) -> mpsc::Receiver<u16> {
    let (tx, rx) = mpsc::channel();
    let Some(stderr) = child.stderr.take() else {
        return rx;
    };
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        let mut lines = BufReader::new(stderr);
        let mut line = Vec::new();
        while lines.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
            let text = String::from_utf8_lossy(&line);
            if let Some(port) = text
                .split("Running on http://127.0.0.1:")
                .nth(1)
                .map(|rest| {
                    rest.chars()
                        .take_while(char::is_ascii_digit)
                        .collect::<String>()
                })
                .and_then(|digits| digits.parse::<u16>().ok())
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(port);
            }
            line.clear();
        }
    });
    rx
}

/// The HTTP status of `GET /moto-api/` on 127.0.0.1:`port`, if anything answers.
fn moto_api_status(port: u16) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream
        .write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    // `HTTP/1.x NNN`
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_started_at_once_each_answer_on_their_own_port() {
        let servers: Vec<Moto> = std::thread::scope(|s| {
            let started: Vec<_> = (0..3).map(|_| s.spawn(Moto::start)).collect();
            started.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut ports: Vec<u16> = servers
            .iter()
            .map(|m| m.endpoint.rsplit(':').next().unwrap().parse().unwrap())
            .collect();
        for &port in &ports {
            assert_eq!(moto_api_status(port), Some(200), "{port}");
        }
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 3, "{ports:?}");
        let port = ports[0];
        drop(servers);
        assert_eq!(moto_api_status(port), None, "stopped when dropped");
    }

    /// A stand-in for `moto_server`: a shell script with this body.
    fn fake_server(dir: &Path, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("moto_server");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn a_server_that_exits_or_is_not_moto_is_not_taken() {
        let dir = tempfile::tempdir().unwrap();
        let timeout = Duration::from_secs(3);
        // It cannot start (the port it was given is taken, say).
        let exits = fake_server(
            dir.path(),
            "echo 'OSError: Address already in use' >&2; exit 1",
        );
        let err = Moto::try_start(&exits, timeout).unwrap_err();
        assert!(err.contains("no `Running on"), "{err}");
        // It names a port it then gives up, where another moto answers.
        let other = Moto::start();
        let port = other.endpoint.rsplit(':').next().unwrap();
        let gone = fake_server(
            dir.path(),
            &format!("echo ' * Running on http://127.0.0.1:{port}' >&2; exit 1"),
        );
        // Waited for before it is judged: had it been judged while it still ran, the other
        // moto's answer would have taken it for a server that answers (the race this test
        // lost when the script had not exited yet). Its line stays in the pipe.
        let mut child = spawn(&gone);
        child.wait().unwrap();
        let err = Moto::ready(child, timeout).unwrap_err();
        assert!(err.contains("exited"), "{err}");
        // Something that is not moto listens on the port it names.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut stream = stream;
                let mut request = [0u8; 256];
                let _ = stream.read(&mut request);
                let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            }
        });
        let not_moto = fake_server(
            dir.path(),
            &format!("echo ' * Running on http://127.0.0.1:{port}' >&2; exec sleep 30"),
        );
        let err = Moto::try_start(&not_moto, timeout).unwrap_err();
        assert!(err.contains("gave no 200"), "{err}");
    }
}
