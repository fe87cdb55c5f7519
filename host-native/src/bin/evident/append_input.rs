//! `evident append`'s input side: stdin read line by line on a thread of its own, each line
//! bounded by the payload limit (a line is never buffered past it), turned into a payload or a
//! reason why it cannot be one.

use evident_native::AuditEvent;
use std::io::{BufRead, Read};
use tokio::sync::mpsc;

/// What to do with an input line that cannot be stored as given.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadLine {
    /// Stop the stream at it: nothing after it is appended, and the exit status is 1.
    Stop,
    /// Leave it out, count it, and report the skipped line numbers at exit.
    Skip,
    /// Store its bytes as they are (a line over the payload limit still stops the stream).
    Raw,
}

/// What the reader thread hands to the appending task, in input order.
pub enum Input {
    /// A line to append, with its 1-based number.
    Line(u64, Vec<u8>),
    /// A line the `skip` policy left out.
    Skipped(u64, String),
    /// The stream stops at this line (not appended), for this reason.
    Stop(u64, String),
    /// End of input.
    End,
}

/// How one line was read.
enum Read1 {
    Eof,
    /// The whole line is in the buffer (without its `\n`).
    Line,
    /// The line is longer than the limit; the buffer holds its first `limit + 1` bytes and the
    /// rest has not been read.
    TooLong,
}

/// Reads one line into `buf`, never holding more than `limit + 1` of its bytes.
fn read_line(r: &mut impl BufRead, limit: usize, buf: &mut Vec<u8>) -> std::io::Result<Read1> {
    buf.clear();
    let mut any = false;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(if any { Read1::Line } else { Read1::Eof });
        }
        any = true;
        let room = limit + 1 - buf.len();
        match chunk.iter().position(|&b| b == b'\n') {
            // The line ends within the limit. (A line of exactly `limit + 1` bytes goes to the
            // other arm: its `\n` stays unread for `skip_rest`.)
            Some(i) if i < room => {
                buf.extend_from_slice(&chunk[..i]);
                r.consume(i + 1);
                return Ok(Read1::Line);
            }
            _ => {
                let take = chunk.len().min(room);
                buf.extend_from_slice(&chunk[..take]);
                r.consume(take);
                if buf.len() > limit {
                    return Ok(Read1::TooLong);
                }
            }
        }
    }
}

/// Discards the rest of a line that was too long (up to and including its `\n`).
fn skip_rest(r: &mut impl BufRead) -> std::io::Result<()> {
    let mut sink = Vec::new();
    loop {
        sink.clear();
        let n = r.by_ref().take(64 * 1024).read_until(b'\n', &mut sink)?;
        if n == 0 || sink.last() == Some(&b'\n') {
            return Ok(());
        }
    }
}

/// The payload for one JSON line: an audit event in its canonical form, or any other JSON value
/// compacted.
fn json_payload(line: &[u8]) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(line).map_err(|e| {
        format!(
            "not UTF-8 (byte {}), so not JSON; use --raw to store bytes",
            e.valid_up_to()
        )
    })?;
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("not JSON ({e}); use --raw for plain lines"))?;
    match serde_json::from_value::<AuditEvent>(v.clone()) {
        Ok(ev) => Ok(ev.to_json()),
        Err(_) => serde_json::to_vec(&v).map_err(|e| format!("cannot encode: {e}")),
    }
}

/// Reads `input` to its end (or to the line that stops it), sending each line's fate to `tx`.
/// `raw`: lines are stored as bytes; otherwise each must be JSON. Returns when the receiver is
/// gone too.
pub fn read_lines(
    input: impl Read,
    raw: bool,
    bad: BadLine,
    max_payload: usize,
    tx: mpsc::Sender<Input>,
) {
    let mut r = std::io::BufReader::with_capacity(64 * 1024, input);
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    let send = |item: Input| tx.blocking_send(item).is_ok();
    loop {
        let read = match read_line(&mut r, max_payload, &mut buf) {
            Ok(read) => read,
            Err(e) => {
                send(Input::Stop(
                    line_no + 1,
                    format!("reading stdin after line {line_no}: {e}"),
                ));
                return;
            }
        };
        let item = match read {
            Read1::Eof => {
                send(Input::End);
                return;
            }
            Read1::TooLong => {
                line_no += 1;
                let why = format!(
                    "longer than the payload limit of {max_payload} bytes (reading stopped there)"
                );
                if bad != BadLine::Skip {
                    send(Input::Stop(line_no, why));
                    return;
                }
                if let Err(e) = skip_rest(&mut r) {
                    send(Input::Stop(
                        line_no,
                        format!("reading stdin in line {line_no}: {e}"),
                    ));
                    return;
                }
                Input::Skipped(line_no, why)
            }
            Read1::Line => {
                line_no += 1;
                let payload = if raw {
                    Ok(std::mem::take(&mut buf))
                } else {
                    json_payload(&buf)
                };
                match payload {
                    Ok(p) if p.len() > max_payload => {
                        let why = format!(
                            "payload of {} bytes exceeds the maximum of {max_payload}",
                            p.len()
                        );
                        if bad == BadLine::Skip {
                            Input::Skipped(line_no, why)
                        } else {
                            send(Input::Stop(line_no, why));
                            return;
                        }
                    }
                    Ok(p) => Input::Line(line_no, p),
                    Err(why) => match bad {
                        BadLine::Stop => {
                            send(Input::Stop(line_no, why));
                            return;
                        }
                        BadLine::Skip => Input::Skipped(line_no, why),
                        BadLine::Raw => Input::Line(line_no, std::mem::take(&mut buf)),
                    },
                }
            }
        };
        if !send(item) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], limit: usize) -> Vec<(String, Vec<u8>)> {
        let small = lines_with(4, input, limit);
        assert_eq!(
            small,
            lines_with(64, input, limit),
            "same lines whatever the chunking"
        );
        small
    }

    fn lines_with(capacity: usize, input: &[u8], limit: usize) -> Vec<(String, Vec<u8>)> {
        let mut r = std::io::BufReader::with_capacity(capacity, input);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        loop {
            match read_line(&mut r, limit, &mut buf).unwrap() {
                Read1::Eof => return out,
                Read1::Line => out.push(("line".into(), buf.clone())),
                Read1::TooLong => {
                    out.push(("long".into(), buf.clone()));
                    skip_rest(&mut r).unwrap();
                }
            }
        }
    }

    #[test]
    fn lines_are_bytes_bounded_by_the_limit() {
        let got = lines(b"ab\r\n\xff\xfe\n123456789\nlast", 5);
        assert_eq!(got[0].1, b"ab\r", "a trailing \\r is kept");
        assert_eq!(got[1].1, b"\xff\xfe", "not UTF-8, still a line");
        assert_eq!(
            got[2],
            ("long".into(), b"123456".to_vec()),
            "stops at limit + 1"
        );
        assert_eq!(got[3].1, b"last", "a last line without newline");
        assert_eq!(got.len(), 4);
        assert_eq!(lines(b"12345\n", 5)[0], ("line".into(), b"12345".to_vec()));
        // Exactly one byte over, newline in the same chunk: the next line is still a line.
        let over = lines(b"123456\nnext\n", 5);
        assert_eq!(over[0].0, "long");
        assert_eq!(over[1], ("line".into(), b"next".to_vec()));
        assert_eq!(lines(b"\n\n", 5).len(), 2, "empty lines are lines");
    }
}
