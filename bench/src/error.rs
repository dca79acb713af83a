//! How a run breaks: the one error type of the bench.

use music_testkit::program::StartError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum BenchError {
    #[error("{0}")]
    Setup(String),
    #[error("load failed: {0}")]
    Load(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error("interrupted; the processes it started were stopped")]
    Interrupted,
}
