//! Wire framing between the IO-Engine and compute workers.
//!
//! A frame is a 4-byte big-endian length followed by that many bytes of JSON encoding one
//! [`Message`]. The length is checked against a limit before any buffer is allocated, so a
//! garbage or hostile peer cannot make the receiver allocate. A connection starts with a version
//! handshake: the worker sends [`Message::Hello`], the engine answers [`Message::Welcome`] or
//! [`Message::Refused`].
//!
//! The worker side is synchronous ([`read_frame`], [`write_frame`]); the IO-Engine side uses the
//! same layout through [`codec`] with tokio-util's length-delimited codec.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};
use tokio_util::codec::LengthDelimitedCodec;

use crate::types::{ResultUnit, WorkUnit};

/// Version of this protocol; both ends must agree at the handshake.
pub const PROTOCOL_VERSION: u32 = 1;

/// Default frame size limit (16 MiB): large arrays travel through shared memory, not frames.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// Every message that crosses the socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Message {
    /// Worker → engine, first frame: who is connecting.
    Hello {
        /// The worker's protocol version.
        protocol_version: u32,
        /// The worker's process id.
        pid: u32,
        /// The worker's name (`compute-3`).
        name: String,
    },
    /// Engine → worker: handshake accepted.
    Welcome {
        /// The engine's protocol version.
        protocol_version: u32,
    },
    /// Engine → worker: handshake refused; the connection closes.
    Refused {
        /// Why.
        reason: String,
    },
    /// Engine → worker: run this job.
    Work(WorkUnit),
    /// Worker → engine: the job's outcome.
    Result(ResultUnit),
    /// Worker → engine: the worker is leaving (recycling); any job sent after this is not run.
    Goodbye {
        /// Why the worker leaves.
        reason: String,
    },
    /// Engine → worker: exit now (shutdown).
    Shutdown,
}

/// Errors reading or writing frames.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The announced length is over the limit; nothing was allocated.
    #[error("frame of {len} bytes refused: limit is {max} bytes")]
    TooLarge {
        /// Announced length.
        len: usize,
        /// Limit in force.
        max: usize,
    },
    /// The frame body is not a valid message.
    #[error("malformed frame: {0}")]
    Malformed(#[from] serde_json::Error),
    /// The peer closed the connection in the middle of a frame.
    #[error("connection closed in the middle of a frame")]
    Truncated,
    /// Socket error.
    #[error("socket error: {0}")]
    Io(#[from] io::Error),
}

/// Encode a message as a frame body (JSON).
pub fn encode(message: &Message) -> Result<Vec<u8>, FrameError> {
    Ok(serde_json::to_vec(message)?)
}

/// Decode a frame body.
pub fn decode(body: &[u8]) -> Result<Message, FrameError> {
    Ok(serde_json::from_slice(body)?)
}

/// Write one frame.
pub fn write_frame(writer: &mut impl Write, message: &Message) -> Result<(), FrameError> {
    let body = encode(message)?;
    let len = u32::try_from(body.len()).map_err(|_| FrameError::TooLarge {
        len: body.len(),
        max: u32::MAX as usize,
    })?;
    let mut buf = Vec::with_capacity(4 + body.len());
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(&body);
    writer.write_all(&buf)?;
    writer.flush()?;
    Ok(())
}

/// Read one frame; `Ok(None)` on a clean end of stream before a frame starts.
pub fn read_frame(reader: &mut impl Read, max: usize) -> Result<Option<Message>, FrameError> {
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < header.len() {
        match reader.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(FrameError::Truncated),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    let len = u32::from_be_bytes(header) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => FrameError::Truncated,
        _ => FrameError::Io(e),
    })?;
    decode(&body).map(Some)
}

/// The async codec with the same layout and limit, for `tokio_util::codec::Framed`.
pub fn codec(max: usize) -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_length(4)
        .big_endian()
        .max_frame_length(max)
        .new_codec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn sample() -> Message {
        Message::Work(WorkUnit::new(
            "j1",
            "sys.echo",
            serde_json::json!({"x": [1, 2.5, "é"]}),
        ))
    }

    #[test]
    fn round_trips_every_message_kind() {
        let result = ResultUnit {
            job_id: "j1".into(),
            task_name: "sys.echo".into(),
            success: true,
            result: Some(serde_json::json!(1)),
            shared_data_result: None,
            error: None,
            failure_kind: None,
            worker_pid: 7,
            execution_time_ms: 0.5,
        };
        let messages = vec![
            Message::Hello {
                protocol_version: PROTOCOL_VERSION,
                pid: 3,
                name: "compute-1".into(),
            },
            Message::Welcome {
                protocol_version: PROTOCOL_VERSION,
            },
            Message::Refused {
                reason: "version".into(),
            },
            sample(),
            Message::Result(result),
            Message::Goodbye {
                reason: "recycle".into(),
            },
            Message::Shutdown,
        ];
        let mut buf = Vec::new();
        for m in &messages {
            write_frame(&mut buf, m).unwrap();
        }
        let mut cur = Cursor::new(buf);
        for m in &messages {
            assert_eq!(read_frame(&mut cur, 1024).unwrap().as_ref(), Some(m));
        }
        assert!(read_frame(&mut cur, 1024).unwrap().is_none());
    }

    #[test]
    fn oversized_frame_is_refused_before_reading_the_body() {
        let mut cur = Cursor::new(u32::MAX.to_be_bytes().to_vec());
        match read_frame(&mut cur, 1024) {
            Err(FrameError::TooLarge { len, max }) => {
                assert_eq!((len, max), (u32::MAX as usize, 1024))
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    #[test]
    fn garbage_and_truncation_are_named_errors() {
        let mut garbage = 5u32.to_be_bytes().to_vec();
        garbage.extend_from_slice(b"\xff\x00zz!");
        assert!(matches!(
            read_frame(&mut Cursor::new(garbage), 1024),
            Err(FrameError::Malformed(_))
        ));
        let mut short = 10u32.to_be_bytes().to_vec();
        short.extend_from_slice(b"{}");
        assert!(matches!(
            read_frame(&mut Cursor::new(short), 1024),
            Err(FrameError::Truncated)
        ));
        assert!(matches!(
            read_frame(&mut Cursor::new(vec![0u8, 1]), 1024),
            Err(FrameError::Truncated)
        ));
    }
}
