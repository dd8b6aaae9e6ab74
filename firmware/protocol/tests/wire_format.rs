//! The wire format is frozen: frames of fixed messages are byte-for-byte
//! those of protocol version 1's first encoder (a hand-written COBS and
//! CRC-32, since replaced by the `cobs` and `crc` crates), recorded before
//! the change. A firmware and a host built before and after interoperate.

use ola_protocol::*;
use ola_spec::JobOp;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn frames_match_the_recorded_bytes() {
    let job = Job::new(JobOp::Mac, 12, 3, 0, 8192).with_b(4096);
    let words = [1u32, 2, 0x3FFF_FFFF, 0, 0x1234_5678];
    let cases = [
        (
            encode_frame_vec(1, &Request::Ping { token: 0xDEAD_BEEF }),
            "02010aeffdb6f50d59a13a3300",
        ),
        (
            encode_frame_vec(0x1234_5678, &Request::Info),
            "0bf8acd1910101ac45f1f100",
        ),
        (
            encode_frame_vec(42, &Request::RunJob(job)),
            "062a05030c03058020804005c5d5cfb600",
        ),
        (
            encode_frame_vec(
                7,
                &Request::WriteBuffer {
                    address: 4096,
                    words: Words::new(&words),
                },
            ),
            "0707038020140101010202010105ffffff3f0101010978563412c89194f500",
        ),
        (
            encode_frame_vec(u32::MAX, &Response::Pong { token: 7 }),
            "06ffffffff0f0607612dc76a00",
        ),
    ];
    for (i, (frame, expected)) in cases.into_iter().enumerate() {
        assert_eq!(hex(&frame.unwrap()), expected, "message {i}");
    }
}

/// Zero-free runs of a whole number of 254-byte COBS blocks end the frame:
/// the recorded encoder ends them with an empty `0x01` block.
#[test]
fn full_blocks_at_the_end_match_the_recorded_bytes() {
    // seq 1, a zero, then 250 (504) bytes 0x55 and a CRC without zeros:
    // one run of 254 (508) bytes.
    let frame = encode_frame_vec(1, &(0u8, [[0x55u8; 25]; 10])).unwrap();
    let expected = format!("0201ff{}0d65f9f60100", "55".repeat(250));
    assert_eq!(hex(&frame), expected);

    let frame = encode_frame_vec(1, &(0u8, [[0x55u8; 28]; 18])).unwrap();
    let expected = format!(
        "0201ff{}ff{}dc2b3fa60100",
        "55".repeat(254),
        "55".repeat(250)
    );
    assert_eq!(hex(&frame), expected);
}

/// The frame CRC is CRC-32/ISO-HDLC: its catalogue check value, read back
/// from a frame around the check string.
#[test]
fn frame_crc_is_the_catalogue_crc32() {
    let mut frame = [0u8; 16];
    let n = encode_frame_bytes(b"123456789", &mut frame).unwrap();
    let payload = decode_frame(&mut frame[..n]).unwrap();
    assert_eq!(payload.bytes(), b"123456789");
    assert_eq!(payload.crc(), 0xCBF4_3926);
}
