//! Log lines: one flat JSON object per line with `ts` (ISO 8601, UTC), `level`, `msg`, `role`,
//! `pid`, `target`, the fields of every span in scope (`job_id`, `task`, `run_id`, ...) and the
//! event's own fields. `--log-format pretty` prints the usual human format instead.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// Install the global subscriber for a process of the given role. Safe to call twice (the
/// second call does nothing), so tests may call it freely.
pub fn init(role: &'static str, format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson {
                role,
                pid: std::process::id(),
            })
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// Event formatter producing one flat JSON object per line.
#[derive(Debug, Clone)]
pub struct FlatJson {
    /// Process role (`supervisor`, `io-engine`, `compute-worker`, `cli`).
    pub role: &'static str,
    /// Process id.
    pub pid: u32,
}

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(key(field), serde_json::json!(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(key(field), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(key(field), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(key(field), value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(key(field), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(key(field), format!("{value:?}").into());
    }
}

fn key(field: &Field) -> String {
    match field.name() {
        "message" => "msg".to_string(),
        other => other.to_string(),
    }
}

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut map = Map::new();
        let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        map.insert("ts".into(), ts.into());
        map.insert("level".into(), event.metadata().level().as_str().into());
        map.insert("role".into(), self.role.into());
        map.insert("pid".into(), self.pid.into());
        map.insert("target".into(), event.metadata().target().into());
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let ext = span.extensions();
                let Some(fields) = ext.get::<FormattedFields<N>>() else {
                    continue;
                };
                if let Ok(Value::Object(span_fields)) = serde_json::from_str::<Value>(fields) {
                    map.extend(span_fields);
                }
            }
        }
        event.record(&mut JsonVisitor(&mut map));
        writeln!(writer, "{}", Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl<'a> MakeWriter<'a> for Buf {
        type Writer = Buf;
        fn make_writer(&'a self) -> Buf {
            self.clone()
        }
    }

    #[test]
    fn lines_are_flat_json_with_span_fields() {
        let buf = Buf::default();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson {
                role: "io-engine",
                pid: 42,
            })
            .with_writer(buf.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("run", run_id = 7);
            let _o = outer.enter();
            let inner = tracing::info_span!("job", job_id = "j-1", task = "sys.echo");
            let _i = inner.enter();
            tracing::warn!(miner_uid = 3u64, "job started");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["msg"], "job started");
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["role"], "io-engine");
        assert_eq!(line["pid"], 42);
        assert_eq!(line["run_id"], 7);
        assert_eq!(line["job_id"], "j-1");
        assert_eq!(line["task"], "sys.echo");
        assert_eq!(line["miner_uid"], 3);
        let ts = line["ts"].as_str().unwrap();
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
    }
}
