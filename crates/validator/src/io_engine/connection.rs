//! One compute worker's connection: handshake, then hand it jobs one at a time.
//!
//! The connection takes a job from the queue only when its worker is idle, sends it, and waits
//! for the result, the worker's death (end of stream) or the job's deadline. On the deadline the
//! worker is killed (SIGKILL) after a marker tells the supervisor it was a timeout, so the
//! supervisor replaces it without counting a crash. A worker that says `Goodbye` with a job
//! outstanding never started it: the job goes back to the front of the queue.

use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, SinkExt, StreamExt};
use gaia_ipc::frame::{codec, decode, encode, FrameError};
use gaia_ipc::{Message, PROTOCOL_VERSION};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tokio::net::UnixStream;
use tokio_util::codec::Framed;
use tracing::Instrument;

use super::dispatcher::{DispatchError, Dispatcher};
use super::queue::QueuedJob;
use crate::runtime::RuntimeDir;

type Conn = Framed<UnixStream, tokio_util::codec::LengthDelimitedCodec>;

/// How long a new connection has to say hello.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

async fn send(conn: &mut Conn, message: &Message) -> Result<(), FrameError> {
    let body = encode(message)?;
    conn.send(bytes::Bytes::from(body))
        .await
        .map_err(FrameError::Io)
}

async fn recv(conn: &mut Conn) -> Option<Result<Message, FrameError>> {
    match conn.next().await? {
        Ok(bytes) => Some(decode(&bytes)),
        Err(e) => Some(Err(FrameError::Io(e))),
    }
}

/// Serve one accepted connection until it ends.
pub async fn serve(
    stream: UnixStream,
    dispatcher: Arc<Dispatcher>,
    runtime: Option<RuntimeDir>,
    max_frame: usize,
) {
    let mut conn = Framed::new(stream, codec(max_frame));
    let hello = tokio::time::timeout(HANDSHAKE_TIMEOUT, recv(&mut conn)).await;
    let (pid, name) = match hello {
        Ok(Some(Ok(Message::Hello {
            protocol_version,
            pid,
            name,
        }))) if protocol_version == PROTOCOL_VERSION => (pid, name),
        Ok(Some(Ok(Message::Hello {
            protocol_version, ..
        }))) => {
            let reason = format!(
                "protocol version {protocol_version} not supported (want {PROTOCOL_VERSION})"
            );
            refuse(&mut conn, &dispatcher, &reason).await;
            return;
        }
        Ok(Some(Ok(other))) => {
            return refuse(
                &mut conn,
                &dispatcher,
                &format!("expected hello, got {other:?}"),
            )
            .await
        }
        Ok(Some(Err(e))) => {
            return refuse(&mut conn, &dispatcher, &format!("bad handshake frame: {e}")).await
        }
        Ok(None) => return refuse(&mut conn, &dispatcher, "closed before the handshake").await,
        Err(_) => return refuse(&mut conn, &dispatcher, "no handshake within 5 s").await,
    };
    if send(
        &mut conn,
        &Message::Welcome {
            protocol_version: PROTOCOL_VERSION,
        },
    )
    .await
    .is_err()
    {
        return;
    }
    dispatcher.metrics.workers_connected.inc();
    let span = tracing::info_span!("worker", worker = %name, worker_pid = pid);
    async {
        tracing::info!("compute worker connected");
        let reason = run_jobs(&mut conn, &dispatcher, runtime.as_ref(), pid).await;
        dispatcher.metrics.workers_connected.dec();
        tracing::info!(%reason, "compute worker connection ended");
    }
    .instrument(span)
    .await;
}

async fn refuse(conn: &mut Conn, dispatcher: &Dispatcher, reason: &str) {
    dispatcher.metrics.refused_connections.inc();
    tracing::warn!(%reason, "refused a compute connection");
    let _ = send(
        conn,
        &Message::Refused {
            reason: reason.to_string(),
        },
    )
    .await;
}

async fn run_jobs(
    conn: &mut Conn,
    dispatcher: &Arc<Dispatcher>,
    runtime: Option<&RuntimeDir>,
    pid: u32,
) -> String {
    let mut shutdown = dispatcher.shutdown_signal();
    loop {
        // Idle: wait for a job, a message from the worker, or shutdown with an empty queue.
        let job: QueuedJob = tokio::select! {
            job = dispatcher.queue.pop() => job,
            msg = recv(conn) => return idle_message(msg),
            _ = shutdown.wait_for(|s| *s).map(|_| ()), if dispatcher.queue.depth() == 0 => {
                let _ = send(conn, &Message::Shutdown).await;
                return "shutdown".into();
            }
        };
        dispatcher.update_depths();
        let job_id = job.unit.job_id.clone();
        if send(conn, &Message::Work(job.unit.clone())).await.is_err() {
            dispatcher.queue.push_front(job);
            return "worker went away before taking a job".into();
        }
        let deadline = job.deadline;
        let outcome = tokio::select! {
            msg = recv(conn) => msg,
            _ = tokio::time::sleep_until(deadline) => {
                kill_for_timeout(runtime, pid, &job_id);
                dispatcher.deliver(&job_id, Err(DispatchError::Timeout(job.unit.timeout_seconds)));
                return format!("job {job_id} timed out; worker killed");
            }
        };
        match outcome {
            Some(Ok(Message::Result(result))) if result.job_id == job_id => {
                dispatcher.submit_result(result).await
            }
            Some(Ok(Message::Goodbye { reason })) => {
                dispatcher.queue.push_front(job);
                return format!("goodbye before starting job ({reason})");
            }
            other => {
                dispatcher.deliver(&job_id, Err(DispatchError::WorkerDied { pid }));
                let prefix = gaia_ipc::shm::job_prefix(dispatcher.supervisor_pid, &job_id);
                gaia_ipc::shm::remove_with_prefix(&dispatcher.shm_dir, &prefix);
                return format!("worker died during job {job_id}: {other:?}");
            }
        }
    }
}

fn idle_message(msg: Option<Result<Message, FrameError>>) -> String {
    match msg {
        Some(Ok(Message::Goodbye { reason })) => format!("goodbye ({reason})"),
        None => "worker closed the connection".into(),
        Some(Ok(other)) => format!("unexpected message while idle: {other:?}"),
        Some(Err(e)) => format!("bad frame: {e}"),
    }
}

fn kill_for_timeout(runtime: Option<&RuntimeDir>, pid: u32, job_id: &str) {
    if let Some(dir) = runtime {
        let _ = std::fs::write(dir.kill_marker(pid), job_id);
    }
    tracing::warn!(
        job_id,
        worker_pid = pid,
        "job timed out; killing its worker"
    );
    if let Ok(raw) = i32::try_from(pid) {
        let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
    }
}
