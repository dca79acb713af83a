//! The embedded backend: dynoxide (a DynamoDB-compatible engine on SQLite)
//! served on a loopback port inside this process. The store reaches it over
//! HTTP with the same aws-sdk-dynamodb code it uses for AWS, so there is one
//! storage path to test, not two.
//!
//! The engine runs on a thread of its own with a single-threaded runtime.
//! dynoxide executes each operation synchronously under a mutex on the thread
//! that serves the request; on the service's own workers that would block
//! them (and queue every other worker behind the mutex) while SQLite runs.
//! One store thread serialises the operations without blocking anything else,
//! which is also all the parallelism a single SQLite connection has.

use std::{net::SocketAddr, path::Path};

use dynoxide::Database;
use tokio::{net::TcpListener, sync::oneshot};

/// Name of the SQLite file inside `--data-dir`.
pub const DATA_FILE: &str = "music.db";

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the embedded store at {path}: {message}")]
    Open { path: String, message: String },
    #[error("cannot bind the embedded store's loopback port: {0}")]
    Bind(std::io::Error),
    #[error("cannot start the embedded store's thread: {0}")]
    Thread(std::io::Error),
}

/// A running embedded store; stops when [`EmbeddedStore::stop`] is called or it is dropped.
#[derive(Debug)]
pub struct EmbeddedStore {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    /// The store thread's outcome, sent when it has stopped serving.
    done: Option<oneshot::Receiver<Result<(), String>>>,
}

impl EmbeddedStore {
    /// Opens the database (a file under `data_dir`, or memory) and serves it on 127.0.0.1:0.
    pub async fn start(data_dir: Option<&Path>) -> Result<Self, EmbeddedError> {
        let db = match data_dir {
            None => Database::memory().map_err(|e| EmbeddedError::Open {
                path: ":memory:".into(),
                message: e.to_string(),
            })?,
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| EmbeddedError::DataDir {
                    path: dir.display().to_string(),
                    source,
                })?;
                let file = dir.join(DATA_FILE);
                let path = file.to_string_lossy().into_owned();
                // Opening SQLite is blocking work; keep it off the async workers.
                let opened = {
                    let path = path.clone();
                    tokio::task::spawn_blocking(move || Database::new(&path))
                };
                let opened = opened.await.map_err(|e| EmbeddedError::Open {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                opened.map_err(|e| EmbeddedError::Open {
                    path,
                    message: e.to_string(),
                })?
            }
        };
        let listener =
            std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(EmbeddedError::Bind)?;
        listener
            .set_nonblocking(true)
            .map_err(EmbeddedError::Bind)?;
        let addr = listener.local_addr().map_err(EmbeddedError::Bind)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let (finished, done) = oneshot::channel();
        std::thread::Builder::new()
            .name("embedded-store".into())
            .spawn(move || {
                let _ = finished.send(serve(listener, db, stopped));
            })
            .map_err(EmbeddedError::Thread)?;
        tracing::debug!(%addr, "embedded store serving");
        Ok(Self {
            addr,
            stop: Some(stop),
            done: Some(done),
        })
    }

    /// Where it serves plain HTTP.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoint URL to give aws-sdk-dynamodb.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving and waits for requests in flight to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            match done.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(%error, "embedded store stopped with an error"),
                Err(_) => tracing::warn!("embedded store thread ended without an answer"),
            }
        }
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The store thread: serves `db` on `listener` with a runtime of its own until
/// `stopped` fires (or its sender is dropped). The database is closed on this
/// thread when the runtime, and with it every connection task, is dropped.
fn serve(
    listener: std::net::TcpListener,
    db: Database,
    stopped: oneshot::Receiver<()>,
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot build the store's runtime: {e}"))?;
    runtime.block_on(async move {
        let listener = TcpListener::from_std(listener)
            .map_err(|e| format!("cannot register the store's listener: {e}"))?;
        dynoxide::server::serve_with_shutdown(listener, db, async {
            let _ = stopped.await;
        })
        .await
    })
}
