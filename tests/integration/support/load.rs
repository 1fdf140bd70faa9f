//! A bounded HTTP load for outage tests: a few workers send the same request over and over,
//! each answer recorded with the phase it was sent in (before the outage, during it, after the
//! restart), its status, body and latency, until the load is finished.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

/// When a request was sent, relative to the outage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Before = 0,
    Outage = 1,
    Restarted = 2,
}

impl Phase {
    fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Before,
            1 => Self::Outage,
            _ => Self::Restarted,
        }
    }
}

/// One answered request.
#[derive(Clone, Debug)]
pub struct Sample {
    pub phase: Phase,
    /// The status, or 0 when no response came (the client's own bound).
    pub status: u16,
    pub body: String,
    pub latency: Duration,
    /// When the answer came.
    pub answered: Instant,
}

/// Requests sent by a few workers until [`Load::finish`].
pub struct Load {
    phase: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    workers: JoinSet<()>,
}

/// The pause of a worker between two requests (keeps the load light on a shared machine).
const PACE: Duration = Duration::from_millis(25);
/// The most a request may take before the client gives up (it counts as status 0).
const CLIENT_LIMIT: Duration = Duration::from_secs(20);

impl Load {
    /// Starts `workers` workers sending `GET url`.
    pub fn start(url: String, workers: usize) -> Self {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(CLIENT_LIMIT)
            .build()
            .unwrap();
        let phase = Arc::new(AtomicU8::new(Phase::Before as u8));
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = JoinSet::new();
        for _ in 0..workers {
            let (client, url) = (client.clone(), url.clone());
            let (phase, stop, samples) = (phase.clone(), stop.clone(), samples.clone());
            tasks.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let sent_in = Phase::from_u8(phase.load(Ordering::SeqCst));
                    let started = Instant::now();
                    let (status, body) = match client.get(&url).send().await {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            (status, response.text().await.unwrap_or_default())
                        }
                        Err(error) => (0, error.to_string()),
                    };
                    samples.lock().unwrap().push(Sample {
                        phase: sent_in,
                        status,
                        body,
                        latency: started.elapsed(),
                        answered: Instant::now(),
                    });
                    tokio::time::sleep(PACE).await;
                }
            });
        }
        Self {
            phase,
            stop,
            samples,
            workers: tasks,
        }
    }

    /// Requests sent from now on are in `phase`.
    pub fn enter(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::SeqCst);
    }

    /// The answers so far.
    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().unwrap().clone()
    }

    /// Stops the workers (each finishes its request in flight) and returns every answer.
    pub async fn finish(mut self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        while self.workers.join_next().await.is_some() {}
        self.samples()
    }
}
