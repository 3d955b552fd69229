//! Log lines: one flat JSON object per line with `ts` (ISO 8601, UTC), `level`, `msg`, `role`,
//! `pid`, `target`, the fields of every span in scope (`run_id`, `job_id`, `miner_uid`, `task`,
//! ...) and the event's own fields. `--log-format pretty` prints the usual human format instead.
//! The level filter comes from the settings (`LOG_LEVEL`, tracing `EnvFilter` syntax).
//!
//! A last line of defence against leaked secrets, in both formats: the password of any URL in a
//! line (`postgres://user:pw@host` → `postgres://user:***@host`) and `password=` pairs are
//! replaced by `***`, and in JSON lines the value of a field whose name says it is secret
//! (`password`, `token`, `api_key`, `secret`, ...) is printed as `***`. Code should still never
//! log a secret: `config::Settings::redacted` and `gaia_store::DatabaseUrl` print redacted forms.

use std::borrow::Cow;
use std::fmt;
use std::io;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Keys every JSON line has; a span or event field of the same name is printed as `field_<name>`.
pub const RESERVED_KEYS: [&str; 6] = ["ts", "level", "msg", "role", "pid", "target"];

/// How log lines are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (for machines).
    Json,
    /// Human-readable lines.
    Pretty,
}

/// Install the global subscriber for a process of the given role. Safe to call twice (the
/// second call does nothing), so tests may call it freely.
///
/// With the JSON format, panics are logged as JSON lines too (level `ERROR`, target `panic`, with
/// the span context in force, e.g. the `job_id` and `task` of a handler that panicked) instead of
/// the standard library's plain-text message, so every line on stderr stays machine-readable.
pub fn init(role: &'static str, format: LogFormat, filter: &str) {
    let installed = subscriber(role, format, filter, io::stderr)
        .try_init()
        .is_ok();
    if installed && matches!(format, LogFormat::Json) {
        std::panic::set_hook(Box::new(log_panic));
    }
}

/// Install the subscriber of a one-shot command (`migrate`, `score`, ...): stderr, so stdout
/// keeps only the command's output; the filter is `LOG_LEVEL`, else `RUST_LOG`, else `info`.
pub fn init_tool(format: LogFormat) {
    let filter = std::env::var("LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_string());
    init("cli", format, &filter);
}

/// Panic hook: one `ERROR` event with the message, the location, the thread and (when
/// `RUST_BACKTRACE` asks for one) the backtrace.
fn log_panic(info: &std::panic::PanicHookInfo<'_>) {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic payload".to_string());
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_default();
    let thread = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_string();
    if !tracing::enabled!(target: "panic", tracing::Level::ERROR) {
        // Filtered out, or the panic happened inside the subscriber itself: plain text, never
        // nothing.
        eprintln!(
            "panicked at {location} (thread {thread}): {}",
            scrub(&message)
        );
        return;
    }
    let backtrace = std::backtrace::Backtrace::capture();
    if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
        let backtrace = backtrace.to_string();
        tracing::error!(target: "panic", location, thread, backtrace, "panicked: {message}");
    } else {
        tracing::error!(target: "panic", location, thread, "panicked: {message}");
    }
}

/// Log one error before the settings (and so the log filter) are known, in the given format:
/// with `--log-format json` a startup failure is a JSON line like every other, not a plain-text
/// `error:` line in the middle of the JSON log.
pub fn startup_error(role: &'static str, format: LogFormat, message: &str) {
    let subscriber = subscriber(role, format, "error", io::stderr);
    tracing::subscriber::with_default(subscriber, || {
        tracing::error!(error = %message, "cannot start");
    });
}

/// The subscriber [`init`] installs, writing to `writer` (tests pass a buffer).
pub fn subscriber<W>(
    role: &'static str,
    format: LogFormat,
    filter: &str,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Scrubbed(writer));
    match format {
        LogFormat::Json => Box::new(
            builder
                .fmt_fields(JsonFields::new())
                .event_format(FlatJson {
                    role,
                    pid: std::process::id(),
                })
                .finish(),
        ),
        // Colours only for a person at a terminal: a log file, journald or pm2 gets plain text.
        LogFormat::Pretty => Box::new(
            builder
                .with_ansi(std::io::IsTerminal::is_terminal(&io::stderr()))
                .finish(),
        ),
    }
}

/// Whether a field name says its value is a secret.
pub fn is_secret_key(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "authorization",
        "private_key",
        "mnemonic",
        "credential",
    ]
    .iter()
    .any(|s| n.contains(s))
}

/// `text` with the password of every URL in it and every `password=` value replaced by `***`.
pub fn scrub(text: &str) -> Cow<'_, str> {
    let lower = text.to_ascii_lowercase();
    if !text.contains("://") && !lower.contains("password=") {
        return Cow::Borrowed(text);
    }
    let is_delim =
        |c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>' | '(' | ')');
    let mut out = String::with_capacity(text.len());
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if token.is_empty() {
            return;
        }
        let t = token.as_str();
        let scrubbed = if t.contains("://") {
            crate::config::redact_url(t)
        } else {
            t.to_string()
        };
        out.push_str(&redact_password_pairs(&scrubbed));
        token.clear();
    };
    for c in text.chars() {
        if is_delim(c) {
            flush(&mut token, &mut out);
            out.push(c);
        } else {
            token.push(c);
        }
    }
    flush(&mut token, &mut out);
    Cow::Owned(out)
}

/// `password=<value>` (any case, up to `&`, `;` or `,`) becomes `password=***`.
fn redact_password_pairs(token: &str) -> String {
    const KEY: &str = "password=";
    let lower = token.to_ascii_lowercase();
    let mut out = String::with_capacity(token.len());
    let mut pos = 0;
    while let Some(found) = lower[pos..].find(KEY) {
        let value_start = pos + found + KEY.len();
        let value_end = token[value_start..]
            .find(['&', ';', ','])
            .map_or(token.len(), |i| value_start + i);
        out.push_str(&token[pos..value_start]);
        if value_end > value_start {
            out.push_str("***");
        }
        pos = value_end;
    }
    out.push_str(&token[pos..]);
    out
}

/// A writer that passes every line through [`scrub`].
#[derive(Debug, Clone)]
pub struct Scrubbed<M>(pub M);

/// The writer [`Scrubbed`] hands out for one event.
#[derive(Debug)]
pub struct ScrubWriter<W>(W);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Scrubbed<M> {
    type Writer = ScrubWriter<M::Writer>;
    fn make_writer(&'a self) -> Self::Writer {
        ScrubWriter(self.0.make_writer())
    }
}

impl<W: io::Write> io::Write for ScrubWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(text) => self.0.write_all(scrub(text).as_bytes())?,
            Err(_) => self.0.write_all(buf)?,
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
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
        let mut fields = Map::new();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let ext = span.extensions();
                let Some(formatted) = ext.get::<FormattedFields<N>>() else {
                    continue;
                };
                if let Ok(Value::Object(span_fields)) = serde_json::from_str::<Value>(formatted) {
                    fields.extend(span_fields);
                }
            }
        }
        event.record(&mut JsonVisitor(&mut fields));
        let mut map = Map::new();
        let ts = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        map.insert("ts".into(), ts.into());
        map.insert("level".into(), event.metadata().level().as_str().into());
        map.insert(
            "msg".into(),
            fields.remove("msg").unwrap_or_else(|| "".into()),
        );
        map.insert("role".into(), self.role.into());
        map.insert("pid".into(), self.pid.into());
        map.insert("target".into(), event.metadata().target().into());
        for (key, value) in fields {
            let value = if is_secret_key(&key) && value != Value::Null {
                Value::from("***")
            } else {
                value
            };
            if RESERVED_KEYS.contains(&key.as_str()) {
                map.insert(format!("field_{key}"), value);
            } else {
                map.insert(key, value);
            }
        }
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

    impl Buf {
        fn lines(&self) -> Vec<Value> {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
                .collect()
        }
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn json_subscriber(filter: &str, buf: &Buf) -> Box<dyn Subscriber + Send + Sync> {
        subscriber("io-engine", LogFormat::Json, filter, buf.clone())
    }

    #[test]
    fn bound_context_of_every_span_in_scope_is_in_the_line() {
        let buf = Buf::default();
        tracing::subscriber::with_default(json_subscriber("info", &buf), || {
            let run = tracing::info_span!("run", run_id = "r-2026112818");
            let _r = run.enter();
            let miner =
                tracing::info_span!("miner", miner_uid = 12u64, job_id = tracing::field::Empty);
            let _m = miner.enter();
            // A field recorded after the span was entered is in the lines that follow.
            miner.record("job_id", "day1-12");
            let job = tracing::info_span!("job", task = "test.task.scored");
            job.in_scope(|| tracing::info!("scored"));
            tracing::warn!(task = "test.task.outside", "outside the job span");
        });
        let lines = buf.lines();
        assert_eq!(lines.len(), 2, "{lines:?}");
        let scored = &lines[0];
        assert_eq!(scored["msg"], "scored");
        assert_eq!(scored["run_id"], "r-2026112818");
        assert_eq!(scored["miner_uid"], 12);
        assert_eq!(scored["job_id"], "day1-12");
        assert_eq!(scored["task"], "test.task.scored");
        // The event's own field wins over the same name in a span; the job span is gone.
        assert_eq!(lines[1]["task"], "test.task.outside");
        assert_eq!(lines[1]["miner_uid"], 12);
    }

    #[test]
    fn context_follows_async_tasks_across_awaits() {
        use tracing::Instrument;
        let buf = Buf::default();
        let _guard = tracing::subscriber::set_default(json_subscriber("info", &buf));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let a = async {
                tokio::task::yield_now().await;
                tracing::info!("a done");
            }
            .instrument(tracing::info_span!("run", run_id = "a"));
            let b = async {
                tokio::task::yield_now().await;
                tracing::info!("b done");
            }
            .instrument(tracing::info_span!("run", run_id = "b"));
            tokio::join!(a, b);
        });
        let lines = buf.lines();
        assert_eq!(lines.len(), 2);
        for line in &lines {
            let msg = line["msg"].as_str().unwrap();
            assert_eq!(line["run_id"], &msg[..1], "{line}");
        }
    }

    #[test]
    fn the_filter_sets_the_level() {
        let buf = Buf::default();
        tracing::subscriber::with_default(json_subscriber("warn", &buf), || {
            tracing::debug!("d");
            tracing::info!("i");
            tracing::warn!("w");
            tracing::error!("e");
        });
        let levels: Vec<_> = buf.lines().iter().map(|l| l["level"].clone()).collect();
        assert_eq!(levels, ["WARN", "ERROR"]);
        let buf = Buf::default();
        tracing::subscriber::with_default(
            json_subscriber("info,gaia_validator::telemetry=debug", &buf),
            || tracing::debug!("d"),
        );
        assert_eq!(buf.lines()[0]["level"], "DEBUG");
    }

    #[test]
    fn fields_never_replace_the_line_keys() {
        let buf = Buf::default();
        tracing::subscriber::with_default(json_subscriber("info", &buf), || {
            let s = tracing::info_span!("child", role = "compute-worker");
            let _s = s.enter();
            tracing::info!(pid = 4242u64, level = "x", "started child");
        });
        let line = &buf.lines()[0];
        assert_eq!(line["pid"], std::process::id());
        assert_eq!(line["role"], "io-engine");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["field_pid"], 4242);
        assert_eq!(line["field_role"], "compute-worker");
        assert_eq!(line["field_level"], "x");
    }

    #[test]
    fn secrets_are_redacted_in_json_lines() {
        let buf = Buf::default();
        tracing::subscriber::with_default(json_subscriber("info", &buf), || {
            let s = tracing::info_span!("db", url = "postgres://gaia:hunter2@db:5432/gaia");
            let _s = s.enter();
            tracing::info!(
                api_key = "k-123456",
                auth_token = %"t-abcdef",
                db_password = "pw-0001",
                tokens = 3u64,
                "connecting to postgres://gaia:hunter2@db/gaia?sslmode=require&password=pw-0002"
            );
            let err = "error: \"postgres://gaia:hunter2@db/gaia\": refused";
            tracing::warn!(error = ?err, "failed");
        });
        let text = buf.text();
        for secret in ["hunter2", "k-123456", "t-abcdef", "pw-0001", "pw-0002"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        let lines = buf.lines();
        assert_eq!(lines[0]["url"], "postgres://gaia:***@db:5432/gaia");
        assert_eq!(lines[0]["api_key"], "***");
        assert_eq!(lines[0]["auth_token"], "***");
        // Secret-looking names are judged by substring; a count is harmless but hidden too.
        assert_eq!(lines[0]["tokens"], "***");
        assert_eq!(
            lines[0]["msg"],
            "connecting to postgres://gaia:***@db/gaia?sslmode=require&password=***"
        );
        assert!(lines[1]["error"].as_str().unwrap().contains("gaia:***@db"));
    }

    #[test]
    fn secrets_are_redacted_in_pretty_lines() {
        let buf = Buf::default();
        let sub = subscriber("supervisor", LogFormat::Pretty, "info", buf.clone());
        tracing::subscriber::with_default(sub, || {
            tracing::info!(
                url = "postgres://u:hunter2@h/db",
                "dsn host=h password=pw-9 user=u"
            );
        });
        let text = buf.text();
        assert!(
            !text.contains("hunter2") && !text.contains("pw-9"),
            "{text}"
        );
        assert!(text.contains("postgres://u:***@h/db"), "{text}");
    }

    #[test]
    fn scrub_leaves_ordinary_text_alone() {
        assert!(matches!(scrub("job done in 3 ms"), Cow::Borrowed(_)));
        assert_eq!(
            scrub("see https://example.org/a?b=c"),
            "see https://example.org/a?b=c"
        );
        assert_eq!(scrub("sqlite:///data/gaia.db"), "sqlite:///data/gaia.db");
        assert_eq!(
            scrub("a postgres://u:p@h/x and redis://:s3@r:6379 b"),
            "a postgres://u:***@h/x and redis://:***@r:6379 b"
        );
        assert_eq!(scrub("PASSWORD=abc;host=h"), "PASSWORD=***;host=h");
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
