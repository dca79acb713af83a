//! Load at a set pace: requests started at `rate` a second for a set time,
//! spread over a few keep-alive HTTP/1.1 connections (hyper's client), every
//! answer's status tallied. For the tests that measure what the gateway does
//! under a known request rate (throttle accuracy, reloads under load), where
//! a curl process a request could not keep the pace on two cores.
//!
//! Owns: [`Load`], [`Tally`].

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{Request, header};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::{net::TcpStream, sync::mpsc};

/// What a load run got back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Answers by status.
    pub statuses: BTreeMap<u16, usize>,
    /// Requests that got no answer (a refused or broken connection).
    pub failed: usize,
    /// Requests started.
    pub sent: usize,
    /// From the first request's start to the last answer.
    pub took: Duration,
}

impl Tally {
    pub fn count(&self, status: u16) -> usize {
        self.statuses.get(&status).copied().unwrap_or(0)
    }
}

/// A paced load to run.
#[derive(Debug, Clone)]
pub struct Load {
    pub addr: SocketAddr,
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// Requests started a second.
    pub rate: u32,
    pub duration: Duration,
    /// Keep-alive connections the requests are spread over.
    pub connections: usize,
}

impl Load {
    pub fn new(addr: SocketAddr, method: &'static str, path: impl Into<String>) -> Self {
        Self {
            addr,
            method,
            path: path.into(),
            headers: Vec::new(),
            rate: 100,
            duration: Duration::from_secs(1),
            connections: 8,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn pace(mut self, rate: u32, duration: Duration) -> Self {
        self.rate = rate;
        self.duration = duration;
        self
    }

    /// Runs it: `rate × duration` requests, started on schedule (a request
    /// whose connection is busy waits for the next free one).
    pub async fn run(&self) -> Tally {
        let total = (f64::from(self.rate) * self.duration.as_secs_f64()).round() as usize;
        let (tickets, queue) = mpsc::channel::<()>(total.max(1));
        let queue = std::sync::Arc::new(tokio::sync::Mutex::new(queue));
        let (answers, mut tallied) = mpsc::unbounded_channel::<Option<u16>>();
        let started = Instant::now();
        for _ in 0..self.connections.max(1) {
            let queue = queue.clone();
            let answers = answers.clone();
            let load = self.clone();
            tokio::spawn(async move {
                let mut sender = None;
                loop {
                    let ticket = queue.lock().await.recv().await;
                    if ticket.is_none() {
                        return;
                    }
                    let status = load.send(&mut sender).await;
                    if status.is_none() {
                        sender = None;
                    }
                    let _ = answers.send(status);
                }
            });
        }
        drop(answers);
        let mut interval =
            tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(self.rate.max(1))));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        for _ in 0..total {
            interval.tick().await;
            let _ = tickets.send(()).await;
        }
        drop(tickets);
        let mut tally = Tally {
            sent: total,
            ..Tally::default()
        };
        for _ in 0..total {
            match tallied.recv().await {
                Some(Some(status)) => *tally.statuses.entry(status).or_default() += 1,
                Some(None) => tally.failed += 1,
                None => break,
            }
        }
        tally.took = started.elapsed();
        tally
    }

    /// One request on the worker's connection (opened when it has none);
    /// its status, or `None` when it got no answer.
    async fn send(&self, sender: &mut Option<http1::SendRequest<Empty<Bytes>>>) -> Option<u16> {
        if sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = TcpStream::connect(self.addr).await.ok()?;
            let _ = stream.set_nodelay(true);
            let (s, connection) = http1::handshake(TokioIo::new(stream)).await.ok()?;
            tokio::spawn(connection);
            *sender = Some(s);
        }
        let s = sender.as_mut()?;
        s.ready().await.ok()?;
        let mut request = Request::builder()
            .method(self.method)
            .uri(&self.path)
            .header(header::HOST, self.addr.to_string());
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let request = request.body(Empty::new()).ok()?;
        let answer = tokio::time::timeout(Duration::from_secs(10), s.send_request(request))
            .await
            .ok()?
            .ok()?;
        let status = answer.status().as_u16();
        answer.into_body().collect().await.ok()?;
        Some(status)
    }
}
