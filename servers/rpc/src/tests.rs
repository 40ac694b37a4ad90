//! The frame's round trips, every refusal, and a fuzz of both decoders.

extern crate std;

use super::*;
use serde::{Deserialize, Serialize};
use std::string::String;
use std::vec::Vec;

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum ToyRequest {
    Ping,
    Add(u32, u32),
    Shout(String),
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum ToyReply {
    Pong,
    Sum(u64),
    Loud(String),
}

struct Toy;

const TOY_OPERATION: Operation = Operation {
    request: "",
    reply: "",
    summary: "",
    errors: &[],
};

impl Protocol for Toy {
    const NAME: &'static str = "toy";
    const SUMMARY: &'static str = "A protocol for tests.";
    const TABLE: &'static [Operation] = &[TOY_OPERATION; 3];
    type Request = ToyRequest;
    type Reply = ToyReply;
}

#[test]
fn every_rpc_error_is_documented() {
    let name = |error: RpcError| match error {
        RpcError::Undecodable => "Undecodable",
        RpcError::UnknownOperation(_) => "UnknownOperation(n)",
        RpcError::TooLarge => "TooLarge",
        RpcError::Busy => "Busy",
        RpcError::BadReply => "BadReply",
        RpcError::NoBulk => "NoBulk",
    };
    let all = [
        RpcError::Undecodable,
        RpcError::UnknownOperation(0),
        RpcError::TooLarge,
        RpcError::Busy,
        RpcError::BadReply,
        RpcError::NoBulk,
    ];
    let documented: Vec<&str> = RPC_ERRORS.iter().map(|(error, _)| *error).collect();
    assert_eq!(all.map(name).to_vec(), documented);
    assert_eq!(Toy::OPERATIONS, 3);
}

const HEADER: RequestHeader = RequestHeader {
    call: 0x0102_0304,
    reply_port: 7,
};

fn request_bytes(request: &ToyRequest) -> Vec<u8> {
    let mut buffer = [0; MESSAGE_BYTES];
    let length = encode_request::<Toy>(HEADER, request, &mut buffer).unwrap();
    buffer[..length].to_vec()
}

#[test]
fn requests_and_replies_round_trip() {
    for request in [
        ToyRequest::Ping,
        ToyRequest::Add(3, u32::MAX),
        ToyRequest::Shout("hello".into()),
    ] {
        let bytes = request_bytes(&request);
        assert_eq!(&bytes[..4], &HEADER.call.to_le_bytes());
        assert_eq!(
            decode_request::<Toy>(&bytes),
            Incoming::Request(HEADER, request)
        );
    }
    for reply in [
        Ok(ToyReply::Pong),
        Ok(ToyReply::Sum(1 << 40)),
        Ok(ToyReply::Loud("HI".into())),
        Err(RpcError::Busy),
        Err(RpcError::UnknownOperation(9)),
    ] {
        let mut buffer = [0; MESSAGE_BYTES];
        let length = encode_reply::<Toy>(42, &reply, &mut buffer).unwrap();
        assert_eq!(decode_reply::<Toy>(&buffer[..length]), Ok((42, reply)));
    }
}

#[test]
fn an_unknown_operation_is_named() {
    let mut bytes = request_bytes(&ToyRequest::Ping);
    bytes[REQUEST_HEADER_BYTES] = 3;
    assert_eq!(
        decode_request::<Toy>(&bytes),
        Incoming::Refused(HEADER, RpcError::UnknownOperation(3))
    );
    // A multi-byte varint operation number.
    bytes.truncate(REQUEST_HEADER_BYTES);
    bytes.extend_from_slice(&[0xac, 0x02]);
    assert_eq!(
        decode_request::<Toy>(&bytes),
        Incoming::Refused(HEADER, RpcError::UnknownOperation(300))
    );
}

#[test]
fn bodies_that_do_not_decode_are_refused() {
    let add = request_bytes(&ToyRequest::Add(1, 2));
    let mut trailing = add.clone();
    trailing.push(0);
    let mut bad_text = request_bytes(&ToyRequest::Shout("ok".into()));
    let last = bad_text.len() - 1;
    bad_text[last] = 0xff; // not UTF-8
    for message in [
        &add[..add.len() - 1],
        &trailing[..],
        &bad_text[..],
        &add[..REQUEST_HEADER_BYTES],
    ] {
        assert_eq!(
            decode_request::<Toy>(message),
            Incoming::Refused(HEADER, RpcError::Undecodable),
            "{message:?}"
        );
    }
}

#[test]
fn a_message_shorter_than_the_header_names_no_port() {
    for length in 0..REQUEST_HEADER_BYTES {
        assert_eq!(decode_request::<Toy>(&[1; 8][..length]), Incoming::Headless);
    }
}

#[test]
fn what_would_not_fit_a_message_is_refused() {
    let mut buffer = [0; MESSAGE_BYTES];
    let long: String = "x".repeat(MESSAGE_BYTES);
    assert_eq!(
        encode_request::<Toy>(HEADER, &ToyRequest::Shout(long.clone()), &mut buffer),
        Err(RpcError::TooLarge)
    );
    assert_eq!(
        encode_reply::<Toy>(1, &Ok(ToyReply::Loud(long)), &mut buffer),
        Err(RpcError::TooLarge)
    );
    // The largest that fits does.
    let fits = "x".repeat(MESSAGE_BYTES - REQUEST_HEADER_BYTES - 2);
    let length = encode_request::<Toy>(HEADER, &ToyRequest::Shout(fits), &mut buffer).unwrap();
    assert_eq!(length, MESSAGE_BYTES);
}

#[test]
fn replies_that_do_not_decode_are_bad() {
    let mut buffer = [0; MESSAGE_BYTES];
    let length = encode_reply::<Toy>(5, &Ok(ToyReply::Sum(7)), &mut buffer).unwrap();
    assert_eq!(decode_reply::<Toy>(&buffer[..3]), Err(RpcError::BadReply));
    assert_eq!(
        decode_reply::<Toy>(&buffer[..length - 1]),
        Err(RpcError::BadReply)
    );
    let mut trailing = buffer[..length].to_vec();
    trailing.push(0);
    assert_eq!(decode_reply::<Toy>(&trailing), Err(RpcError::BadReply));
}

/// A small deterministic generator (xorshift64*), so a failure repeats.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A message: random bytes, or a valid one with some bytes changed or cut.
    fn message(&mut self, valid: &[Vec<u8>]) -> Vec<u8> {
        let mut bytes = if self.next().is_multiple_of(2) {
            let length = (self.next() % (MESSAGE_BYTES as u64 + 1)) as usize;
            (0..length).map(|_| self.next() as u8).collect()
        } else {
            valid[(self.next() % valid.len() as u64) as usize].clone()
        };
        for _ in 0..self.next() % 4 {
            if let Some(length) = core::num::NonZeroUsize::new(bytes.len()) {
                let at = (self.next() % length.get() as u64) as usize;
                bytes[at] = self.next() as u8;
            }
        }
        if self.next().is_multiple_of(4) {
            bytes.truncate((self.next() % (bytes.len() as u64 + 1)) as usize);
        }
        bytes
    }
}

#[test]
fn fuzzed_messages_never_panic_and_are_classified() {
    let valid: Vec<Vec<u8>> = [
        ToyRequest::Ping,
        ToyRequest::Add(1, 99_999),
        ToyRequest::Shout("abc".into()),
    ]
    .iter()
    .map(request_bytes)
    .collect();
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let mut seen = [0usize; 3];
    for _ in 0..200_000 {
        let message = noise.message(&valid);
        match decode_request::<Toy>(&message) {
            Incoming::Headless => {
                assert!(message.len() < REQUEST_HEADER_BYTES);
                seen[0] += 1;
            }
            Incoming::Refused(header, error) => {
                assert_eq!(Some(header), request_header(&message));
                assert!(matches!(
                    error,
                    RpcError::Undecodable | RpcError::UnknownOperation(3..)
                ));
                seen[1] += 1;
            }
            Incoming::Request(header, request) => {
                // What decoded encodes back to a request that decodes the same.
                let mut buffer = [0; MESSAGE_BYTES];
                let length = encode_request::<Toy>(header, &request, &mut buffer).unwrap();
                assert_eq!(
                    decode_request::<Toy>(&buffer[..length]),
                    Incoming::Request(header, request)
                );
                seen[2] += 1;
            }
        }
        // The reply decoders take the same noise.
        if let Ok((_, Ok(reply))) = decode_reply::<Toy>(&message) {
            let mut buffer = [0; MESSAGE_BYTES];
            encode_reply::<Toy>(0, &Ok(reply), &mut buffer).unwrap();
        }
        let _ = crate::request_bulk(&message);
        match crate::decode_reply_frame::<Toy>(&message) {
            Ok(crate::ReplyFrame::Reply(call, reply, bulk)) => {
                let mut buffer = [0; MESSAGE_BYTES];
                let length = match bulk {
                    Some(bytes) => {
                        crate::encode_reply_bulk::<Toy>(call, bytes, &reply, &mut buffer)
                    }
                    None => encode_reply::<Toy>(call, &reply, &mut buffer),
                }
                .unwrap();
                assert_eq!(
                    crate::decode_reply_frame::<Toy>(&buffer[..length]),
                    Ok(crate::ReplyFrame::Reply(call, reply, bulk))
                );
            }
            Ok(crate::ReplyFrame::Interim(call, port)) => {
                assert_eq!(
                    crate::decode_reply_frame::<Toy>(&crate::encode_interim(call, port)),
                    Ok(crate::ReplyFrame::Interim(call, port))
                );
            }
            Err(error) => assert_eq!(error, RpcError::BadReply),
        }
    }
    assert!(seen.iter().all(|&count| count > 1000), "{seen:?}");
}

#[test]
fn a_table_that_is_not_the_enum_is_caught() {
    let examples = [
        ToyRequest::Ping,
        ToyRequest::Add(1, 2),
        ToyRequest::Shout("x".into()),
    ];
    assert_eq!(check_table::<Toy>(&examples, &[]), Ok(()));
    assert!(check_table::<Toy>(&examples[..2], &[]).is_err(), "too few");
    let swapped = [
        ToyRequest::Add(1, 2),
        ToyRequest::Ping,
        ToyRequest::Shout("x".into()),
    ];
    assert!(check_table::<Toy>(&swapped, &[]).is_err(), "out of order");
    assert!(
        check_table::<Toy>(&examples, &["Undocumented"]).is_err(),
        "an error no operation documents"
    );
}

#[test]
fn bulk_fields_and_frames_round_trip_and_leave_plain_frames_as_they_were() {
    use crate::{
        BulkField, ReplyFrame, decode_reply_frame, encode_interim, encode_reply_bulk,
        encode_request_bulk, encode_sent_notice, request_bulk,
    };
    let request = ToyRequest::Ping;
    for bulk in [
        BulkField::None,
        BulkField::Sends(5),
        BulkField::Accepts(1 << 20),
    ] {
        let mut buffer = [0; MESSAGE_BYTES];
        let length = encode_request_bulk::<Toy>(HEADER, bulk, &request, &mut buffer).unwrap();
        assert_eq!(request_bulk(&buffer[..length]), bulk);
        assert_eq!(
            decode_request::<Toy>(&buffer[..length]),
            Incoming::Request(HEADER, ToyRequest::Ping),
            "{bulk:?}"
        );
    }
    let mut notice = [0; MESSAGE_BYTES];
    let length = encode_sent_notice(HEADER, &mut notice);
    assert_eq!(request_bulk(&notice[..length]), BulkField::Sent);
    // Replies: plain, with bytes following, interim.
    let mut buffer = [0; MESSAGE_BYTES];
    let length = encode_reply::<Toy>(7, &Ok(ToyReply::Pong), &mut buffer).unwrap();
    assert_eq!(
        decode_reply_frame::<Toy>(&buffer[..length]),
        Ok(ReplyFrame::Reply(7, Ok(ToyReply::Pong), None))
    );
    let length = encode_reply_bulk::<Toy>(7, 4096, &Ok(ToyReply::Pong), &mut buffer).unwrap();
    assert_eq!(
        decode_reply_frame::<Toy>(&buffer[..length]),
        Ok(ReplyFrame::Reply(7, Ok(ToyReply::Pong), Some(4096)))
    );
    assert_eq!(
        decode_reply_frame::<Toy>(&encode_interim(7, 21)),
        Ok(ReplyFrame::Interim(7, 21))
    );
    // Truncated frames are bad replies, not panics.
    let interim = encode_interim(7, 21);
    for cut in 0..interim.len() {
        assert_eq!(
            decode_reply_frame::<Toy>(&interim[..cut]),
            Err(RpcError::BadReply)
        );
    }
    for cut in 0..length {
        let _ = decode_reply_frame::<Toy>(&buffer[..cut]);
        let _ = request_bulk(&buffer[..cut]);
    }
}

#[test]
fn a_request_too_large_for_a_message_is_carried_beside_it_and_decodes_back() {
    let long = ToyRequest::Shout("x".repeat(4 * MESSAGE_BYTES));
    let body = encode_body::<Toy>(&long).unwrap();
    assert!(body.len() > MESSAGE_BYTES);
    assert_eq!(decode_body::<Toy>(&body), Ok(long));
    for accepts in [None, Some(1 << 16)] {
        let carried = BulkField::Carried {
            length: body.len() as u32,
            accepts,
        };
        let mut buffer = [0; MESSAGE_BYTES];
        let length =
            encode_request_bulk::<Toy>(HEADER, carried, &ToyRequest::Ping, &mut buffer).unwrap();
        // The header alone: two words, the length, and the capacity if any.
        assert_eq!(length, 12 + 4 * usize::from(accepts.is_some()));
        assert_eq!(request_bulk(&buffer[..length]), carried);
        // A carried request's message has no body of its own.
        assert_eq!(
            decode_request::<Toy>(&buffer[..length]),
            Incoming::Refused(HEADER, RpcError::Undecodable)
        );
    }
    // Past CARRIED_MAX it is too large even beside its message.
    let huge = ToyRequest::Shout("x".repeat(CARRIED_MAX));
    assert_eq!(encode_body::<Toy>(&huge), Err(RpcError::TooLarge));
    // A carried body that does not decode is refused as a message's would be.
    assert_eq!(
        decode_body::<Toy>(&[0xff, 0xff, 0xff, 0x0f]),
        Err(RpcError::UnknownOperation(0x1ff_ffff))
    );
    assert_eq!(decode_body::<Toy>(&[1, 2]), Err(RpcError::Undecodable));
}
