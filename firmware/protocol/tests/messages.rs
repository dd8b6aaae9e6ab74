//! Every message survives framing and decoding unchanged; the wire format
//! of data is the compact one; the largest messages fit the frame bound.

use ola_protocol::*;
use ola_spec::JobOp;

fn requests<'a>(words: &'a [u32], jobs: &'a [Job]) -> Vec<Request<'a>> {
    vec![
        Request::Ping { token: 0xDEAD_BEEF },
        Request::Info,
        Request::LoadModuli {
            first_slot: 1,
            moduli: Moduli::new(&[1_073_479_681, 1_073_184_769]).unwrap(),
        },
        Request::WriteBuffer {
            address: 4096,
            words: Words::new(words),
        },
        Request::ReadBuffer {
            address: 12,
            count: 1024,
        },
        Request::RunJob(Job::new(JobOp::Mac, 12, 3, 0, 8192).with_b(4096)),
        Request::RunBatch(Jobs::new(jobs)),
        Request::ReadCounters,
        Request::Reset,
    ]
}

fn responses(words: &[u32]) -> Vec<Response<'_>> {
    vec![
        Response::Pong { token: 7 },
        Response::Info(DeviceInfo {
            protocol_version: PROTOCOL_VERSION,
            firmware_version: (0, 1, 0),
            device_id: 0x4F4C_4131,
            lanes: 8,
            log_max_n: 12,
            word_bits: 30,
            slots: 4,
            user_words: 14 * 4096,
            max_chunk_words: MAX_CHUNK_WORDS as u16,
            max_batch_jobs: MAX_BATCH_JOBS as u16,
            moduli: Moduli::new(&[1_073_479_681, 0, 0, 5]).unwrap(),
        }),
        Response::Done,
        Response::Data(Words::new(words)),
        Response::JobDone { cycles: 3083 },
        Response::BatchDone {
            jobs: 3,
            cycles: u64::MAX,
        },
        Response::Counters(Counters {
            cycles: 1 << 40,
            job_cycles: 9,
            status: 2,
            errors: 0x80,
            link: LinkStats {
                requests: 1,
                replays: 2,
                bad_frames: 3,
                bad_messages: 4,
            },
        }),
        Response::Error(ErrorReply {
            code: ErrorCode::Misaligned,
            detail: 8,
            job: Some(2),
        }),
        Response::error(ErrorCode::Unknown(4000)),
    ]
}

#[test]
fn every_request_and_response_round_trips() {
    let words: Vec<u32> = (0..MAX_CHUNK_WORDS as u32)
        .map(|i| i.wrapping_mul(0x9E37_79B9))
        .collect();
    let jobs: Vec<Job> = (0..MAX_BATCH_JOBS as u32)
        .map(|i| Job {
            op: (i % 7) as u8,
            log_n: (i % 13) as u8,
            slot: (i % 4) as u8,
            a: i,
            b: !i,
            dst: i << 12,
            constant: i * 3,
        })
        .collect();
    for (i, request) in requests(&words, &jobs).iter().enumerate() {
        let seq = 1 + i as u32 * 0x0101_0101;
        let mut frame = encode_frame_vec(seq, request).unwrap();
        assert!(frame.len() <= MAX_FRAME, "{request:?}");
        let payload = decode_frame(&mut frame).unwrap();
        assert_eq!(payload.sequence(), Some(seq));
        assert_eq!(payload.decode::<Request>().unwrap(), (seq, *request));
    }
    for (i, response) in responses(&words).iter().enumerate() {
        let seq = u32::MAX - i as u32;
        let mut frame = encode_frame_vec(seq, response).unwrap();
        assert!(frame.len() <= MAX_FRAME);
        let payload = decode_frame(&mut frame).unwrap();
        assert_eq!(payload.decode::<Response>().unwrap(), (seq, *response));
    }
}

#[test]
fn words_travel_as_little_endian_bytes() {
    // Items and their byte encoding serialise identically: a varint byte
    // count, then 4 bytes a word (not one varint a word).
    let words = [1u32, 0x0403_0201, u32::MAX];
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    let from_items = postcard::to_allocvec(&Words::new(&words)).unwrap();
    let from_bytes = postcard::to_allocvec(&Words::from_bytes(&bytes).unwrap()).unwrap();
    assert_eq!(from_items, from_bytes);
    assert_eq!(from_items[0], 12);
    assert_eq!(&from_items[1..], &bytes[..]);
    let decoded: Words = postcard::from_bytes(&from_items).unwrap();
    assert_eq!(decoded.to_vec(), words);
    assert_eq!(Words::from_bytes(&bytes[..5]), None);
    // A byte string whose length is not a multiple of 4 is refused.
    assert!(postcard::from_bytes::<Words>(&[5, 1, 2, 3, 4, 5]).is_err());
}

#[test]
fn full_chunk_fits_and_oversize_is_refused() {
    let words = vec![u32::MAX; MAX_CHUNK_WORDS];
    let write = Request::WriteBuffer {
        address: u32::MAX,
        words: Words::new(&words),
    };
    let reply = Response::Data(Words::new(&words));
    for message in [
        encode_frame_vec(u32::MAX, &write),
        encode_frame_vec(u32::MAX, &reply),
    ] {
        assert!(message.unwrap().len() <= MAX_FRAME);
    }
    let too_many = vec![0u32; MAX_CHUNK_WORDS + 8];
    let err = encode_frame_vec(
        1,
        &Request::WriteBuffer {
            address: 0,
            words: Words::new(&too_many),
        },
    );
    assert_eq!(err, Err(EncodeError::TooLong));
}

#[test]
fn too_many_moduli_are_refused() {
    assert!(Moduli::new(&[1; MAX_SLOTS]).is_some());
    assert!(Moduli::new(&[1; MAX_SLOTS + 1]).is_none());
    // A hand-made sequence of MAX_SLOTS + 1 values does not decode.
    let mut bytes = vec![(MAX_SLOTS + 1) as u8];
    bytes.extend(std::iter::repeat_n(1u8, MAX_SLOTS + 1));
    assert!(postcard::from_bytes::<Moduli>(&bytes).is_err());
}

#[test]
fn unknown_variant_is_a_decode_error() {
    let mut frame = encode_frame_vec(9, &(200u8,)).unwrap();
    let payload = decode_frame(&mut frame).unwrap();
    assert_eq!(payload.sequence(), Some(9));
    assert_eq!(payload.decode::<Request>(), Err(DecodeError::Malformed));
}
