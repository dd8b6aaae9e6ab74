//! A fault-injecting transport for reliability tests: damages whole frames
//! in both directions with seeded, reproducible randomness.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::transport::Transport;

/// Probabilities, per frame, of each fault (at most one fault a frame;
/// the sum must be ≤ 1).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FaultRates {
    /// Some bytes replaced by random ones (a zero among them splits the
    /// frame in two).
    pub corrupt: f64,
    /// The frame vanishes.
    pub drop: f64,
    /// The frame arrives twice.
    pub duplicate: f64,
    /// The frame loses its tail; half the time its delimiter too, so it
    /// runs into the next frame.
    pub truncate: f64,
}

/// Faults counted so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Frames corrupted.
    pub corrupted: u64,
    /// Frames dropped.
    pub dropped: u64,
    /// Frames duplicated.
    pub duplicated: u64,
    /// Frames truncated.
    pub truncated: u64,
}

impl FaultCounts {
    /// All faults.
    pub fn total(&self) -> u64 {
        self.corrupted + self.dropped + self.duplicated + self.truncated
    }
}

/// Wraps a transport and damages the frames crossing it: host-to-device
/// frames as they are sent, device-to-host frames as they are received
/// (split at their delimiters first).
pub struct FaultyTransport<T> {
    inner: T,
    rates: FaultRates,
    rng: ChaCha8Rng,
    counts: Arc<Mutex<FaultCounts>>,
    /// Device-to-host bytes of the frame not yet complete.
    partial: Vec<u8>,
    /// Device-to-host bytes ready for the host, after faults.
    ready: VecDeque<u8>,
}

impl<T: Transport> FaultyTransport<T> {
    /// Damages frames on `inner` at `rates`, reproducibly from `seed`.
    pub fn new(inner: T, rates: FaultRates, seed: u64) -> Self {
        FaultyTransport {
            inner,
            rates,
            rng: ChaCha8Rng::seed_from_u64(seed),
            counts: Arc::default(),
            partial: Vec::new(),
            ready: VecDeque::new(),
        }
    }

    /// The fault counts, shared: still readable after the transport moved
    /// into a [`crate::Device`].
    pub fn counts(&self) -> Arc<Mutex<FaultCounts>> {
        Arc::clone(&self.counts)
    }

    /// The frames that arrive when `frame` is sent.
    fn damage(&mut self, frame: &[u8]) -> Vec<Vec<u8>> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let r: f64 = self.rng.random();
        let FaultRates {
            corrupt,
            drop,
            duplicate,
            truncate,
        } = self.rates;
        if r < corrupt {
            counts.corrupted += 1;
            let mut f = frame.to_vec();
            for _ in 0..self.rng.random_range(1..=3) {
                let i = self.rng.random_range(0..f.len());
                f[i] = self.rng.random();
            }
            vec![f]
        } else if r < corrupt + drop {
            counts.dropped += 1;
            vec![]
        } else if r < corrupt + drop + duplicate {
            counts.duplicated += 1;
            vec![frame.to_vec(), frame.to_vec()]
        } else if r < corrupt + drop + duplicate + truncate && frame.len() > 1 {
            counts.truncated += 1;
            let keep = self.rng.random_range(0..frame.len() - 1);
            let mut f = frame[..keep].to_vec();
            if self.rng.random_bool(0.5) {
                f.push(0);
            }
            vec![f]
        } else {
            vec![frame.to_vec()]
        }
    }
}

impl<T: Transport> Transport for FaultyTransport<T> {
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        // The device layer sends one frame a call.
        for frame in self.damage(bytes) {
            self.inner.send(&frame)?;
        }
        Ok(())
    }

    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        let deadline = std::time::Instant::now() + timeout;
        while self.ready.is_empty() {
            let now = std::time::Instant::now();
            if now >= deadline {
                return Ok(0);
            }
            let mut chunk = [0u8; 4096];
            let n = self.inner.recv(&mut chunk, deadline - now)?;
            for &b in &chunk[..n] {
                self.partial.push(b);
                if b == 0 {
                    let frame = std::mem::take(&mut self.partial);
                    for damaged in self.damage(&frame) {
                        self.ready.extend(damaged);
                    }
                }
            }
        }
        let n = buf.len().min(self.ready.len());
        for (slot, b) in buf.iter_mut().zip(self.ready.drain(..n)) {
            *slot = b;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::channel_pair;
    use std::io::Write;

    fn frames() -> Vec<Vec<u8>> {
        (1..=40u8)
            .map(|i| vec![i, i.wrapping_mul(7) | 1, 0x55, 0])
            .collect()
    }

    /// Sends `frames` device-to-host through a faulty transport with
    /// `rates`; returns what the host received.
    fn received(rates: FaultRates, seed: u64) -> (Vec<u8>, FaultCounts) {
        let (host, mut port) = channel_pair();
        let mut faulty = FaultyTransport::new(host, rates, seed);
        for f in frames() {
            port.write_all(&f).unwrap();
        }
        port.flush().unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            let n = faulty.recv(&mut buf, Duration::from_millis(20)).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        let counts = *faulty.counts().lock().unwrap();
        (got, counts)
    }

    #[test]
    fn no_faults_pass_frames_unchanged() {
        let (got, counts) = received(FaultRates::default(), 1);
        assert_eq!(got, frames().concat());
        assert_eq!(counts.total(), 0);
    }

    #[test]
    fn each_fault_does_what_it_says() {
        let all = |r: f64, which: usize| {
            let mut rates = FaultRates::default();
            *[
                &mut rates.corrupt,
                &mut rates.drop,
                &mut rates.duplicate,
                &mut rates.truncate,
            ][which] = r;
            rates
        };
        let (got, c) = received(all(1.0, 1), 2);
        assert!(got.is_empty() && c.dropped == 40);
        let (got, c) = received(all(1.0, 2), 3);
        let doubled: Vec<u8> = frames()
            .iter()
            .flat_map(|f| [f.clone(), f.clone()])
            .flatten()
            .collect();
        assert!(got == doubled && c.duplicated == 40);
        let (got, c) = received(all(1.0, 3), 4);
        assert!(got.len() < frames().concat().len() && c.truncated == 40);
        let (got, c) = received(all(1.0, 0), 5);
        assert!(got != frames().concat() && c.corrupted == 40);
        // Host-to-device frames are damaged too.
        let (host, mut port) = channel_pair();
        let mut faulty = FaultyTransport::new(host, all(1.0, 1), 6);
        faulty.send(&[1, 2, 0]).unwrap();
        assert!(
            !port.wait(Duration::from_millis(20)).unwrap(),
            "the frame was dropped"
        );
    }
}
