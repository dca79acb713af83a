//! A write load through the gateway while a fault is injected: a few writers,
//! each PUTting distinct songs one after the other with the real curl, every
//! answer recorded (status, body, when it was sent, how long it took), so that
//! a test can tell what was acknowledged and check it against the table; and
//! the figures the tests print (medians, statuses counted).

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::task::JoinHandle;

use crate::table::Songs;
use music_testkit::try_curl;

/// One PUT of a song through the gateway, and its answer.
#[derive(Debug, Clone)]
pub(crate) struct Write {
    pub(crate) artist: String,
    pub(crate) title: String,
    pub(crate) album: String,
    /// When curl was started.
    pub(crate) sent: Instant,
    /// When the answer (or curl's failure) came back.
    pub(crate) answered: Instant,
    /// The HTTP status; 0 when curl got no answer at all.
    pub(crate) status: u16,
    pub(crate) body: String,
}

impl Write {
    pub(crate) fn took(&self) -> Duration {
        self.answered - self.sent
    }

    pub(crate) fn key(&self) -> (String, String) {
        (self.artist.clone(), self.title.clone())
    }

    /// Whether the table holds this write as it was sent.
    pub(crate) fn is_in(&self, songs: &Songs) -> bool {
        songs
            .get(&self.key())
            .is_some_and(|album| album.as_deref() == Some(&self.album))
    }
}

/// Writers PUTting distinct songs into `table` until stopped (or done).
#[derive(Debug)]
pub(crate) struct WriteLoad {
    stop: Arc<AtomicBool>,
    writes: Arc<Mutex<Vec<Write>>>,
    writers: Vec<JoinHandle<()>>,
}

impl WriteLoad {
    /// `writers` writers, each at most `per_writer` songs, against the
    /// gateway at `gateway` (`http://ADDR`); artists are `{prefix} {writer}`.
    pub(crate) fn start(
        gateway: &str,
        table: &str,
        prefix: &str,
        writers: usize,
        per_writer: usize,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let writes = Arc::new(Mutex::new(Vec::new()));
        let url = format!("{gateway}/Test/DemoResourceMusic/DemoResourceMusicItem");
        let writers = (0..writers)
            .map(|writer| {
                let (stop, writes) = (Arc::clone(&stop), Arc::clone(&writes));
                let (url, table) = (url.clone(), table.to_owned());
                let artist = format!("{prefix} {writer}");
                tokio::spawn(async move {
                    for n in 0..per_writer {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let title = format!("Song {n:05}");
                        let album = format!("Album {writer}-{n}");
                        let sent = Instant::now();
                        let answer = try_curl(&[
                            "-X",
                            "PUT",
                            &url,
                            "-H",
                            "content-type: application/json",
                            "-H",
                            &format!("table: {table}"),
                            "-H",
                            &format!("artist: {artist}"),
                            "-H",
                            &format!("songtitle: {title}"),
                            "-H",
                            &format!("albumtitle: {album}"),
                        ])
                        .await;
                        let answered = Instant::now();
                        let (status, body) = match answer {
                            Ok(answer) => (answer.status, answer.body),
                            Err(error) => (0, error),
                        };
                        writes.lock().unwrap().push(Write {
                            artist: artist.clone(),
                            title,
                            album,
                            sent,
                            answered,
                            status,
                            body,
                        });
                    }
                })
            })
            .collect();
        Self {
            stop,
            writes,
            writers,
        }
    }

    /// Waits until the answers so far satisfy `wanted`; how long that took,
    /// or `None` after `within`.
    pub(crate) async fn until(
        &self,
        within: Duration,
        wanted: impl Fn(&[Write]) -> bool,
    ) -> Option<Duration> {
        let started = Instant::now();
        loop {
            if wanted(&self.writes.lock().unwrap()) {
                return Some(started.elapsed());
            }
            if started.elapsed() >= within {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops the writers after their current write; every answer.
    pub(crate) async fn finish(self) -> Vec<Write> {
        self.stop.store(true, Ordering::Relaxed);
        for writer in self.writers {
            writer.await.expect("a writer finishes");
        }
        Arc::try_unwrap(self.writes)
            .expect("the writers are done")
            .into_inner()
            .unwrap()
    }
}

/// How many answers had each status.
pub(crate) fn statuses<'w>(writes: impl IntoIterator<Item = &'w Write>) -> BTreeMap<u16, usize> {
    let mut counted = BTreeMap::new();
    for write in writes {
        *counted.entry(write.status).or_insert(0) += 1;
    }
    counted
}

/// The median of `samples` (the upper one of an even count); zero for none.
pub(crate) fn median(samples: impl IntoIterator<Item = Duration>) -> Duration {
    let mut sorted: Vec<Duration> = samples.into_iter().collect();
    sorted.sort();
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

/// The largest of `samples`; zero for none.
pub(crate) fn max(samples: impl IntoIterator<Item = Duration>) -> Duration {
    samples.into_iter().max().unwrap_or_default()
}

#[test]
fn medians_take_the_middle_sample() {
    let ms = Duration::from_millis;
    assert_eq!(median([ms(3), ms(1), ms(2)]), ms(2));
    assert_eq!(median([ms(4), ms(1), ms(3), ms(2)]), ms(3));
    assert_eq!(median([]), Duration::ZERO);
    assert_eq!(max([ms(4), ms(9), ms(3)]), ms(9));
}
