//! Whether the service should receive traffic: the store is probed with a
//! cheap call on an interval, and gRPC health (`grpc.health.v1`, for every
//! service name and the empty one) and the admin `/readyz` follow it; shutdown
//! turns both off before the drain.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use music_api::pb::{
    item_service_server::ItemServiceServer, table_service_server::TableServiceServer,
};
use music_runtime::admin::ReadinessCheck;
use tonic_health::server::HealthReporter;

use crate::{
    grpc::{ItemApi, TableApi},
    store::Store,
};

/// Whether the service should receive traffic; flipped by the store probe and by shutdown.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Relaxed);
    }

    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// The check the admin `/readyz` answers from.
    pub fn check(&self) -> ReadinessCheck {
        let readiness = self.clone();
        Arc::new(move || {
            let ready = readiness.get();
            Box::pin(async move {
                if ready {
                    Ok(())
                } else {
                    Err("the store does not answer, or the service is shutting down".to_owned())
                }
            })
        })
    }
}

/// Whether the store answers a cheap call within the probe interval (at most 2 s).
pub async fn probe_store(store: &Store, interval: Duration) -> bool {
    let budget = interval.min(Duration::from_secs(2));
    match tokio::time::timeout(budget, store.probe()).await {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::debug!(%error, "store probe failed");
            false
        }
        Err(_) => false,
    }
}

/// Probes the store every `interval` and says so when reachability changes.
pub async fn keep_probing(
    store: Store,
    health: HealthReporter,
    readiness: Readiness,
    interval: Duration,
) {
    let mut was_ready = readiness.get();
    loop {
        tokio::time::sleep(interval).await;
        let ready = probe_store(&store, interval).await;
        if ready != was_ready {
            if ready {
                tracing::info!("store reachable again; serving");
            } else {
                tracing::warn!("store unreachable; health NOT_SERVING until it answers");
            }
            was_ready = ready;
        }
        set_serving(&health, &readiness, ready).await;
    }
}

/// Sets gRPC health and readiness together.
pub async fn set_serving(health: &HealthReporter, readiness: &Readiness, serving: bool) {
    readiness.set(serving);
    let status = if serving {
        tonic_health::ServingStatus::Serving
    } else {
        tonic_health::ServingStatus::NotServing
    };
    health
        .set_service_status(
            <TableServiceServer<TableApi> as tonic::server::NamedService>::NAME,
            status,
        )
        .await;
    health
        .set_service_status(
            <ItemServiceServer<ItemApi> as tonic::server::NamedService>::NAME,
            status,
        )
        .await;
    health.set_service_status("", status).await;
}
