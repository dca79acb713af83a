//! Quotas of the usage plans, counted where every gateway replica sees them:
//! in the service's usage table (`music.v1.UsageService/AddUsage`, an atomic
//! DynamoDB `ADD`). Each gateway counts locally and flushes its increments,
//! learning the totals of every replica in the same answer; it reads the
//! totals at start and flushes everything once more after its drain.
//!
//! How often a counter is flushed depends on how near its quota is, as
//! distributed rate limiters sync (Kong's `sync_rate`, Envoy's quota
//! buckets), so that keys far from their quotas do not cost the usage table
//! a write each a second (1,000 active keys would be 1,000 writes a second):
//! - *near* — the quota could be spent within two `--usage-flush-max-interval`s
//!   at the rate the key is used (every replica's, as the last reads showed,
//!   or this one's since): flushed every `--usage-flush-interval` (1 s), so N
//!   replicas overshoot it by at most N intervals of traffic while the rate
//!   holds;
//! - *far* — flushed every `--usage-flush-max-interval` (10 s), the keys
//!   spread evenly over its ticks;
//! - and at the next tick, near or far: a key used again after more than a
//!   max interval without a read (what other replicas counted meanwhile is
//!   seen at once), and every key in the last max interval of its period
//!   (what is not sent before the period ends is not counted).
//!
//! So a restart resets nothing, and a crash loses at most one interval of the
//! counts of a key near its quota and one max interval of the others'. A key
//! used here within the last minute has its total read again as often, even
//! with nothing to add. A counter is named `{plan}/{key id}/{period}`, e.g.
//! `basic/alice/2026-12-01`; a new period is a new counter.

use std::{
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use music_api::pb::{self, usage_service_client::UsageServiceClient};

use super::keys::{Period, Quota, UsagePlans};
use crate::upstream::Transport;

/// How long one flush may wait for the service.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(3);
/// Counters per call (the service's limit).
const MAX_INCREMENTS: usize = 1000;
/// A key used within this long has its total read again at its flushes, even
/// with nothing to add, so that what other replicas counted is seen (a key
/// idle here for longer is read on its next request).
const REFRESH_WINDOW: Duration = Duration::from_secs(60);
/// A counter is near its quota when the quota could be spent within this
/// many max intervals at the rate the key is used.
const NEAR_HORIZON: f64 = 2.0;

/// When counters are flushed: `--usage-flush-interval` and
/// `--usage-flush-max-interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushIntervals {
    /// The tick: counters near their quota are flushed at every one.
    interval: Duration,
    /// Counters far from it are flushed once in this long.
    max_interval: Duration,
}

impl FlushIntervals {
    pub fn new(interval: Duration, max_interval: Duration) -> Result<Self, String> {
        if interval.is_zero() {
            return Err("--usage-flush-interval must be longer than 0".to_owned());
        }
        if max_interval < interval {
            return Err(format!(
                "--usage-flush-max-interval ({max_interval:?}) is shorter than --usage-flush-interval ({interval:?})"
            ));
        }
        Ok(Self {
            interval,
            max_interval,
        })
    }

    /// Ticks in a max interval: a far counter's turn comes once in this
    /// many (rounded down, so that turns are at most a max interval apart).
    fn ticks_per_turn(self) -> u64 {
        (self.max_interval.as_secs_f64() / self.interval.as_secs_f64())
            .floor()
            .max(1.0) as u64
    }

    /// How far ahead a counter is near its quota, in seconds.
    fn horizon_secs(self) -> f64 {
        self.max_interval.as_secs_f64() * NEAR_HORIZON
    }
}

/// Which counters a flush sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// Every counter with counts to send or a total to read: at start and
    /// after the drain.
    All,
    /// Tick `n` of the flush interval: the counters near their quota, and
    /// the far ones whose turn it is.
    Tick(u64),
}

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
    /// When the first of `pending` was counted.
    pending_since: Option<Instant>,
    /// Counted here and being flushed.
    in_flight: u64,
    /// `known` was read for this period.
    read: bool,
    /// When `known` was read.
    read_at: Option<Instant>,
    /// How fast the total grows, counts a second (every replica's, smoothed
    /// over the reads).
    rate: f64,
    /// When a request last took from the quota here.
    used: Option<Instant>,
}

/// What a flush weighs a counter against.
#[derive(Debug, Clone, Copy)]
struct Moment {
    now: Instant,
    /// How far ahead a counter is near its quota, in seconds.
    horizon_secs: f64,
    /// A total read longer ago than this is stale: the max interval.
    max_age: Duration,
    /// This tick is the counter's turn (or its period ends before the next).
    turn: bool,
}

impl State {
    /// Whether a flush sends this counter now: one not read this period
    /// always; one with nothing to add and not used lately never; the others
    /// on their turn, when their total is stale (a key used again after a
    /// quiet spell is read at the next tick), or at every tick while near the
    /// quota of `limit`.
    fn due(&self, limit: u64, at: Moment) -> bool {
        if !self.read {
            return true;
        }
        let recent = self
            .used
            .is_some_and(|used| at.now.saturating_duration_since(used) < REFRESH_WINDOW);
        if self.pending == 0 && !recent {
            return false;
        }
        let stale = self
            .read_at
            .is_none_or(|read| at.now.saturating_duration_since(read) >= at.max_age);
        at.turn || stale || self.near(limit, at.now, at.horizon_secs)
    }

    /// Whether the quota of `limit` could be spent within `horizon_secs` at
    /// the rate the total grew or, when faster, the rate counted here since
    /// the first count not yet sent.
    fn near(&self, limit: u64, now: Instant, horizon_secs: f64) -> bool {
        let left = limit.saturating_sub(self.known + self.pending + self.in_flight);
        let since = self.pending_since.map_or(0.0, |first| {
            now.saturating_duration_since(first).as_secs_f64()
        });
        let here = self.pending as f64 / since.max(0.001);
        self.rate.max(here) * horizon_secs >= left as f64
    }

    /// The total read at `now`, and the rate it grew at since the last read.
    fn learn(&mut self, total: u64, now: Instant) {
        if let Some(at) = self.read_at {
            let secs = now.saturating_duration_since(at).as_secs_f64();
            if secs > 0.0 {
                let grown = total.saturating_sub(self.known) as f64 / secs;
                self.rate = (self.rate + grown) / 2.0;
            }
        }
        self.known = total;
        self.read = true;
        self.read_at = Some(now);
    }

    /// `count` more to send, counted at `now` (the first of them dates the
    /// local rate).
    fn add_pending(&mut self, count: u64, now: Instant) {
        if self.pending == 0 && count > 0 {
            self.pending_since = Some(now);
        }
        self.pending += count;
    }
}

/// Whether tick `tick` is counter `index`'s turn, one in `ticks`: the
/// counters' turns spread evenly over the ticks of a max interval.
fn is_turn(tick: u64, index: usize, ticks: u64) -> bool {
    (tick + index as u64).is_multiple_of(ticks)
}

/// Whether `period` (the one `wall` falls in) ends within `within`: such a
/// counter is flushed at every tick, since what is not sent before its
/// period ends is not counted.
fn period_ends_within(period: Period, wall: SystemTime, within: Duration) -> bool {
    period_of(period, wall)
        .1
        .duration_since(wall)
        .is_ok_and(|left| left <= within)
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
    intervals: FlushIntervals,
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
        intervals: FlushIntervals,
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
            intervals,
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
        let now = Instant::now();
        state.add_pending(1, now);
        state.used = Some(now);
        Ok(())
    }

    /// Sends the increments of the counters `which` names (and reads the
    /// totals of counters not read yet this period); the number of counters
    /// flushed.
    pub async fn flush(&self, which: Flush) -> Result<usize, tonic::Status> {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let ticks = self.intervals.ticks_per_turn();
        let tick_at = Moment {
            now,
            horizon_secs: self.intervals.horizon_secs(),
            max_age: self.intervals.max_interval,
            turn: false,
        };
        let mut batch = Vec::new();
        for (index, counter) in self.counters.iter().enumerate() {
            let Some(counter) = counter else { continue };
            let turn = match which {
                Flush::All => true,
                Flush::Tick(tick) => {
                    is_turn(tick, index, ticks)
                        || period_ends_within(
                            counter.quota.period,
                            wall,
                            self.intervals.max_interval,
                        )
                }
            };
            let at = Moment { turn, ..tick_at };
            let mut state = counter.state.lock().unwrap_or_else(|e| e.into_inner());
            if !state.due(counter.quota.limit, at) {
                continue;
            }
            let count = state.pending;
            state.in_flight += count;
            state.pending = 0;
            state.pending_since = None;
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
                        state.learn(total.total.max(0) as u64, Instant::now());
                        flushed += 1;
                    }
                    None => state.add_pending(count, now),
                }
            }
        }
        match failure {
            Some(status) => Err(status),
            None => Ok(flushed),
        }
    }

    /// [`Usage::flush`], its failures logged (once per run of failures).
    pub async fn flush_logged(&self, which: Flush) {
        use std::sync::atomic::Ordering;
        match self.flush(which).await {
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

    /// Flushes what is due every interval until `stopped` resolves (the
    /// last flush, after the drain, is the caller's).
    pub async fn run(self: Arc<Self>, stopped: impl Future<Output = ()>) {
        tokio::pin!(stopped);
        let mut tick = 0;
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.intervals.interval) => {
                    tick += 1;
                    self.flush_logged(Flush::Tick(tick)).await;
                }
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

    /// A counter read `ago` before `now`, with `known` in the table and
    /// `pending` counted here since, the total growing at `rate`.
    fn counter(known: u64, pending: u64, rate: f64, ago: Duration, now: Instant) -> State {
        State {
            known,
            pending,
            pending_since: (pending > 0).then_some(now - ago),
            read: true,
            read_at: Some(now - ago),
            rate,
            used: Some(now),
            ..State::default()
        }
    }

    /// A tick at `now` of the default intervals (1 s, 10 s), its turn or not.
    fn tick(now: Instant, turn: bool) -> Moment {
        Moment {
            now,
            horizon_secs: 20.0,
            max_age: Duration::from_secs(10),
            turn,
        }
    }

    #[test]
    fn a_counter_far_from_its_quota_waits_for_its_turn() {
        let now = Instant::now();
        // 7 a second everywhere, 1,000,000 left: spent in a day, not in 20 s.
        let far = counter(1_000, 7, 7.0, Duration::from_secs(1), now);
        assert!(!far.due(1_001_007, tick(now, false)));
        assert!(far.due(1_001_007, tick(now, true)));
        // Nothing to add but used lately: its total is read on its turn.
        let read_only = counter(1_000, 0, 7.0, Duration::from_secs(1), now);
        assert!(!read_only.due(1_001_000, tick(now, false)));
        assert!(read_only.due(1_001_000, tick(now, true)));
    }

    #[test]
    fn a_counter_near_its_quota_is_flushed_at_every_tick() {
        let now = Instant::now();
        // 5 a second everywhere, 90 left: spent within 20 s.
        let near = counter(10, 0, 5.0, Duration::from_secs(1), now);
        assert!(near.due(100, tick(now, false)));
        // Quiet everywhere (the rate read is 0), but 30 counted here in the
        // last second: 30 a second × 20 s ≥ 100 left.
        let busy_here = counter(0, 30, 0.0, Duration::from_secs(1), now);
        assert!(busy_here.due(130, tick(now, false)));
        assert!(!busy_here.due(10_000, tick(now, false)));
        // Spent: flushed at every tick, so that a new period or another
        // replica's view is seen at once.
        let spent = counter(100, 0, 0.0, Duration::from_secs(1), now);
        assert!(spent.due(100, tick(now, false)));
    }

    #[test]
    fn a_counter_used_again_after_a_quiet_spell_is_read_at_the_next_tick() {
        let now = Instant::now();
        // Far from its quota, its total read 11 s ago (more than the max
        // interval): due now, not on its turn.
        let stale = counter(1_000, 1, 0.0, Duration::from_secs(11), now);
        assert!(stale.due(1_000_000, tick(now, false)));
        let fresh = counter(1_000, 1, 0.0, Duration::from_secs(9), now);
        assert!(!fresh.due(1_000_000, tick(now, false)));
    }

    #[test]
    fn turns_spread_counters_over_the_ticks_and_a_period_ending_soon_is_every_tick() {
        let ticks = FlushIntervals::new(Duration::from_secs(1), Duration::from_secs(10))
            .unwrap()
            .ticks_per_turn();
        for index in 0..25 {
            let turns = (1..=100).filter(|&t| is_turn(t, index, ticks)).count();
            assert_eq!(turns, 10, "counter {index}: once in 10 ticks");
        }
        let on_tick_one = (0..1000).filter(|&i| is_turn(1, i, ticks)).count();
        assert_eq!(on_tick_one, 100, "a tenth of the counters a tick");
        let before_midnight = at(datetime!(2026-12-01 23:59:55 UTC));
        let ten = Duration::from_secs(10);
        assert!(period_ends_within(Period::Day, before_midnight, ten));
        assert!(!period_ends_within(Period::Month, before_midnight, ten));
        let noon = at(datetime!(2026-12-01 12:00:00 UTC));
        assert!(!period_ends_within(Period::Day, noon, ten));
    }

    #[test]
    fn unread_counters_are_always_due_and_idle_ones_never() {
        let now = Instant::now();
        assert!(State::default().due(u64::MAX, tick(now, false)));
        let idle = State {
            used: Some(now - REFRESH_WINDOW),
            ..counter(5, 0, 0.0, Duration::from_secs(1), now)
        };
        assert!(!idle.due(10, tick(now, true)));
        let never_used = State {
            used: None,
            ..counter(5, 0, 0.0, Duration::from_secs(1), now)
        };
        assert!(!never_used.due(10, tick(now, true)));
    }

    #[test]
    fn each_read_averages_the_rate_the_total_grew_at() {
        let now = Instant::now();
        let mut state = counter(100, 0, 0.0, Duration::from_secs(2), now);
        // 40 more in 2 s: 20 a second, averaged with the 0 before.
        state.learn(140, now);
        assert_eq!((state.known, state.rate), (140, 10.0));
        state.learn(170, now + Duration::from_secs(1));
        assert_eq!((state.known, state.rate), (170, 20.0));
        assert_eq!(state.read_at, Some(now + Duration::from_secs(1)));
        // A first read has no rate to learn from.
        let mut first = State::default();
        first.learn(5, now);
        assert_eq!((first.known, first.rate, first.read), (5, 0.0, true));
    }

    #[test]
    fn flush_intervals_are_checked_and_spread_far_counters_over_ticks() {
        let second = Duration::from_secs(1);
        let intervals = FlushIntervals::new(second, 10 * second).unwrap();
        assert_eq!(intervals.ticks_per_turn(), 10);
        assert_eq!(intervals.horizon_secs(), 20.0);
        let same = FlushIntervals::new(second, second).unwrap();
        assert_eq!(same.ticks_per_turn(), 1);
        // 4 s into 10 s: turns every 2 ticks (8 s), never more than 10 s apart.
        let uneven = FlushIntervals::new(4 * second, 10 * second).unwrap();
        assert_eq!(uneven.ticks_per_turn(), 2);
        assert_eq!(
            FlushIntervals::new(Duration::ZERO, second).unwrap_err(),
            "--usage-flush-interval must be longer than 0"
        );
        assert_eq!(
            FlushIntervals::new(second, Duration::from_millis(500)).unwrap_err(),
            "--usage-flush-max-interval (500ms) is shorter than --usage-flush-interval (1s)"
        );
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
