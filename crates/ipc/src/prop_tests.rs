//! Property tests of the IPC frames (issue 20): a worker's or engine's bytes, arbitrary or
//! mutated from real frames, are read without panic, within a time and allocation bound, into a
//! message or a typed [`FrameError`]; every message written is read back equal; a shared-array
//! reference from the socket (name, shape, dtype) is refused with a typed [`ShmError`] when
//! hostile (path traversal, overflowing shape) before anything is mapped.

use std::collections::BTreeMap;
use std::io::Cursor;

use gaia_testkit::hostile::{bounded, config, hostile, Limits};
use proptest::prelude::*;

use crate::frame::{decode, encode, read_frame, write_frame, FrameError, Message};
use crate::shm::{SharedArray, ShmError};
use crate::types::{FailureKind, ResultUnit, SharedArrayRef, WorkUnit};

/// A limit small enough that a hostile length header over it must not be allocated.
const MAX: usize = 1 << 20;

fn json_leaf() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        // JSON has no NaN/inf: serde_json maps them to null, so only finite floats are values.
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(serde_json::Value::from),
        ".*".prop_map(serde_json::Value::String),
    ]
}

fn json() -> impl Strategy<Value = serde_json::Value> {
    json_leaf().prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn shared() -> impl Strategy<Value = Option<BTreeMap<String, SharedArrayRef>>> {
    prop::option::of(prop::collection::btree_map(
        ".{0,8}",
        (
            ".{0,12}",
            prop::collection::vec(any::<usize>(), 0..4),
            ".{0,8}",
        )
            .prop_map(|(name, shape, dtype)| SharedArrayRef { name, shape, dtype }),
        0..3,
    ))
}

fn message() -> impl Strategy<Value = Message> {
    let kind = prop::sample::select(vec![
        FailureKind::Verification,
        FailureKind::Scoring,
        FailureKind::Transient,
        FailureKind::Internal,
    ]);
    prop_oneof![
        (any::<u32>(), any::<u32>(), ".*").prop_map(|(protocol_version, pid, name)| {
            Message::Hello {
                protocol_version,
                pid,
                name,
            }
        }),
        any::<u32>().prop_map(|protocol_version| Message::Welcome { protocol_version }),
        ".*".prop_map(|reason| Message::Refused { reason }),
        ".*".prop_map(|reason| Message::Goodbye { reason }),
        Just(Message::Shutdown),
        (".*", ".*", json(), shared(), any::<u64>()).prop_map(
            |(job_id, task_name, payload, shared_data, timeout_seconds)| {
                Message::Work(WorkUnit {
                    job_id,
                    task_name,
                    payload,
                    shared_data,
                    timeout_seconds,
                })
            }
        ),
        (
            ".*",
            any::<bool>(),
            prop::option::of(json()),
            shared(),
            prop::option::of(".*"),
            prop::option::of(kind),
            any::<u32>(),
            -1e12f64..1e12
        )
            .prop_map(
                |(
                    job_id,
                    success,
                    result,
                    shared_data_result,
                    error,
                    failure_kind,
                    worker_pid,
                    ms,
                )| {
                    Message::Result(ResultUnit {
                        job_id,
                        task_name: "weather.score.day1".into(),
                        success,
                        result,
                        shared_data_result,
                        error,
                        failure_kind,
                        worker_pid,
                        execution_time_ms: ms,
                    })
                }
            ),
    ]
}

/// Real frames (length header included) to mutate.
fn seeds() -> Vec<Vec<u8>> {
    let work = WorkUnit::new(
        "weather.day1:2026-01-01T00:3",
        "weather.score.day1",
        serde_json::json!({"lead_hours": [24, 48], "grid": 0.25}),
    );
    let mut messages = vec![
        Message::Hello {
            protocol_version: 1,
            pid: 4242,
            name: "compute-1".into(),
        },
        Message::Welcome {
            protocol_version: 1,
        },
        Message::Work(work),
        Message::Shutdown,
    ];
    let mut refs = BTreeMap::new();
    refs.insert(
        "forecast".to_string(),
        SharedArrayRef {
            name: "gaia-1-j-0".into(),
            shape: vec![2, 721, 1440],
            dtype: "float32".into(),
        },
    );
    messages.push(Message::Result(ResultUnit {
        job_id: "j".into(),
        task_name: "weights.calculate".into(),
        success: false,
        result: None,
        shared_data_result: Some(refs),
        error: Some("bad".into()),
        failure_kind: Some(FailureKind::Scoring),
        worker_pid: 7,
        execution_time_ms: 12.5,
    }));
    messages
        .iter()
        .map(|m| {
            let mut frame = Vec::new();
            write_frame(&mut frame, m).expect("seed frames encode");
            frame
        })
        .collect()
}

proptest! {
    #![proptest_config(config(20000))]

    /// Any byte stream: a message, a clean end, or a typed error; a length over the limit is
    /// refused before its buffer exists.
    #[test]
    fn prop_hostile_streams_are_read_or_refused(bytes in hostile(seeds())) {
        let limits = Limits { peak_bytes: MAX + (64 << 10) + bytes.len() * 16, ..Limits::default() };
        let mut cursor = Cursor::new(&bytes);
        let out = bounded("read_frame", &bytes, limits, || read_frame(&mut cursor, MAX))?;
        match out {
            Ok(_) => {}
            Err(FrameError::TooLarge { len, max }) => prop_assert!(len > max),
            Err(FrameError::Truncated | FrameError::Malformed(_)) => {}
            Err(FrameError::Io(e)) => prop_assert!(false, "a cursor has no socket error: {e}"),
        }
    }

    /// A frame body alone (what the async codec hands over).
    #[test]
    fn prop_hostile_bodies_decode_or_are_malformed(bytes in hostile(seeds())) {
        let out = bounded("decode", &bytes, Limits::default(), || decode(&bytes))?;
        prop_assert!(matches!(out, Ok(_) | Err(FrameError::Malformed(_))));
    }

    /// Every message round-trips through a frame.
    #[test]
    fn prop_messages_round_trip(m in message()) {
        let mut frame = Vec::new();
        write_frame(&mut frame, &m).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = read_frame(&mut Cursor::new(&frame), usize::MAX).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(Some(&m), back.as_ref());
        prop_assert_eq!(decode(&encode(&m).map_err(|e| TestCaseError::fail(e.to_string()))?).ok(), Some(m));
    }

    /// A hostile shared-array reference is refused by name, dtype or size before mapping.
    #[test]
    fn prop_hostile_shared_array_refs_are_refused(
        name in prop_oneof![Just("../etc/passwd".to_string()), Just("a/b".to_string()), Just(String::new()), ".{0,40}"],
        shape in prop::collection::vec(prop_oneof![any::<usize>(), 0usize..10_000], 0..6),
        dtype in prop_oneof![Just("float32".to_string()), Just("<f8".to_string()), ".{0,6}"],
    ) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let reference = SharedArrayRef { name: name.clone(), shape, dtype };
        let out = bounded("SharedArray::open", name.as_bytes(), Limits::default(), || SharedArray::open(dir.path(), &reference))?;
        match out {
            Ok(_) => prop_assert!(false, "nothing exists in an empty directory"),
            Err(ShmError::BadName(_) | ShmError::BadDtype(_) | ShmError::TooLarge { .. }) => {}
            Err(ShmError::Io { path, .. }) => prop_assert!(path.starts_with(dir.path()), "{path:?} outside the directory"),
            Err(e) => prop_assert!(false, "unexpected error for a missing segment: {e}"),
        }
    }
}

/// Regression (issue 20, found by `prop_messages_round_trip`): a handler answering JSON `null`
/// (`result: Some(Null)`) reached the engine as `result: None`.
#[test]
fn regression_a_null_result_round_trips() {
    let unit = ResultUnit {
        job_id: String::new(),
        task_name: "weather.score.day1".into(),
        success: false,
        result: Some(serde_json::Value::Null),
        shared_data_result: None,
        error: None,
        failure_kind: None,
        worker_pid: 0,
        execution_time_ms: 0.0,
    };
    let m = Message::Result(unit.clone());
    assert_eq!(decode(&encode(&m).expect("encodes")).expect("decodes"), m);
    let none = ResultUnit {
        result: None,
        ..unit
    };
    let text = serde_json::to_string(&none).expect("encodes");
    assert!(
        !text.contains("\"result\""),
        "None leaves the key out: {text}"
    );
    let m = Message::Result(none);
    assert_eq!(decode(&encode(&m).expect("encodes")).expect("decodes"), m);
}
