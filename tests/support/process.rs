//! The server binary as it runs in production: its own process, its own port, its own logs.

use std::{
    collections::VecDeque,
    io::BufRead,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{sync::mpsc, time::Instant};

/// How long a server may take from spawn to listening, and then to ready.
const START_TIME: Duration = Duration::from_secs(60);
/// The last log lines kept to tell why a server did not start.
const KEPT_LINES: usize = 200;

/// A running server process, killed when dropped. It listens on a port of its own choosing
/// (`FRONTDESK_ADDR=127.0.0.1:0`, read back from its "listening" log line), so no port it was
/// handed can be taken by someone else before it binds.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    /// Its log lines (JSON) from the "listening" line on.
    pub lines: mpsc::UnboundedReceiver<String>,
    kept: Arc<Mutex<VecDeque<String>>>,
}

impl ServerProcess {
    /// Spawns the binary with `settings` (RUST_LOG defaults to info; no OpenAI key unless given)
    /// and waits until it answers `/readyz`; panics with its last log lines if it exits or takes
    /// more than a minute.
    pub async fn start(settings: &[(&str, &str)]) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_frontdesk"))
            .env_remove("OPENAI_API_KEY")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .envs(settings.iter().copied())
            .env("FRONTDESK_ADDR", "127.0.0.1:0")
            .env("FRONTDESK_LOG_FORMAT", "json")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let (lines_tx, lines) = mpsc::unbounded_channel::<String>();
        let kept = Arc::new(Mutex::new(VecDeque::new()));
        let stdout = child.stdout.take().unwrap();
        let keeping = kept.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut kept = keeping.lock().unwrap();
                if kept.len() == KEPT_LINES {
                    kept.pop_front();
                }
                kept.push_back(line.clone());
                drop(kept);
                if lines_tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut process = ServerProcess { child, base: String::new(), lines, kept };
        let deadline = Instant::now() + START_TIME;
        let addr = loop {
            match tokio::time::timeout_at(deadline, process.lines.recv()).await {
                Ok(Some(line)) => {
                    let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
                    let message = entry["fields"]["message"].as_str().unwrap_or("");
                    if message.starts_with("Frontdesk is listening") {
                        match entry["fields"]["addr"].as_str() {
                            Some(addr) => break addr.to_owned(),
                            None => process.fail("named no address when listening"),
                        }
                    }
                }
                Err(_) => process.fail("did not listen within a minute"),
                Ok(None) => process.fail("exited before listening"),
            }
        };
        process.base = format!("http://{addr}");
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        while !matches!(client.get(format!("{}/readyz", process.base)).send().await, Ok(r) if r.status().is_success()) {
            if Instant::now() > deadline {
                process.fail("listened but was not ready within a minute");
            }
            if process.child.try_wait().unwrap().is_some() {
                process.fail("exited before it was ready");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        process
    }

    /// Sends SIGTERM and waits (up to a minute) for the process to exit.
    pub async fn terminate(mut self) -> ExitStatus {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: signalling our own child process.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let deadline = Instant::now() + START_TIME;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                self.fail("did not exit within a minute of SIGTERM");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills the process (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn fail(&mut self, what: &str) -> ! {
        let _ = self.child.kill();
        let status = self.child.wait().ok();
        let log = self.kept.lock().unwrap().iter().cloned().collect::<Vec<_>>().join("\n");
        panic!("the server {what} ({status:?}); its last log lines:\n{log}");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
