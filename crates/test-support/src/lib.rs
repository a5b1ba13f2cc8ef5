//! Helpers the test harnesses share: a child process's output, read on threads, and the
//! live readings of the firmware's page.
//!
//! A test that starts a simulator or a host program must drain its pipes while it runs (a
//! full pipe stalls the child) and must not read them on the test thread (a blocking read
//! outlasts any deadline). The text must also stay complete: after the child exits, its
//! last lines may still be in the reader thread, so [`Captured::join`] waits for the end
//! of the pipe before a test checks them.

use std::io::{BufRead, BufReader, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

/// The lines of `pipe`, sent one by one as they arrive; the channel closes at the end of
/// the pipe (or when the receiver is dropped).
pub fn line_channel(pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

/// Everything a pipe delivers, collected on a thread; what has arrived so far can be read
/// at any time.
pub struct Captured {
    bytes: Arc<Mutex<Vec<u8>>>,
    finished: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl Captured {
    /// Collects `pipe` silently.
    pub fn start(pipe: impl Read + Send + 'static) -> Captured {
        Captured::spawn(pipe, false)
    }

    /// Collects `pipe` and also passes each complete line on to the test's stderr (shown
    /// when the test fails), so a long simulation's log is there to read.
    pub fn echoing(pipe: impl Read + Send + 'static) -> Captured {
        Captured::spawn(pipe, true)
    }

    fn spawn(mut pipe: impl Read + Send + 'static, echo: bool) -> Captured {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let finished = Arc::new(AtomicBool::new(false));
        let reader = {
            let (bytes, finished) = (bytes.clone(), finished.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                // Bytes not yet echoed: the start of a line whose end has not arrived.
                let mut partial = Vec::new();
                loop {
                    let n = match pipe.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(_) => break,
                    };
                    bytes
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend_from_slice(&buf[..n]);
                    if echo {
                        partial.extend_from_slice(&buf[..n]);
                        if let Some(end) = partial.iter().rposition(|&b| b == b'\n') {
                            eprint!("{}", String::from_utf8_lossy(&partial[..=end]));
                            partial.drain(..=end);
                        }
                    }
                }
                if echo && !partial.is_empty() {
                    eprintln!("{}", String::from_utf8_lossy(&partial));
                }
                finished.store(true, Ordering::Release);
            })
        };
        Captured {
            bytes,
            finished,
            reader: Some(reader),
        }
    }

    /// The text so far (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lock()).into_owned()
    }

    /// Takes the bytes so far, leaving none.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.lock())
    }

    /// Whether the pipe has ended and everything from it is collected.
    pub fn done(&self) -> bool {
        self.finished.load(Ordering::Acquire)
    }

    /// Waits for the end of the pipe (the child has exited, or closed it), so the text is
    /// complete. Call it only once the child is gone or about to be: until then it blocks.
    pub fn join(&mut self) {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        // A panic elsewhere while holding the lock must not hide the output from the report.
        self.bytes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The status JSON that the page at `/` carries between `<pre id="s">` and `</pre>` (its
/// live readings), or `None` when the page has no such block.
pub fn page_readings(page: &str) -> Option<&str> {
    let (_, rest) = page.split_once("<pre id=\"s\">")?;
    Some(rest.split_once("</pre>")?.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    fn child(script: &str) -> std::process::Child {
        Command::new("sh")
            .args(["-c", script])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    }

    #[test]
    fn join_waits_for_the_last_bytes() {
        let mut c = child("printf 'one\\n'; sleep 0.2; printf 'two, no newline'");
        let mut out = Captured::start(c.stdout.take().unwrap());
        c.wait().unwrap();
        out.join();
        assert!(out.done());
        assert_eq!(out.text(), "one\ntwo, no newline");
        assert_eq!(out.take(), b"one\ntwo, no newline");
        assert_eq!(out.text(), "");
    }

    #[test]
    fn text_so_far_is_readable_while_the_child_runs() {
        let mut c = child("printf 'early\\n'; sleep 5");
        let out = Captured::echoing(c.stdout.take().unwrap());
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while out.text() != "early\n" {
            assert!(std::time::Instant::now() < deadline, "{:?}", out.text());
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!out.done());
        c.kill().unwrap();
        c.wait().unwrap();
    }

    #[test]
    fn line_channel_yields_lines_then_closes() {
        let mut c = child("printf 'a\\nb\\n'");
        let lines = line_channel(c.stdout.take().unwrap());
        let got: Vec<String> = lines.iter().collect();
        assert_eq!(got, ["a", "b"]);
        c.wait().unwrap();
    }

    #[test]
    fn page_readings_are_the_pre_block() {
        let page = "<h1>x</h1><pre id=\"s\">{\"a\":1}</pre><script>0</script>";
        assert_eq!(page_readings(page), Some("{\"a\":1}"));
        assert_eq!(page_readings("<pre id=\"s\">{"), None);
        assert_eq!(page_readings("<pre>{}</pre>"), None);
    }
}
