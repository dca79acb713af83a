//! The embedded backend: dynoxide (a DynamoDB-compatible engine on SQLite)
//! served on a loopback port inside this process. The store reaches it over
//! HTTP with the same aws-sdk-dynamodb code it uses for AWS, so there is one
//! storage path to test, not two.

use std::{net::SocketAddr, path::Path};

use dynoxide::Database;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

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
}

/// A running embedded store; stops when [`EmbeddedStore::stop`] is called or it is dropped.
#[derive(Debug)]
pub struct EmbeddedStore {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), String>>>,
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
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(EmbeddedError::Bind)?;
        let addr = listener.local_addr().map_err(EmbeddedError::Bind)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(dynoxide::server::serve_with_shutdown(listener, db, async {
            let _ = stopped.await;
        }));
        tracing::debug!(%addr, "embedded store serving");
        Ok(Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        })
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
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(%error, "embedded store stopped with an error"),
                Err(error) => tracing::warn!(%error, "embedded store task failed"),
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
