//! The Prometheus endpoint.
//!
//! Hand-written text exposition over a tiny tokio HTTP responder rather than the
//! prometheus-client crate plus an HTTP server: the core already aggregates its
//! counters and the latency histogram ([`Stats`]), so all this needs is to print a
//! snapshot; a client library would only re-count what the core counted, and an
//! HTTP stack for one GET is more code to trust than the 40 lines below.

use crate::listen::{AcceptCounters, AcceptEnv, WhenOut};
use crate::relay::{ByteCounters, Ending};
use pass_core::lease::{Stats, ANSWER_LATENCY_BOUNDS_MS};
use socket2::{Domain, Protocol, Socket, Type};
use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tracing::{debug, info};

/// Everything the endpoint reports. The driver refreshes the core's snapshot after
/// each event; relays add to the byte counters as they go.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Bytes relayed, both ways.
    pub bytes: Arc<ByteCounters>,
    /// Failed accepts and callers refused for want of descriptors.
    pub accepts: Arc<AcceptCounters>,
    stats: Mutex<Stats>,
    /// Whether the XMPP stream is up.
    pub stream_up: AtomicBool,
    /// Reconnects of the XMPP stream since start.
    pub stream_reconnects: AtomicU64,
    /// Sockets accepted and not yet bridged, as the node holds them.
    pub pending_sockets: AtomicU64,
    /// Relay tasks running.
    pub relay_tasks: AtomicU64,
    /// Relay tasks whose session already ended at one side's EOF, still letting
    /// the other direction drain (part of `relay_tasks`).
    pub half_open_relays: AtomicU64,
    /// Lease store writes that failed (the leases work on; a restart would lose
    /// what they held).
    pub store_write_errors: AtomicU64,
    /// Relay tasks ended since start, by [`Ending`] (in [`Ending::ALL`] order).
    relays_ended: [AtomicU64; Ending::ALL.len()],
}

impl Metrics {
    /// Metrics sharing the relays' byte counters and the accept loops' counters.
    pub fn new(bytes: Arc<ByteCounters>, accepts: Arc<AcceptCounters>) -> Self {
        Metrics {
            bytes,
            accepts,
            ..Metrics::default()
        }
    }

    /// Counts a relay task that ended.
    pub fn relay_ended(&self, ending: Ending) {
        if let Some(i) = Ending::ALL.iter().position(|e| *e == ending) {
            if let Some(c) = self.relays_ended.get(i) {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Replaces the core's snapshot.
    pub fn set_stats(&self, stats: Stats) {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner()) = stats;
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let s = self.stats.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut o = String::new();
        gauge(&mut o, "pass_leases", "Leases held now.", s.leases as u64);
        gauge(
            &mut o,
            "pass_pending",
            "Incoming connections waiting for their owner.",
            s.pending as u64,
        );
        gauge(
            &mut o,
            "pass_relays",
            "Relays bridged now.",
            s.relays as u64,
        );
        gauge(
            &mut o,
            "pass_ports_free",
            "Pool ports free now.",
            s.ports_free as u64,
        );
        gauge(
            &mut o,
            "pass_ports_quarantined",
            "Pool ports set aside after a failed listen (something else held them).",
            s.ports_quarantined as u64,
        );
        gauge(
            &mut o,
            "pass_node_pending_sockets",
            "Accepted sockets the node holds, not yet bridged.",
            self.pending_sockets.load(Ordering::Relaxed),
        );
        gauge(
            &mut o,
            "pass_node_relay_tasks",
            "Relay tasks running.",
            self.relay_tasks.load(Ordering::Relaxed),
        );
        gauge(
            &mut o,
            "pass_node_half_open_relays",
            "Relay tasks past one side's EOF, draining the other way (session over).",
            self.half_open_relays.load(Ordering::Relaxed),
        );
        gauge(
            &mut o,
            "pass_stream_up",
            "1 when the XMPP component stream is up.",
            u64::from(self.stream_up.load(Ordering::Relaxed)),
        );
        header(
            &mut o,
            "pass_relayed_bytes_total",
            "Bytes relayed.",
            "counter",
        );
        for (dir, c) in [
            ("client_to_owner", &self.bytes.client_to_owner),
            ("owner_to_client", &self.bytes.owner_to_client),
        ] {
            let _ = writeln!(
                o,
                "pass_relayed_bytes_total{{direction=\"{dir}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        header(
            &mut o,
            "pass_node_relays_ended_total",
            "Relay tasks ended, by why: closed (both ways EOF), idle (relay_idle_timeout), idle_after_half_close (half_close_timeout), error.",
            "counter",
        );
        for (ending, c) in Ending::ALL.iter().zip(&self.relays_ended) {
            let _ = writeln!(
                o,
                "pass_node_relays_ended_total{{reason=\"{}\"}} {}",
                ending.label(),
                c.load(Ordering::Relaxed)
            );
        }
        header(
            &mut o,
            "pass_errors_sent_total",
            "IQ errors sent, by legacy code.",
            "counter",
        );
        for (code, n) in &s.errors_sent {
            let _ = writeln!(o, "pass_errors_sent_total{{code=\"{code}\"}} {n}");
        }
        counter(
            &mut o,
            "pass_calls_throttled_total",
            "Incoming connections dropped unannounced: their lease was past its call rate.",
            s.calls_throttled,
        );
        header(
            &mut o,
            "pass_calls_refused_total",
            "Incoming connections dropped unannounced, by why: busy (the lease had a session in flight), capacity (max_relays sessions in flight or no proxy port free).",
            "counter",
        );
        let _ = writeln!(
            o,
            "pass_calls_refused_total{{reason=\"busy\"}} {}",
            s.calls_busy
        );
        let _ = writeln!(
            o,
            "pass_calls_refused_total{{reason=\"capacity\"}} {}",
            s.calls_over_capacity
        );
        let _ = writeln!(
            o,
            "pass_calls_refused_total{{reason=\"descriptors\"}} {}",
            self.accepts.refused.load(Ordering::Relaxed)
        );
        header(
            &mut o,
            "pass_leases_abandoned_total",
            "Leases the service ended as abandoned, by why: owner_gone (the owner's server bounced a notice), idle (max_idle_lease passed with no caller and no request).",
            "counter",
        );
        let _ = writeln!(
            o,
            "pass_leases_abandoned_total{{reason=\"owner_gone\"}} {}",
            s.leases_owner_gone
        );
        let _ = writeln!(
            o,
            "pass_leases_abandoned_total{{reason=\"idle\"}} {}",
            s.leases_idle
        );
        counter(
            &mut o,
            "pass_node_accept_errors_total",
            "Accepts that failed (out of file descriptors, mostly); each backs off, 5 ms doubling to 1 s.",
            self.accepts.failed.load(Ordering::Relaxed),
        );
        counter(
            &mut o,
            "pass_node_store_write_errors_total",
            "Lease store writes that failed (logged at ERROR); the leases work on, but a restart would not keep the changes.",
            self.store_write_errors.load(Ordering::Relaxed),
        );
        counter(
            &mut o,
            "pass_node_owners_admitted_on_spare_total",
            "Owners' connections to their proxy port accepted on the spare descriptor while the node was out of descriptors (never refused).",
            self.accepts.admitted_on_spare.load(Ordering::Relaxed),
        );
        counter(
            &mut o,
            "pass_registrations_total",
            "Leases granted.",
            s.registrations,
        );
        counter(
            &mut o,
            "pass_notices_sent_total",
            "Notices sent (incoming connection, expire, oneshot, close).",
            s.notices_sent,
        );
        counter(
            &mut o,
            "pass_stream_reconnects_total",
            "Reconnects of the XMPP component stream.",
            self.stream_reconnects.load(Ordering::Relaxed),
        );
        header(
            &mut o,
            "pass_owner_answer_seconds",
            "How long owners took to answer incoming-connection notices.",
            "histogram",
        );
        let cumulative = s.answer_latency.cumulative();
        for (bound, n) in ANSWER_LATENCY_BOUNDS_MS.iter().zip(cumulative.iter()) {
            let le = *bound as f64 / 1000.0;
            let _ = writeln!(o, "pass_owner_answer_seconds_bucket{{le=\"{le}\"}} {n}");
        }
        let _ = writeln!(
            o,
            "pass_owner_answer_seconds_bucket{{le=\"+Inf\"}} {}",
            s.answer_latency.count
        );
        let _ = writeln!(
            o,
            "pass_owner_answer_seconds_sum {}",
            s.answer_latency.sum_ms as f64 / 1000.0
        );
        let _ = writeln!(
            o,
            "pass_owner_answer_seconds_count {}",
            s.answer_latency.count
        );
        o
    }
}

fn header(o: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn gauge(o: &mut String, name: &str, help: &str, v: u64) {
    header(o, name, help, "gauge");
    let _ = writeln!(o, "{name} {v}");
}

fn counter(o: &mut String, name: &str, help: &str, v: u64) {
    header(o, name, help, "counter");
    let _ = writeln!(o, "{name} {v}");
}

/// Binds `addr` and serves `GET /metrics` (any path, in fact) until aborted.
/// Returns the bound address (useful with port 0) and the server task.
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    accept: AcceptEnv,
) -> io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = bind(addr)?;
    let local = listener.local_addr()?;
    info!(address = %local, "metrics endpoint listening");
    let task = tokio::spawn(async move {
        loop {
            // Backs off when out of descriptors (it used to spin).
            let (stream, _) = accept
                .accept(&listener, local.port(), WhenOut::Refuse)
                .await;
            let m = Arc::clone(&metrics);
            tokio::spawn(async move {
                if let Err(e) = answer(stream, &m).await {
                    debug!(error = %e, "metrics request failed");
                }
            });
        }
    });
    Ok((local, task))
}

/// A listener on `addr` that a restart can take again at once: SO_REUSEADDR, so that
/// connections of the previous run still in TIME-WAIT on the port (this side closes
/// first) do not make the bind fail and the node exit 5 (DESIGN decision 73). Set
/// here rather than left to tokio's default, which a change of constructor would lose.
fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?; // tokio's own bind uses the same
    TcpListener::from_std(socket.into())
}

/// Reads one request head (bounded in size and time) and answers it.
async fn answer(mut stream: TcpStream, metrics: &Metrics) -> io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let read_head = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(buf.get(..n).unwrap_or_default());
        }
        Ok::<_, io::Error>(())
    };
    tokio::time::timeout(Duration::from_secs(5), read_head)
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    let (status, body) = if head.starts_with(b"GET ") {
        ("200 OK", metrics.render())
    } else {
        ("405 Method Not Allowed", String::from("GET only\n"))
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_stats_and_counters() {
        let accepts = Arc::new(AcceptCounters::default());
        let m = Metrics::new(Arc::new(ByteCounters::default()), Arc::clone(&accepts));
        accepts.refused.fetch_add(3, Ordering::Relaxed);
        accepts.failed.fetch_add(7, Ordering::Relaxed);
        accepts.admitted_on_spare.fetch_add(5, Ordering::Relaxed);
        m.bytes.client_to_owner.fetch_add(42, Ordering::Relaxed);
        let mut s = Stats {
            leases: 3,
            registrations: 5,
            errors_sent: vec![(400, 1), (502, 2)],
            calls_busy: 4,
            calls_over_capacity: 6,
            leases_owner_gone: 8,
            leases_idle: 9,
            ..Stats::default()
        };
        s.answer_latency.record(Duration::from_millis(20));
        m.set_stats(s);
        let text = m.render();
        assert!(text.contains("\npass_leases 3\n"), "{text}");
        m.half_open_relays.store(2, Ordering::Relaxed);
        assert!(m.render().contains("\npass_node_half_open_relays 2\n"));
        m.store_write_errors.fetch_add(1, Ordering::Relaxed);
        m.relay_ended(Ending::Idle);
        m.relay_ended(Ending::Idle);
        m.relay_ended(Ending::Failed);
        let text = m.render();
        assert!(text.contains("\npass_node_relays_ended_total{reason=\"idle\"} 2\n"));
        assert!(text.contains("\npass_node_store_write_errors_total 1\n"));
        assert!(text.contains("\npass_node_relays_ended_total{reason=\"error\"} 1\n"));
        assert!(text.contains("\npass_node_relays_ended_total{reason=\"closed\"} 0\n"));
        assert!(text.contains("pass_relayed_bytes_total{direction=\"client_to_owner\"} 42"));
        assert!(text.contains("pass_errors_sent_total{code=\"502\"} 2"));
        assert!(text.contains("pass_registrations_total 5"));
        assert!(text.contains("\npass_calls_refused_total{reason=\"busy\"} 4\n"));
        assert!(text.contains("\npass_calls_refused_total{reason=\"capacity\"} 6\n"));
        assert!(text.contains("\npass_calls_refused_total{reason=\"descriptors\"} 3\n"));
        assert!(text.contains("\npass_node_accept_errors_total 7\n"));
        assert!(text.contains("\npass_node_owners_admitted_on_spare_total 5\n"));
        assert!(text.contains("\npass_leases_abandoned_total{reason=\"owner_gone\"} 8\n"));
        assert!(text.contains("\npass_leases_abandoned_total{reason=\"idle\"} 9\n"));
        assert!(text.contains("pass_owner_answer_seconds_bucket{le=\"0.025\"} 1"));
        assert!(text.contains("pass_owner_answer_seconds_bucket{le=\"0.01\"} 0"));
        assert!(text.contains("pass_owner_answer_seconds_count 1"));
    }
}
