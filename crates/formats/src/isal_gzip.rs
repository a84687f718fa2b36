//! A gzip reader on ISA-L's inflate, fed from a large input buffer.
//!
//! `isal-rs`'s reader refills a 16 KiB input buffer before every call into ISA-L. Each call
//! that ends for want of input first decodes into ISA-L's own window and copies it out, then
//! saves the last 32 KiB of output as history: with 16 KiB of input (about 120 KiB of CSV)
//! per call that is half as many bytes copied again as decoded. Here a call gets a whole
//! mebibyte of input, so it normally ends only when the caller's buffer is full, and the file
//! is read in mebibyte `read`s straight into that buffer.

#![allow(unsafe_code)]

use std::fs::File;
use std::io::{self, Read};

use isal::isal_sys::igzip_lib as ffi;

use crate::source::read_up_to;

/// Compressed bytes read from the file at a time.
const INPUT_BYTES: usize = 1 << 20;

/// Decodes every gzip member of a file (AWS and `gzip -c a b` write several) as one stream,
/// checking each member's CRC-32 and length.
pub(crate) struct IsalGzip {
    file: File,
    /// Compressed bytes; ISA-L's `next_in`/`avail_in` point into it.
    input: Vec<u8>,
    /// The file has no more bytes.
    file_ended: bool,
    /// ISA-L's state, boxed: 66 KiB, and read by pointer across calls.
    state: Box<ffi::inflate_state>,
}

// SAFETY: the state's raw pointers are `next_in`, which points into `self.input` (a heap
// buffer that lives, unmoved, as long as `self`), and `next_out`, which is set to the
// caller's buffer at every call and never read after it. ISA-L keeps nothing per thread, so
// a decoder read by one thread after another, never by two at once (`&mut` access), decodes
// as on one thread.
unsafe impl Send for IsalGzip {}

impl IsalGzip {
    pub(crate) fn new(file: File) -> IsalGzip {
        // SAFETY: `inflate_state` is a C struct of integers, arrays and raw pointers, for
        // which all-zero bytes are a valid value; `isal_inflate_init` then sets it up.
        let mut state: Box<ffi::inflate_state> = unsafe { Box::new_zeroed().assume_init() };
        // SAFETY: `state` is a valid, exclusively borrowed `inflate_state`.
        unsafe { ffi::isal_inflate_init(&mut *state) };
        state.crc_flag = ffi::IGZIP_GZIP;
        state.next_in = std::ptr::null_mut();
        state.avail_in = 0;
        IsalGzip {
            file,
            input: vec![0; INPUT_BYTES],
            file_ended: false,
            state,
        }
    }

    /// Reads the next compressed bytes once ISA-L has taken all it was given.
    fn refill(&mut self) -> io::Result<()> {
        if self.state.avail_in > 0 || self.file_ended {
            return Ok(());
        }
        let n = read_up_to(&mut self.file, &mut self.input)?;
        self.file_ended = n < self.input.len();
        self.state.next_in = self.input.as_mut_ptr();
        self.state.avail_in = n as u32;
        Ok(())
    }

    fn member_ended(&self) -> bool {
        self.state.block_state == ffi::isal_block_state_ISAL_BLOCK_FINISH
    }
}

fn corrupt(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

fn decode_error(code: i32) -> io::Error {
    corrupt(match code {
        ffi::ISAL_INVALID_BLOCK => "invalid deflate block".into(),
        ffi::ISAL_INVALID_SYMBOL => "invalid deflate symbol".into(),
        ffi::ISAL_INVALID_LOOKBACK => "invalid back-reference distance".into(),
        ffi::ISAL_INVALID_WRAPPER => "invalid gzip header".into(),
        ffi::ISAL_UNSUPPORTED_METHOD => "not deflate-compressed".into(),
        ffi::ISAL_INCORRECT_CHECKSUM => {
            "CRC-32 or length check failed: the decoded bytes are not what was compressed".into()
        }
        other => format!("ISA-L inflate failed (code {other})"),
    })
}

impl Read for IsalGzip {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let out_len = buf.len().min(u32::MAX as usize);
        let mut stalled = false;
        loop {
            self.refill()?;
            if self.member_ended() {
                if self.state.avail_in == 0 {
                    return Ok(0);
                }
                // Another member follows. The reset keeps `next_in`/`avail_in`.
                // SAFETY: a valid, exclusively borrowed state.
                unsafe { ffi::isal_inflate_reset(&mut *self.state) };
            }
            let (before_in, before_block) = (self.state.avail_in, self.state.block_state);
            self.state.next_out = buf.as_mut_ptr();
            self.state.avail_out = out_len as u32;
            // SAFETY: `next_in` points at `avail_in` bytes of `self.input` (or is null with 0),
            // `next_out` at `avail_out` writable bytes of `buf`, both live through the call.
            let code = unsafe { ffi::isal_inflate(&mut *self.state) };
            let written = out_len - self.state.avail_out as usize;
            self.state.next_out = std::ptr::null_mut();
            self.state.avail_out = 0;
            if code < 0 {
                return Err(decode_error(code));
            }
            if written > 0 {
                return Ok(written);
            }
            if self.member_ended() {
                continue;
            }
            if self.state.avail_in == 0 && self.file_ended {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the gzip stream ends early: the file is truncated",
                ));
            }
            // A call that neither takes input nor moves on writes nothing ever again: ISA-L
            // does so on some damaged headers instead of failing.
            let moved = self.state.avail_in != before_in || self.state.block_state != before_block;
            if moved {
                stalled = false;
            } else if stalled {
                return Err(corrupt("the gzip data makes no progress".into()));
            } else {
                stalled = true;
            }
        }
    }
}
