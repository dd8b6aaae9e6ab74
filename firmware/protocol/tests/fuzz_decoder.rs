//! The streaming frame decoder against 1,000,000 hostile inputs: random
//! bytes, damaged valid frames, truncations, duplicated delimiters, fed
//! in random pieces. It must never panic, never return a frame whose CRC
//! is wrong, and always resynchronise: a valid frame sent after a
//! delimiter decodes exactly, whatever came before.

use ola_protocol::*;
use rand::{Rng as _, RngCore, SeedableRng};

/// Seeded, so every run sees the same cases.
type Rng = rand_chacha::ChaCha8Rng;

/// A random byte, zero (a delimiter) one time in eight so frames split
/// often.
fn noisy_byte(rng: &mut Rng) -> u8 {
    if rng.random_range(0..8) == 0 {
        0
    } else {
        rng.random()
    }
}

const INPUTS: usize = 1_000_000;

/// Valid request frames to damage and to resynchronise on.
fn valid_frames() -> Vec<(u32, Vec<u8>, Vec<u8>)> {
    let words: Vec<u32> = (0..MAX_CHUNK_WORDS as u32)
        .map(|i| i.wrapping_mul(2_654_435_761))
        .collect();
    let jobs = [Job::default(); 3];
    let requests = [
        Request::Ping { token: 1 },
        Request::Info,
        Request::RunJob(Job::default()),
        Request::WriteBuffer {
            address: 64,
            words: Words::new(&words[..5]),
        },
        Request::WriteBuffer {
            address: 0,
            words: Words::new(&words[..300]),
        },
        Request::RunBatch(Jobs::new(&jobs)),
        Request::ReadBuffer {
            address: 3,
            count: 4,
        },
        Request::WriteBuffer {
            address: 0,
            words: Words::new(&words),
        },
    ];
    requests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let seq = 1 + i as u32;
            let frame = encode_frame_vec(seq, r).unwrap();
            let message = postcard::to_allocvec(&(seq, r)).unwrap();
            (seq, frame, message)
        })
        .collect()
}

/// Feeds `input` in random pieces; returns every outcome (payload bytes or
/// error) and checks each returned payload's CRC independently.
fn feed(
    decoder: &mut FrameDecoder,
    rng: &mut Rng,
    mut input: &[u8],
    outcomes: &mut Vec<Result<Vec<u8>, FrameError>>,
) {
    while !input.is_empty() {
        let piece = 1 + rng.random_range(0..input.len().min(97));
        let mut chunk = &input[..piece];
        input = &input[piece..];
        while !chunk.is_empty() {
            let (used, outcome) = decoder.feed(chunk);
            assert!(used > 0 && used <= chunk.len());
            chunk = &chunk[used..];
            if let Some(outcome) = outcome {
                if let Ok(payload) = &outcome {
                    assert_eq!(crc32fast::hash(payload.bytes()), payload.crc());
                    // Decoding arbitrary checked bytes must not panic.
                    let _ = payload.decode::<Request>();
                    let _ = payload.decode::<Response>();
                }
                outcomes.push(outcome.map(|p| p.bytes().to_vec()));
            }
        }
    }
}

#[test]
fn decoder_survives_a_million_hostile_inputs() {
    let frames = valid_frames();
    let mut rng = Rng::seed_from_u64(0x0_1A_F9_A0);
    let mut decoder = FrameDecoder::new();
    let mut outcomes = Vec::new();
    let mut input = Vec::new();
    let (mut oks, mut errors) = (0usize, [0usize; 4]);
    for case in 0..INPUTS {
        input.clear();
        let (_, frame, _) = &frames[rng.random_range(0..frames.len())];
        // The big frame rarely: it costs 4 KiB a case.
        if frame.len() > 2000 && rng.random_range(0..64) != 0 {
            continue_with_small(&mut input, &mut rng, case);
        } else {
            match case % 6 {
                // Random bytes of random length.
                0 => {
                    let len = rng.random_range(0..80);
                    input.extend((0..len).map(|_| noisy_byte(&mut rng)));
                }
                // A valid frame with a few bytes changed.
                1 => {
                    input.extend_from_slice(frame);
                    for _ in 0..1 + rng.random_range(0..3) {
                        let at = rng.random_range(0..input.len());
                        input[at] ^= 1 + rng.random_range(0..255) as u8;
                    }
                }
                // A truncated frame, then a delimiter.
                2 => {
                    input.extend_from_slice(&frame[..rng.random_range(0..frame.len())]);
                    input.push(0);
                }
                // Duplicated delimiters around a valid frame.
                3 => {
                    input.extend(std::iter::repeat_n(0, 1 + rng.random_range(0..4)));
                    input.extend_from_slice(frame);
                    input.extend(std::iter::repeat_n(0, rng.random_range(0..4)));
                }
                // A valid frame with a byte inserted or removed.
                4 => {
                    input.extend_from_slice(frame);
                    let at = rng.random_range(0..input.len() - 1);
                    if rng.random_range(0..2) == 0 {
                        input.remove(at);
                    } else {
                        input.insert(at, rng.next_u64() as u8 | 1);
                    }
                }
                // A run longer than any frame, without a delimiter.
                _ => {
                    if rng.random_range(0..100) == 0 {
                        input.extend((0..MAX_ENCODED + 1 + rng.random_range(0..50)).map(|_| 0x55));
                        input.push(0);
                    } else {
                        input.extend((0..rng.random_range(0..8)).map(|_| noisy_byte(&mut rng)));
                    }
                }
            }
        }
        outcomes.clear();
        feed(&mut decoder, &mut rng, &input, &mut outcomes);
        for outcome in &outcomes {
            match outcome {
                Ok(_) => oks += 1,
                Err(FrameError::TooLong) => errors[0] += 1,
                Err(FrameError::Cobs) => errors[1] += 1,
                Err(FrameError::TooShort) => errors[2] += 1,
                Err(FrameError::Crc) => errors[3] += 1,
            }
        }
        // Every 16th case: resynchronisation. A delimiter and a valid frame
        // after whatever came before decode to exactly that frame.
        if case % 16 == 0 {
            let (_, good, message) = &frames[rng.random_range(0..frames.len() - 1)];
            input.clear();
            input.push(0);
            input.extend_from_slice(good);
            outcomes.clear();
            feed(&mut decoder, &mut rng, &input, &mut outcomes);
            assert_eq!(
                outcomes.last(),
                Some(&Ok(message.clone())),
                "case {case}: no resync"
            );
        }
    }
    // Every kind of rejection occurred, and many frames got through.
    assert!(errors.iter().all(|&n| n > 500), "{errors:?}");
    assert!(oks > 100_000, "{oks}");
}

fn continue_with_small(input: &mut Vec<u8>, rng: &mut Rng, case: usize) {
    let len = rng.random_range(0..40) + case % 3;
    input.extend((0..len).map(|_| noisy_byte(rng)));
}
