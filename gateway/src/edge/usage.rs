//! Quotas of the usage plans, counted where every gateway replica sees them:
//! in the service's usage table (`music.v1.UsageService/AddUsage`, an atomic
//! DynamoDB `ADD`). Each gateway counts locally and flushes its increments at
//! least every `--usage-flush-interval` (1 s) and once more after its drain,
//! learning the totals of every replica in the same answer; it reads the
//! totals at start. So a restart resets nothing, a crash loses at most one
//! interval of counts, and N replicas overshoot a quota by at most N
//! intervals of traffic (a key used here within the last minute is read
//! again at every flush). A counter is named `{plan}/{key id}/{period}`, e.g.
//! `basic/alice/2026-12-01`; a new period is a new counter.

use std::{
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use music_api::pb::{self, usage_service_client::UsageServiceClient};

use super::keys::{Period, Quota, UsagePlans};
use crate::upstream::Transport;

/// How long one flush may wait for the service.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);
/// Counters per call (the service's limit).
const MAX_INCREMENTS: usize = 1000;
/// A key used within this long has its total read again at every flush, even
/// with nothing to add, so that what other replicas counted is seen within
/// one interval (a key idle here for longer is read on its next request).
const REFRESH_WINDOW: Duration = Duration::from_secs(60);

/// A quota's counter on this gateway.
#[derive(Debug)]
struct Counter {
    /// `{plan}/{key id}/`.
    base: String,
    quota: Quota,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy, Default)]
struct State {
    /// The period counted (see [`period_of`]).
    period: i64,
    /// The total in the usage table at the last flush (every replica's).
    known: u64,
    /// Counted here since the last flush.
    pending: u64,
    /// Counted here and being flushed.
    in_flight: u64,
    /// `known` was read for this period.
    read: bool,
    /// When a request last took from the quota here.
    used: Option<std::time::Instant>,
}

/// Why a request was over its quota: when the period ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spent {
    pub resets_in: Duration,
}

/// The quota counters of every key with a quota, by key index.
#[derive(Debug)]
pub struct Usage {
    counters: Vec<Option<Counter>>,
    client: UsageServiceClient<Transport>,
    interval: Duration,
    failing: std::sync::atomic::AtomicBool,
}

const DAY: i64 = 86_400;

/// The period `now` falls in, as a number that grows by one a period, and
/// when it ends.
fn period_of(period: Period, now: SystemTime) -> (i64, SystemTime) {
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let days = secs.div_euclid(DAY);
    let at = |days: i64| UNIX_EPOCH + Duration::from_secs((days * DAY).max(0) as u64);
    match period {
        Period::Day => (days, at(days + 1)),
        // 1970-01-01 was a Thursday: weeks from Monday start 3 days later.
        Period::Week => {
            let week = (days + 3).div_euclid(7);
            (week, at((week + 1) * 7 - 3))
        }
        Period::Month => {
            let date = time::OffsetDateTime::from_unix_timestamp(secs)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
                .date();
            let index = i64::from(date.year()) * 12 + i64::from(u8::from(date.month())) - 1;
            let next = index + 1;
            let next = time::Month::try_from((next.rem_euclid(12) + 1) as u8)
                .ok()
                .and_then(|month| {
                    time::Date::from_calendar_date(next.div_euclid(12) as i32, month, 1).ok()
                })
                .map_or(UNIX_EPOCH, |first| {
                    let secs = first.midnight().assume_utc().unix_timestamp();
                    UNIX_EPOCH + Duration::from_secs(secs.max(0) as u64)
                });
            (index, next)
        }
    }
}

/// The period's name in its counter: `2026-12-01`, `week-2026-11-30` (its
/// Monday), `2026-12`.
fn period_label(period: Period, index: i64) -> String {
    let date = |days: i64| {
        time::OffsetDateTime::from_unix_timestamp(days * DAY)
            .map(|t| t.date())
            .unwrap_or(time::Date::MIN)
    };
    match period {
        Period::Day => {
            let d = date(index);
            format!("{}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
        }
        Period::Week => {
            let d = date(index * 7 - 3);
            format!(
                "week-{}-{:02}-{:02}",
                d.year(),
                u8::from(d.month()),
                d.day()
            )
        }
        Period::Month => format!("{}-{:02}", index.div_euclid(12), index.rem_euclid(12) + 1),
    }
}

impl Usage {
    /// Counters for the keys of `plans` that have a quota, flushed through `client`.
    pub fn new(
        plans: &UsagePlans,
        client: UsageServiceClient<Transport>,
        interval: Duration,
    ) -> Self {
        let counters = plans
            .keys()
            .iter()
            .map(|key| {
                key.quota.map(|quota| Counter {
                    base: format!("{}/{}/", key.plan, key.id),
                    quota,
                    state: Mutex::new(State {
                        period: period_of(quota.period, SystemTime::now()).0,
                        ..State::default()
                    }),
                })
            })
            .collect();
        Self {
            counters,
            client,
            interval,
            failing: Default::default(),
        }
    }

    /// Whether any key has a quota.
    pub fn is_empty(&self) -> bool {
        self.counters.iter().all(Option::is_none)
    }

    /// Counts a request of key `index` against its quota, or refuses it when
    /// the quota is spent (every replica's counts as of the last flush, and
    /// this one's since).
    pub fn take(&self, index: usize) -> Result<(), Spent> {
        let Some(Some(counter)) = self.counters.get(index) else {
            return Ok(());
        };
        let now = SystemTime::now();
        let (period, ends) = period_of(counter.quota.period, now);
        let mut state = counter.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.period != period {
            *state = State {
                period,
                ..State::default()
            };
        }
        if state.known + state.pending + state.in_flight >= counter.quota.limit {
            return Err(Spent {
                resets_in: ends.duration_since(now).unwrap_or_default(),
            });
        }
        state.pending += 1;
        state.used = Some(std::time::Instant::now());
        Ok(())
    }

    /// Sends every counter's increment (and reads the totals of counters
    /// not read yet this period); the number of counters flushed.
    pub async fn flush(&self) -> Result<usize, tonic::Status> {
        let mut batch = Vec::new();
        for (index, counter) in self.counters.iter().enumerate() {
            let Some(counter) = counter else { continue };
            let mut state = counter.state.lock().unwrap_or_else(|e| e.into_inner());
            let recent = state.used.is_some_and(|at| at.elapsed() < REFRESH_WINDOW);
            if state.pending == 0 && state.read && !recent {
                continue;
            }
            let count = state.pending;
            state.in_flight += count;
            state.pending = 0;
            batch.push((index, state.period, count));
        }
        let mut flushed = 0;
        let mut failure = None;
        for chunk in batch.chunks(MAX_INCREMENTS) {
            let increments = chunk
                .iter()
                .map(|&(index, period, count)| {
                    let counter = self.counters[index].as_ref().expect("a counter");
                    pb::UsageIncrement {
                        counter: format!(
                            "{}{}",
                            counter.base,
                            period_label(counter.quota.period, period)
                        ),
                        count: count as i64,
                    }
                })
                .collect();
            let mut request = tonic::Request::new(pb::AddUsageRequest { increments });
            request.set_timeout(FLUSH_TIMEOUT);
            let mut client = self.client.clone();
            let answer = tokio::time::timeout(FLUSH_TIMEOUT, client.add_usage(request))
                .await
                .unwrap_or_else(|_| Err(tonic::Status::deadline_exceeded("usage flush timed out")));
            let totals = match answer {
                Ok(answer) => answer.into_inner().totals,
                Err(status) => {
                    failure = Some(status);
                    Vec::new()
                }
            };
            for (n, &(index, period, count)) in chunk.iter().enumerate() {
                let counter = self.counters[index].as_ref().expect("a counter");
                let mut state = counter.state.lock().unwrap_or_else(|e| e.into_inner());
                if state.period != period {
                    continue;
                }
                state.in_flight -= count;
                match totals.get(n) {
                    Some(total) => {
                        state.known = total.total.max(0) as u64;
                        state.read = true;
                        flushed += 1;
                    }
                    None => state.pending += count,
                }
            }
        }
        match failure {
            Some(status) => Err(status),
            None => Ok(flushed),
        }
    }

    /// [`Usage::flush`], its failures logged (once per run of failures).
    pub async fn flush_logged(&self) {
        use std::sync::atomic::Ordering;
        match self.flush().await {
            Ok(_) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("usage counts are flushed to the service again");
                }
            }
            Err(status) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        code = ?status.code(),
                        error = status.message(),
                        "cannot flush usage counts to the service; they are kept and sent again"
                    );
                }
            }
        }
    }

    /// Flushes every interval until `stopped` resolves (the last flush,
    /// after the drain, is the caller's).
    pub async fn run(self: Arc<Self>, stopped: impl Future<Output = ()>) {
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.interval) => self.flush_logged().await,
                () = &mut stopped => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use time::macros::datetime;

    fn at(t: time::OffsetDateTime) -> SystemTime {
        t.into()
    }

    #[test]
    fn periods_are_utc_days_weeks_from_monday_and_months() {
        let now = at(datetime!(2026-12-02 13:00:00 UTC)); // a Wednesday
        let (day, ends) = period_of(Period::Day, now);
        assert_eq!(period_label(Period::Day, day), "2026-12-02");
        assert_eq!(ends, at(datetime!(2026-12-03 00:00:00 UTC)));
        let (week, ends) = period_of(Period::Week, now);
        assert_eq!(period_label(Period::Week, week), "week-2026-11-30");
        assert_eq!(ends, at(datetime!(2026-12-07 00:00:00 UTC)));
        let (month, ends) = period_of(Period::Month, now);
        assert_eq!(period_label(Period::Month, month), "2026-12");
        assert_eq!(ends, at(datetime!(2027-01-01 00:00:00 UTC)));
        let (monday, _) = period_of(Period::Week, at(datetime!(2026-11-30 00:00:00 UTC)));
        assert_eq!(monday, week);
        let (sunday, _) = period_of(Period::Week, at(datetime!(2026-11-29 23:59:59 UTC)));
        assert_eq!(sunday, week - 1);
    }
}
