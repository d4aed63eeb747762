//! A small real SMTP server on a local port: it speaks enough of RFC 5321 for lettre and keeps
//! every message it accepts.

use std::sync::{Arc, Mutex};

use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
    sync::Notify,
};

#[derive(Debug, Clone, Default)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Clone)]
pub struct SmtpServer {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
    arrived: Arc<Notify>,
}

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = SmtpServer { port, mails: Arc::default(), arrived: Arc::default() };
        let accepting = server.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let server = accepting.clone();
                tokio::spawn(async move { server.session(socket).await });
            }
        });
        server
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    async fn session(&self, socket: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 localhost test SMTP\r\n").await?;
        let mut mail = Mail::default();
        while let Some(line) = lines.next_line().await? {
            let upper = line.to_ascii_uppercase();
            let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                b"250-localhost\r\n250 8BITMIME\r\n"
            } else if upper.starts_with("MAIL FROM:") {
                mail = Mail { from: line[10..].trim().to_string(), ..Mail::default() };
                b"250 OK\r\n"
            } else if upper.starts_with("RCPT TO:") {
                mail.to.push(line[8..].trim().trim_matches(['<', '>']).to_string());
                b"250 OK\r\n"
            } else if upper == "DATA" {
                write.write_all(b"354 end with .\r\n").await?;
                while let Some(data) = lines.next_line().await? {
                    if data == "." {
                        break;
                    }
                    mail.data.push_str(data.strip_prefix('.').unwrap_or(&data));
                    mail.data.push('\n');
                }
                self.mails.lock().unwrap().push(std::mem::take(&mut mail));
                self.arrived.notify_waiters();
                b"250 queued\r\n"
            } else if upper == "QUIT" {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else if upper == "RSET" || upper == "NOOP" {
                b"250 OK\r\n"
            } else {
                b"502 not implemented\r\n"
            };
            write.write_all(reply).await?;
        }
        Ok(())
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// Waits until `count` messages arrived (failing after a generous deadline).
    pub async fn wait_for(&self, count: usize) -> Vec<Mail> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let arrived = self.arrived.notified();
            let mails = self.mails();
            if mails.len() >= count {
                return mails;
            }
            tokio::time::timeout_at(deadline, arrived).await.expect("the mail arrived in time");
        }
    }
}
