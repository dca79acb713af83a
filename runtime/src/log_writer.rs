//! Where log lines go: gathered in memory by the threads that log them and
//! written to stderr by a thread of its own, in one write for whatever has
//! gathered, so that a request's log line costs its threads no system call
//! and a reader of stderr that stops reading does not stop them.
//!
//! Owns: [`LogWriter`] (the `MakeWriter` for tracing-subscriber), its
//! [`LogWriterGuard`], [`QUEUED_BYTES`], [`LINGER`] and [`SHUTDOWN_WAIT`].
//!
//! Hand-written: tracing-appender's non-blocking writer, the crate for this,
//! wakes its thread for every line (a channel send, a futex wake, a thread
//! switch and a `write(2)` per line). At the default level every request
//! logs a line, and with it the gateway spent 123–129 µs of CPU a request
//! where a `write(2)` on the worker threads cost 96–101 µs (three alternating
//! runs, BENCHMARKS.md). Here a line is a copy under a lock; the thread is
//! woken only when it waits for an empty queue, and while lines keep coming it
//! waits [`LINGER`] between writes instead of being woken.
//!
//! No line is dropped while the program runs. Lost are only what is queued
//! when the process is killed (SIGKILL, abort: the last few milliseconds of
//! lines, more while a reader lags), what the guard could not get written
//! within [`SHUTDOWN_WAIT`] at exit, and what a failed write held. What is
//! written to stderr directly (`eprintln!`, panic messages) can come out
//! ahead of lines still queued.

use std::{
    io::{self, Write},
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use tracing_subscriber::fmt::MakeWriter;

/// Bytes of lines that may wait for the writer thread (some 4,000 access-log
/// lines). Past it a line waits for the writer to take the queue: a reader
/// of stderr that has stopped reading holds up logging only then.
pub const QUEUED_BYTES: usize = 1024 * 1024;

/// While lines keep coming (queued less than this after the last write), the
/// writer waits this long after a write, so that a busy program makes at
/// most one write in each. A line after a quiet spell is written at once.
pub const LINGER: Duration = Duration::from_millis(5);

/// How long dropping the guard waits for the queued lines to be written.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(1);

/// Name of the thread that writes the lines.
pub const WRITER_THREAD: &str = "log-writer";

#[derive(Debug, Default)]
struct Queue {
    lines: Vec<u8>,
    /// The writer thread waits for a line (and is to be woken for one).
    writer_waiting: bool,
    /// The guard was dropped: the writer writes what is queued and stops.
    stopping: bool,
    /// The writer thread has stopped (or never started): lines go straight
    /// to stderr.
    gone: bool,
    /// The guard gave up waiting for the writer, which is stuck writing (a
    /// reader of stderr that stopped reading): later lines are dropped, as
    /// writing them would block on the same stderr.
    abandoned: bool,
}

#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// A line was queued for a waiting writer, or the guard was dropped.
    arrived: Condvar,
    /// The writer took the queue.
    taken: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A thread that panicked while holding the lock left whole lines
        // behind (a line is appended in one call): the queue is still good.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The writer of the process's log lines (cheap to clone: a shared queue).
#[derive(Debug, Clone)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

/// Keeps the writer thread running; when dropped, it writes what is queued
/// (waiting at most [`SHUTDOWN_WAIT`]) and stops, and later lines are
/// written straight to stderr (or, when the writer is stuck, dropped).
#[derive(Debug)]
pub struct LogWriterGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl LogWriter {
    /// A writer to stderr.
    pub fn stderr() -> (Self, LogWriterGuard) {
        Self::to(io::stderr())
    }

    /// A writer to `out`, with its thread. Should the thread not start, lines
    /// are written straight to stderr, as they would be without this.
    fn to(out: impl Write + Send + 'static) -> (Self, LogWriterGuard) {
        Self::lingering(out, LINGER)
    }

    fn lingering(out: impl Write + Send + 'static, linger: Duration) -> (Self, LogWriterGuard) {
        let shared = Arc::new(Shared::default());
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(WRITER_THREAD.into())
            .spawn(move || write_lines(&for_thread, out, linger));
        let thread = match thread {
            Ok(thread) => Some(thread),
            Err(error) => {
                shared.lock().gone = true;
                eprintln!(
                    "cannot start the {WRITER_THREAD} thread ({error}); logging to stderr from every thread"
                );
                None
            }
        };
        (
            Self {
                shared: Arc::clone(&shared),
            },
            LogWriterGuard { shared, thread },
        )
    }

    fn queue(&self, line: &[u8]) -> io::Result<()> {
        let mut queue = self.shared.lock();
        while queue.lines.len() >= QUEUED_BYTES && !queue.gone && !queue.abandoned {
            queue = self
                .shared
                .taken
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if queue.abandoned {
            return Ok(());
        }
        if queue.gone {
            drop(queue);
            return io::stderr().write_all(line);
        }
        queue.lines.extend_from_slice(line);
        let wake = std::mem::take(&mut queue.writer_waiting);
        drop(queue);
        if wake {
            self.shared.arrived.notify_one();
        }
        Ok(())
    }
}

impl io::Write for &LogWriter {
    /// tracing-subscriber formats a whole line and writes it in one call.
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        self.queue(line)?;
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = &'a LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

impl Drop for LogWriterGuard {
    /// Waits for the queued lines to be written, at most [`SHUTDOWN_WAIT`]: a
    /// reader of stderr that has stopped reading must not keep the program
    /// from exiting.
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.arrived.notify_one();
        let deadline = Instant::now() + SHUTDOWN_WAIT;
        let mut queue = self.shared.lock();
        while !queue.gone {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            queue = self
                .shared
                .taken
                .wait_timeout(queue, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let written = queue.gone;
        // The thread is done, or stuck in a write that holds stderr: later
        // lines go to stderr themselves, or nowhere.
        queue.abandoned = !written;
        drop(queue);
        self.shared.taken.notify_all();
        if written && let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer thread: waits for lines, writes all that are queued in one go,
/// and lingers after a write while they keep coming (lines were there, or
/// came, less than [`LINGER`] after the last write and its linger ended).
fn write_lines(shared: &Shared, mut out: impl Write, linger: Duration) {
    /// Should `out` panic, the loggers must not wait for this thread.
    struct Finished<'a>(&'a Shared);
    impl Drop for Finished<'_> {
        fn drop(&mut self) {
            self.0.lock().gone = true;
            self.0.taken.notify_all();
        }
    }
    let _finished = Finished(shared);
    let mut batch = Vec::new();
    let mut last_done: Option<Instant> = None;
    loop {
        {
            let mut queue = shared.lock();
            while queue.lines.is_empty() && !queue.stopping {
                queue.writer_waiting = true;
                queue = shared
                    .arrived
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            queue.writer_waiting = false;
            if queue.lines.is_empty() {
                // Stopping, and all is written. Under the lock that found the
                // queue empty, so that no line is queued after it.
                queue.gone = true;
                return;
            }
            std::mem::swap(&mut batch, &mut queue.lines);
        }
        shared.taken.notify_all();
        let busy = last_done.is_some_and(|done| done.elapsed() < linger);
        // Nowhere to report a failed write of the log (stderr closed): the
        // lines are dropped, as the direct write's error would be.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        batch.shrink_to(QUEUED_BYTES);
        if busy {
            std::thread::sleep(linger);
        }
        last_done = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A sink that keeps what was written and counts the writes.
    #[derive(Clone, Default)]
    struct Sink {
        bytes: Arc<Mutex<Vec<u8>>>,
        writes: Arc<AtomicUsize>,
        /// While set, a write waits (a reader of the pipe that stopped).
        stalled: Arc<Mutex<()>>,
    }

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let _stall = self.stalled.lock().unwrap();
            self.writes.fetch_add(1, Ordering::SeqCst);
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn log(writer: &LogWriter, line: &str) {
        (&*writer).write_all(line.as_bytes()).unwrap();
    }

    #[test]
    fn every_line_is_written_in_order_and_the_guard_writes_the_rest() {
        let sink = Sink::default();
        let (writer, guard) = LogWriter::to(sink.clone());
        let lines: Vec<String> = (0..10_000).map(|n| format!("line {n}\n")).collect();
        for line in &lines {
            log(&writer, line);
        }
        drop(guard);
        assert_eq!(
            String::from_utf8(sink.bytes.lock().unwrap().clone()).unwrap(),
            lines.concat()
        );
        let writes = sink.writes.load(Ordering::SeqCst);
        assert!(
            writes < lines.len() / 10,
            "{writes} writes for {} lines logged in a burst",
            lines.len()
        );
    }

    /// How long until `sink` holds `len` bytes (at most `within`).
    fn written_within(sink: &Sink, len: usize, within: Duration) -> Option<Duration> {
        let waited = Instant::now();
        while sink.bytes.lock().unwrap().len() < len {
            if waited.elapsed() > within {
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Some(waited.elapsed())
    }

    #[test]
    fn a_line_after_a_quiet_spell_is_written_without_lingering() {
        // A linger long enough that a writer which lingered before writing
        // could not pass on any machine.
        let linger = Duration::from_secs(2);
        let sink = Sink::default();
        let (writer, _guard) = LogWriter::lingering(sink.clone(), linger);
        log(&writer, "listening on 127.0.0.1:1\n");
        let first = written_within(&sink, 25, Duration::from_secs(1));
        assert!(first.is_some(), "the first line is not written at once");
        std::thread::sleep(linger + Duration::from_millis(200));
        log(&writer, "after a quiet spell\n");
        let second = written_within(&sink, 25 + 20, linger / 2);
        assert!(
            second.is_some(),
            "a line after a quiet spell waited for the linger: {:?}",
            String::from_utf8_lossy(&sink.bytes.lock().unwrap())
        );
    }

    #[test]
    fn lines_that_keep_coming_are_written_once_a_linger() {
        let linger = Duration::from_millis(200);
        let sink = Sink::default();
        let (writer, guard) = LogWriter::lingering(sink.clone(), linger);
        let started = Instant::now();
        let mut lines = 0;
        while started.elapsed() < Duration::from_secs(1) {
            log(&writer, "a request answered\n");
            lines += 1;
            std::thread::sleep(Duration::from_millis(2));
        }
        let writes = sink.writes.load(Ordering::SeqCst);
        drop(guard);
        assert!(lines >= 50, "only {lines} lines logged in a second");
        // About one a linger; a writer woken for every line makes `lines`.
        assert!(
            writes <= 10,
            "{writes} writes for {lines} lines logged over a second, linger {linger:?}"
        );
        assert_eq!(sink.bytes.lock().unwrap().len(), lines * 19);
    }

    #[test]
    fn a_stalled_output_holds_up_logging_only_past_the_queue_bound() {
        let sink = Sink::default();
        let stall = sink.stalled.lock().unwrap();
        let (writer, guard) = LogWriter::to(sink.clone());
        // The writer takes the first line and blocks writing it.
        log(&writer, "first\n");
        let waited = Instant::now();
        while !writer.shared.lock().lines.is_empty() && waited.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let line = format!("{}\n", "x".repeat(99));
        let fits = QUEUED_BYTES / line.len();
        let logger = {
            let writer = writer.clone();
            let line = line.clone();
            std::thread::spawn(move || {
                for _ in 0..fits + 10 {
                    log(&writer, &line);
                }
            })
        };
        let queued = || writer.shared.lock().lines.len();
        let waited = Instant::now();
        while queued() < fits * line.len() && waited.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(50));
        assert!(!logger.is_finished(), "logging went on past the bound");
        assert!(
            queued() <= QUEUED_BYTES + line.len(),
            "{} bytes queued",
            queued()
        );

        drop(stall);
        logger.join().unwrap();
        drop(guard);
        let written = sink.bytes.lock().unwrap().len();
        assert_eq!(written, "first\n".len() + (fits + 10) * line.len());
    }

    #[test]
    fn a_stalled_output_keeps_the_guard_at_most_its_shutdown_wait() {
        let sink = Sink::default();
        let stall = sink.stalled.lock().unwrap();
        let (writer, guard) = LogWriter::to(sink.clone());
        log(&writer, "never written while stalled\n");
        let dropping = Instant::now();
        drop(guard);
        let waited = dropping.elapsed();
        assert!(
            waited >= SHUTDOWN_WAIT && waited < SHUTDOWN_WAIT * 10,
            "the guard waited {waited:?}"
        );
        drop(stall);
    }

    #[test]
    fn after_the_guard_gave_up_on_a_stuck_writer_lines_are_dropped_not_blocked() {
        let sink = Sink::default();
        let stall = sink.stalled.lock().unwrap();
        let (writer, guard) = LogWriter::to(sink.clone());
        log(&writer, "stuck\n");
        drop(guard);
        let logging = Instant::now();
        log(&writer, "dropped\n");
        assert!(logging.elapsed() < Duration::from_secs(1));
        assert!(writer.shared.lock().abandoned);
        drop(stall);
    }

    #[test]
    fn after_the_guard_lines_go_straight_to_stderr_without_waiting() {
        let (writer, guard) = LogWriter::to(Sink::default());
        drop(guard);
        log(&writer, "a line after the end\n");
        assert!(writer.shared.lock().lines.is_empty());
    }
}
