//! A local SMTP server for the tests: it speaks the protocol as a mail server does (a greeting,
//! `EHLO` before anything, `AUTH PLAIN` checked when it has credentials, `MAIL`, `RCPT`, `DATA`
//! ended by a lone dot and un-dot-stuffed, `QUIT`), refuses what comes out of order with the
//! codes a real server uses, and keeps each message it accepts. The browser suite uses it too.

// Each of the two suites uses part of it.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpListener;

/// A message the server accepted.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent: headers, a blank line, the body.
    pub data: String,
}

impl Mail {
    /// The body, with quoted-printable soft breaks and `=XX` escapes undone.
    pub fn body(&self) -> String {
        let body = self
            .data
            .split_once("\r\n\r\n")
            .map_or(self.data.as_str(), |(_, body)| body);
        let joined = body.replace("=\r\n", "");
        let mut out = Vec::new();
        let bytes = joined.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'='
                && i + 2 < bytes.len()
                && let Ok(byte) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
            {
                out.push(byte);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).replace("\r\n", "\n")
    }

    /// The first link in the body that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> String {
        let body = self.body();
        let start = body
            .find(prefix)
            .unwrap_or_else(|| panic!("no link {prefix} in:\n{body}"));
        body[start..].split_whitespace().next().unwrap().to_owned()
    }
}

pub struct SmtpServer {
    pub port: u16,
    mails: Arc<Mutex<Vec<Mail>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpServer {
    /// A server on a free port; with `credentials`, mail is taken only after `AUTH PLAIN` with
    /// them.
    pub async fn start(credentials: Option<(&str, &str)>) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let kept = mails.clone();
        let credentials = credentials.map(|(u, p)| (u.to_owned(), p.to_owned()));
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let kept = kept.clone();
                let credentials = credentials.clone();
                tokio::spawn(async move {
                    if let Err(err) = session(stream, credentials, kept).await {
                        eprintln!("test SMTP server: {err}");
                    }
                });
            }
        });
        SmtpServer { port, mails, task }
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// The mails once there are `count` (the API sends after it answers); panics after 10 s.
    pub async fn wait_for(&self, count: usize) -> Vec<Mail> {
        for _ in 0..200 {
            let mails = self.mails();
            if mails.len() >= count {
                return mails;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{count} mail(s) expected, {} came", self.mails().len());
    }
}

async fn session(
    stream: tokio::net::TcpStream,
    credentials: Option<(String, String)>,
    kept: Arc<Mutex<Vec<Mail>>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 test.invalid ESMTP ready\r\n").await?;
    let mut greeted = false;
    let mut authenticated = credentials.is_none();
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let line = line.trim_end_matches(['\r', '\n']);
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO ") || upper.starts_with("HELO ") {
            greeted = true;
            b"250-test.invalid\r\n250-AUTH PLAIN\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else if upper == "NOOP" {
            b"250 ok\r\n"
        } else if upper == "RSET" {
            from = None;
            to.clear();
            b"250 ok\r\n"
        } else if !greeted {
            b"503 5.5.1 EHLO first\r\n"
        } else if let Some(given) = upper.strip_prefix("AUTH PLAIN") {
            let encoded = line[line.len() - given.len()..].trim();
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap_or_default();
            let parts: Vec<&[u8]> = decoded.split(|b| *b == 0).collect();
            match (&credentials, parts.as_slice()) {
                (Some((user, password)), [_, u, p])
                    if *u == user.as_bytes() && *p == password.as_bytes() =>
                {
                    authenticated = true;
                    b"235 2.7.0 authenticated\r\n"
                }
                _ => b"535 5.7.8 authentication failed\r\n",
            }
        } else if upper.starts_with("MAIL FROM:") {
            if authenticated {
                from = Some(address(&line[10..]));
                to.clear();
                b"250 ok\r\n"
            } else {
                b"530 5.7.0 authentication required\r\n"
            }
        } else if upper.starts_with("RCPT TO:") {
            if from.is_some() {
                to.push(address(&line[8..]));
                b"250 ok\r\n"
            } else {
                b"503 5.5.1 MAIL first\r\n"
            }
        } else if upper == "DATA" {
            if to.is_empty() {
                b"503 5.5.1 RCPT first\r\n"
            } else {
                write.write_all(b"354 go ahead\r\n").await?;
                let mut data = String::new();
                loop {
                    let mut line = String::new();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" {
                        break;
                    }
                    // Dot-stuffing undone.
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                kept.lock().unwrap().push(Mail {
                    from: from.take().unwrap_or_default(),
                    to: std::mem::take(&mut to),
                    data,
                });
                b"250 2.0.0 queued\r\n"
            }
        } else {
            b"502 5.5.2 command not recognised\r\n"
        };
        write.write_all(reply).await?;
    }
}

/// `<a@b>` (and any parameters after it) → `a@b`.
fn address(text: &str) -> String {
    let text = text.trim();
    text.strip_prefix('<')
        .and_then(|rest| rest.split_once('>'))
        .map_or_else(|| text.to_owned(), |(address, _)| address.to_owned())
}
