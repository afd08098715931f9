//! A single-producer/single-consumer byte ring of length-prefixed frames that lives in
//! memory shared between two processes (or two threads).
//!
//! Layout: a 256-byte header (four cache lines, so the producer's and the consumer's hot
//! words never share a line) followed by `capacity` data bytes, a power of two. `head` and
//! `tail` are free-running byte counters; a frame is a `u32` length and its bytes, padded to
//! 8 bytes. When a frame does not fit before the end of the data area the producer writes a
//! pad marker there and the frame starts again at offset 0 (wrap-around), so every frame is
//! contiguous and can be copied with one `memcpy`.

use crate::futex::Doorbell;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

/// Bytes of the ring header that precedes the data area.
pub const RING_HEADER_BYTES: usize = 256;
/// Length word that marks "skip to the start of the data area".
const PAD_MARKER: u32 = u32::MAX;
/// Alignment of every record in the data area.
const ALIGN: u64 = 8;

/// The shared header of one ring. Field offsets are part of the on-disk format.
#[repr(C, align(64))]
pub struct RingHeader {
    /// Bytes ever written by the producer (free-running).
    pub head: AtomicU64,
    _pad0: [u8; 56],
    /// Bytes ever consumed by the consumer (free-running).
    pub tail: AtomicU64,
    _pad1: [u8; 56],
    /// Non-zero once either side closed the connection.
    pub closed: AtomicU32,
    /// Doorbell the consumer sleeps on when the ring is empty.
    pub bell: Doorbell,
    _pad2: [u8; 52],
    /// Times the producer found no room for a frame (back-pressure events).
    pub overruns: AtomicU64,
    /// Largest fill level, in bytes, the producer ever left behind.
    pub peak_fill: AtomicU64,
    _pad3: [u8; 48],
}

const _: () = assert!(std::mem::size_of::<RingHeader>() == RING_HEADER_BYTES);

/// Bytes a frame of `len` bytes occupies in the data area.
pub fn record_bytes(len: usize) -> u64 {
    (4 + len as u64 + ALIGN - 1) & !(ALIGN - 1)
}

/// Why a frame was not written.
#[derive(Debug, PartialEq, Eq)]
pub enum PushError {
    /// No room now; try again after the consumer drained.
    Full,
    /// The frame can never fit (larger than half the ring).
    TooLarge,
    /// The connection is closed.
    Closed,
}

/// A view of one ring in mapped memory plus side-local cached counters.
///
/// Exactly one `Producer` and one `Consumer` may exist for a ring at any time.
pub struct RingView {
    hdr: *const RingHeader,
    data: *mut u8,
    capacity: u64,
    mask: u64,
    /// Doorbell rung after publishing; usually `hdr.bell`, for requests the listener's.
    notify: *const Doorbell,
}

unsafe impl Send for RingView {}

impl RingView {
    /// Wraps a ring at `base` with `capacity` data bytes; `notify` is the doorbell the
    /// producer rings. Safety: the memory must stay mapped for the view's lifetime.
    pub unsafe fn new(base: *mut u8, capacity: u64, notify: *const Doorbell) -> Self {
        debug_assert!(capacity.is_power_of_two());
        RingView {
            hdr: base as *const RingHeader,
            data: base.add(RING_HEADER_BYTES),
            capacity,
            mask: capacity - 1,
            notify,
        }
    }

    /// Zeroes counters and flags; only valid while no side uses the ring.
    pub fn reset(&self) {
        let h = self.header();
        h.head.store(0, Ordering::Relaxed);
        h.tail.store(0, Ordering::Relaxed);
        h.closed.store(0, Ordering::Relaxed);
        h.overruns.store(0, Ordering::Relaxed);
        h.peak_fill.store(0, Ordering::Relaxed);
        h.bell.reset();
    }

    /// The shared header.
    pub fn header(&self) -> &RingHeader {
        unsafe { &*self.hdr }
    }

    /// Data capacity in bytes.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Bytes currently queued (written, not yet consumed).
    pub fn fill(&self) -> u64 {
        let h = self.header();
        let tail = h.tail.load(Ordering::Acquire);
        h.head.load(Ordering::Acquire).wrapping_sub(tail)
    }

    /// Largest frame this ring accepts.
    pub fn max_frame(&self) -> usize {
        (self.capacity / 2) as usize - 8
    }

    fn notify(&self) -> &Doorbell {
        unsafe { &*self.notify }
    }
}

/// The writing side of a ring.
pub struct Producer {
    ring: RingView,
    head: u64,
    cached_tail: u64,
}

impl Producer {
    /// Takes the producer role; reads the current head so a reconnect resumes correctly.
    pub fn new(ring: RingView) -> Self {
        let head = ring.header().head.load(Ordering::Relaxed);
        let cached_tail = ring.header().tail.load(Ordering::Acquire);
        Producer {
            ring,
            head,
            cached_tail,
        }
    }

    /// The underlying ring.
    pub fn ring(&self) -> &RingView {
        &self.ring
    }

    fn room(&mut self, need: u64) -> bool {
        if self.ring.capacity - self.head.wrapping_sub(self.cached_tail) >= need {
            return true;
        }
        self.cached_tail = self.ring.header().tail.load(Ordering::Acquire);
        self.ring.capacity - self.head.wrapping_sub(self.cached_tail) >= need
    }

    /// Writes one frame without publishing it; call `publish` after a batch.
    pub fn write(&mut self, frame: &[u8]) -> Result<(), PushError> {
        if frame.len() > self.ring.max_frame() {
            return Err(PushError::TooLarge);
        }
        let rec = record_bytes(frame.len());
        let pos = self.head & self.ring.mask;
        let contiguous = self.ring.capacity - pos;
        let need = if rec > contiguous {
            contiguous + rec
        } else {
            rec
        };
        if !self.room(need) {
            return Err(PushError::Full);
        }
        unsafe {
            let mut at = pos;
            if rec > contiguous {
                (self.ring.data.add(pos as usize) as *mut u32).write(PAD_MARKER);
                self.head = self.head.wrapping_add(contiguous);
                at = 0;
            }
            let p = self.ring.data.add(at as usize);
            (p as *mut u32).write(frame.len() as u32);
            std::ptr::copy_nonoverlapping(frame.as_ptr(), p.add(4), frame.len());
        }
        self.head = self.head.wrapping_add(rec);
        Ok(())
    }

    /// Makes written frames visible to the consumer and wakes it if it sleeps.
    pub fn publish(&mut self) {
        let h = self.ring.header();
        h.head.store(self.head, Ordering::Release);
        let fill = self.head.wrapping_sub(self.cached_tail);
        if fill > h.peak_fill.load(Ordering::Relaxed) {
            h.peak_fill.store(fill, Ordering::Relaxed);
        }
        // Pairs with the consumer's fence between announcing it sleeps and re-checking
        // `head`: one of the two sides always sees the other's store (no lost wake-up).
        fence(Ordering::SeqCst);
        self.ring.notify().ring();
    }

    /// Counts one back-pressure event.
    pub fn count_overrun(&self) {
        self.ring.header().overruns.fetch_add(1, Ordering::Relaxed);
    }

    /// Marks the ring closed and wakes the consumer.
    pub fn close(&self) {
        self.ring.header().closed.store(1, Ordering::Release);
        fence(Ordering::SeqCst);
        self.ring.notify().ring();
    }
}

/// The reading side of a ring.
pub struct Consumer {
    ring: RingView,
    tail: u64,
    cached_head: u64,
}

impl Consumer {
    /// Takes the consumer role.
    pub fn new(ring: RingView) -> Self {
        let tail = ring.header().tail.load(Ordering::Relaxed);
        Consumer {
            ring,
            tail,
            cached_head: tail,
        }
    }

    /// The underlying ring.
    pub fn ring(&self) -> &RingView {
        &self.ring
    }

    /// True when a frame is waiting (refreshes the cached head).
    pub fn readable(&mut self) -> bool {
        if self.cached_head != self.tail {
            return true;
        }
        self.cached_head = self.ring.header().head.load(Ordering::Acquire);
        self.cached_head != self.tail
    }

    /// Peeks the next frame, skipping a wrap marker. `None` when empty.
    pub fn peek(&mut self) -> Option<&[u8]> {
        if !self.readable() {
            return None;
        }
        unsafe {
            let mut pos = self.tail & self.ring.mask;
            let mut len = (self.ring.data.add(pos as usize) as *const u32).read();
            if len == PAD_MARKER {
                self.tail = self.tail.wrapping_add(self.ring.capacity - pos);
                if !self.readable() {
                    return None;
                }
                pos = 0;
                len = (self.ring.data as *const u32).read();
            }
            Some(std::slice::from_raw_parts(
                self.ring.data.add(pos as usize + 4),
                len as usize,
            ))
        }
    }

    /// Drops the frame returned by the last `peek` (not yet visible to the producer).
    pub fn advance(&mut self, len: usize) {
        self.tail = self.tail.wrapping_add(record_bytes(len));
    }

    /// Hands consumed space back to the producer.
    pub fn release(&mut self) {
        self.ring.header().tail.store(self.tail, Ordering::Release);
    }

    /// True once the producer closed the ring.
    pub fn closed(&self) -> bool {
        self.ring.header().closed.load(Ordering::Acquire) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(C, align(64))]
    #[derive(Clone, Copy)]
    struct Line([u8; 64]);

    struct Mem {
        buf: Vec<Line>,
    }

    fn ring_pair(capacity: u64, mem: &mut Mem) -> (Producer, Consumer) {
        mem.buf = vec![Line([0; 64]); (RING_HEADER_BYTES as u64 + capacity) as usize / 64];
        let base = mem.buf.as_mut_ptr() as *mut u8;
        let bell = unsafe { &(*(base as *const RingHeader)).bell } as *const Doorbell;
        let p = unsafe { RingView::new(base, capacity, bell) };
        let c = unsafe { RingView::new(base, capacity, bell) };
        (Producer::new(p), Consumer::new(c))
    }

    #[test]
    fn frames_round_trip_in_order_across_many_wraps() {
        let mut mem = Mem { buf: vec![] };
        let (mut p, mut c) = ring_pair(1024, &mut mem);
        let mut next_in = 0u32;
        let mut next_out = 0u32;
        while next_out < 10_000 {
            // Variable sizes so records land at every offset and force pad markers.
            loop {
                let len = (next_in % 97) as usize;
                let frame: Vec<u8> = (0..len).map(|i| (next_in as usize + i) as u8).collect();
                match p.write(&frame) {
                    Ok(()) => next_in += 1,
                    Err(PushError::Full) => break,
                    Err(e) => panic!("{e:?}"),
                }
            }
            p.publish();
            while let Some(f) = c.peek() {
                let len = (next_out % 97) as usize;
                assert_eq!(f.len(), len);
                for (i, b) in f.iter().enumerate() {
                    assert_eq!(*b, (next_out as usize + i) as u8);
                }
                c.advance(len);
                next_out += 1;
            }
            c.release();
        }
        assert!(next_in >= next_out);
    }

    #[test]
    fn full_ring_rejects_and_oversized_frame_is_refused() {
        let mut mem = Mem { buf: vec![] };
        let (mut p, mut c) = ring_pair(256, &mut mem);
        assert_eq!(p.write(&[0u8; 200]), Err(PushError::TooLarge));
        let mut n = 0;
        while p.write(&[7u8; 20]).is_ok() {
            n += 1;
        }
        assert_eq!(n, 256 / record_bytes(20) as usize);
        p.publish();
        assert_eq!(p.ring().fill(), n as u64 * record_bytes(20));
        assert_eq!(c.peek().unwrap(), &[7u8; 20]);
        c.advance(20);
        c.release();
        assert!(p.write(&[1u8; 20]).is_ok());
    }

    #[test]
    fn empty_frames_are_frames() {
        let mut mem = Mem { buf: vec![] };
        let (mut p, mut c) = ring_pair(256, &mut mem);
        p.write(&[]).unwrap();
        p.publish();
        assert_eq!(c.peek().unwrap().len(), 0);
        c.advance(0);
        assert!(c.peek().is_none());
    }
}
