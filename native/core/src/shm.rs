//! The shared-memory transport: one POSIX shm file per listener, holding a small header,
//! a slot table and, per slot, two SPSC rings (requests client->server, responses
//! server->client). A client claims a free slot with a CAS; the server accepts it.
//!
//! File layout (little endian, offsets in bytes):
//! - `0..64`     region header (magic, version, slots, ring bytes, server pid, doorbell)
//! - `64..4096`  slot table, 64 bytes per slot (state, client pid, closers)
//! - `4096..`    slot `i` at `4096 + i * 2 * (256 + ring_bytes)`: request ring, response ring

use crate::futex::Doorbell;
use crate::ring::{Consumer, Producer, PushError, RingView, RING_HEADER_BYTES};
use std::ffi::CString;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// `ARQNSHM1` as a little-endian u64.
pub const MAGIC: u64 = u64::from_le_bytes(*b"ARQNSHM1");
/// On-disk format version.
pub const VERSION: u32 = 1;
/// Most slots (connections) one listener file holds.
pub const MAX_SLOTS: u32 = 63;
const TABLE_OFFSET: usize = 64;
const DATA_OFFSET: usize = 4096;

const SLOT_FREE: u32 = 0;
const SLOT_CLAIMED: u32 = 1;
const SLOT_ACTIVE: u32 = 2;

#[repr(C)]
struct RegionHeader {
    magic: AtomicU64,
    version: u32,
    slots: u32,
    ring_bytes: u32,
    server_pid: AtomicU32,
    listener_closed: AtomicU32,
    _pad0: u32,
    /// Rung by clients on every publish, connect and close: the server sleeps on it.
    bell: Doorbell,
    _pad1: [u8; 24],
}

#[repr(C)]
struct SlotHeader {
    state: AtomicU32,
    client_pid: AtomicU32,
    /// How many sides closed; the second one returns the slot to the free list.
    closers: AtomicU32,
    _pad: [u8; 52],
}

const _: () = assert!(std::mem::size_of::<RegionHeader>() == 64);
const _: () = assert!(std::mem::size_of::<SlotHeader>() == 64);

/// Errors of the shm transport, with the codes the C ABI returns.
#[derive(Debug)]
pub enum ShmError {
    /// Bad name or parameters.
    Invalid(String),
    /// An operating-system call failed.
    Os(String, std::io::Error),
    /// Another live server owns the name.
    InUse(u32),
    /// The file is not an ArqonBus shm listener, or another version.
    BadFormat,
    /// The listener's server is gone or closed.
    NoServer,
    /// Every slot is taken.
    NoSlot,
}

impl std::fmt::Display for ShmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShmError::Invalid(m) => write!(f, "invalid argument: {m}"),
            ShmError::Os(what, e) => write!(f, "{what}: {e}"),
            ShmError::InUse(pid) => write!(f, "shm name in use by live process {pid}"),
            ShmError::BadFormat => write!(f, "not an ArqonBus shm listener (magic or version)"),
            ShmError::NoServer => write!(
                f,
                "no server: the listener is closed or its process is gone"
            ),
            ShmError::NoSlot => write!(f, "all connection slots are taken"),
        }
    }
}

fn os(what: &str) -> ShmError {
    ShmError::Os(what.to_string(), std::io::Error::last_os_error())
}

/// True unless `pid` certainly no longer exists.
pub fn pid_alive(pid: u32) -> bool {
    if pid == 0 {
        return true;
    }
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

fn shm_path(name: &str) -> Result<CString, ShmError> {
    if name.is_empty() || name.len() > 200 || name.contains('/') || name.contains('\0') {
        return Err(ShmError::Invalid(format!(
            "shm name {name:?} (1-200 chars, no '/')"
        )));
    }
    Ok(CString::new(format!("/{name}")).unwrap())
}

/// One mapping of a listener file.
struct Region {
    base: *mut u8,
    len: usize,
    path: CString,
}

unsafe impl Send for Region {}
unsafe impl Sync for Region {}

impl Drop for Region {
    fn drop(&mut self) {
        unsafe { libc::munmap(self.base as *mut libc::c_void, self.len) };
    }
}

impl Region {
    fn map(fd: libc::c_int, len: usize) -> Result<*mut u8, ShmError> {
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(os("mmap"));
        }
        Ok(p as *mut u8)
    }

    fn header(&self) -> &RegionHeader {
        unsafe { &*(self.base as *const RegionHeader) }
    }

    fn slot(&self, i: u32) -> &SlotHeader {
        unsafe { &*(self.base.add(TABLE_OFFSET + i as usize * 64) as *const SlotHeader) }
    }

    fn ring_span(&self) -> usize {
        RING_HEADER_BYTES + self.header().ring_bytes as usize
    }

    /// Views of slot `i`'s (request, response) rings.
    fn rings(&self, i: u32) -> (RingView, RingView) {
        let span = self.ring_span();
        let cap = self.header().ring_bytes as u64;
        unsafe {
            let req = self.base.add(DATA_OFFSET + i as usize * 2 * span);
            let resp = req.add(span);
            let resp_bell = &(*(resp as *const crate::ring::RingHeader)).bell as *const Doorbell;
            (
                RingView::new(req, cap, &self.header().bell),
                RingView::new(resp, cap, resp_bell),
            )
        }
    }
}

fn total_len(slots: u32, ring_bytes: u32) -> usize {
    DATA_OFFSET + slots as usize * 2 * (RING_HEADER_BYTES + ring_bytes as usize)
}

/// The server side of a shm name: accepts connections into its slots.
pub struct Listener {
    region: Arc<Region>,
    pid: u32,
}

impl Listener {
    /// Creates (or takes over from a dead owner) the shm file `/dev/shm/<name>`.
    /// `ring_bytes` is rounded up to a power of two (4 KiB .. 1 GiB).
    pub fn create(name: &str, slots: u32, ring_bytes: u32) -> Result<Listener, ShmError> {
        if slots == 0 || slots > MAX_SLOTS {
            return Err(ShmError::Invalid(format!(
                "slots {slots} (1..={MAX_SLOTS})"
            )));
        }
        let ring_bytes = ring_bytes.clamp(4096, 1 << 30).next_power_of_two();
        let path = shm_path(name)?;
        let pid = std::process::id();
        if let Ok(old) = Client::open_region(name) {
            let owner = old.header().server_pid.load(Ordering::Acquire);
            if owner != pid
                && pid_alive(owner)
                && old.header().listener_closed.load(Ordering::Acquire) == 0
            {
                return Err(ShmError::InUse(owner));
            }
        }
        unsafe { libc::shm_unlink(path.as_ptr()) };
        let fd = unsafe {
            libc::shm_open(
                path.as_ptr(),
                libc::O_RDWR | libc::O_CREAT | libc::O_EXCL,
                0o600,
            )
        };
        if fd < 0 {
            return Err(os("shm_open"));
        }
        let len = total_len(slots, ring_bytes);
        // Reserve the pages now: on a small tmpfs (a container's 64 MB /dev/shm) this fails
        // here with ENOSPC instead of a SIGBUS when a ring first touches a missing page.
        let reserved = unsafe { libc::posix_fallocate(fd, 0, len as libc::off_t) };
        let mapped = if reserved != 0 {
            Err(ShmError::Os(
                format!("reserving {len} bytes in /dev/shm (fewer slots or smaller rings?)"),
                std::io::Error::from_raw_os_error(reserved),
            ))
        } else {
            Region::map(fd, len)
        };
        unsafe { libc::close(fd) };
        let base = match mapped {
            Ok(b) => b,
            Err(e) => {
                unsafe { libc::shm_unlink(path.as_ptr()) };
                return Err(e);
            }
        };
        let region = Region { base, len, path };
        unsafe {
            let h = base as *mut RegionHeader;
            (*h).version = VERSION;
            (*h).slots = slots;
            (*h).ring_bytes = ring_bytes;
        }
        region.header().server_pid.store(pid, Ordering::Relaxed);
        // Clients check the magic last, so it is written after everything else.
        region.header().magic.store(MAGIC, Ordering::Release);
        Ok(Listener {
            region: Arc::new(region),
            pid,
        })
    }

    /// Returns a newly claimed connection, if any.
    pub fn accept(&self) -> Option<Endpoint> {
        let r = &self.region;
        for i in 0..r.header().slots {
            let s = r.slot(i);
            if s.state.load(Ordering::Acquire) == SLOT_CLAIMED
                && s.state
                    .compare_exchange(
                        SLOT_CLAIMED,
                        SLOT_ACTIVE,
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    )
                    .is_ok()
            {
                let (req, resp) = r.rings(i);
                let peer = s.client_pid.load(Ordering::Acquire);
                return Some(Endpoint::new(
                    r.clone(),
                    i,
                    Producer::new(resp),
                    Consumer::new(req),
                    peer,
                    true,
                ));
            }
        }
        None
    }

    /// True when a connection waits to be accepted or an active one has input or closed.
    pub fn ready(&self) -> bool {
        let r = &self.region;
        for i in 0..r.header().slots {
            match r.slot(i).state.load(Ordering::Acquire) {
                SLOT_CLAIMED => return true,
                SLOT_ACTIVE => {
                    let (req, _) = r.rings(i);
                    let h = req.header();
                    if h.head.load(Ordering::Acquire) != h.tail.load(Ordering::Acquire)
                        || h.closed.load(Ordering::Acquire) != 0
                    {
                        return true;
                    }
                }
                _ => {}
            }
        }
        false
    }

    /// Sleeps until `ready()` or the timeout; spins `spin` first.
    pub fn wait(&self, spin: Duration, timeout: Duration) -> bool {
        self.region
            .header()
            .bell
            .wait(spin, timeout, || self.ready())
    }

    /// Number of slots and data bytes per ring.
    pub fn geometry(&self) -> (u32, u32) {
        let h = self.region.header();
        (h.slots, h.ring_bytes)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let h = self.region.header();
        h.listener_closed.store(1, Ordering::Release);
        // Only remove the name if it is still ours (a successor may have taken it over).
        if h.server_pid.load(Ordering::Acquire) == self.pid {
            unsafe { libc::shm_unlink(self.region.path.as_ptr()) };
        }
    }
}

/// Opening a listener from the client side.
pub struct Client;

impl Client {
    fn open_region(name: &str) -> Result<Region, ShmError> {
        let path = shm_path(name)?;
        let fd = unsafe { libc::shm_open(path.as_ptr(), libc::O_RDWR, 0) };
        if fd < 0 {
            return Err(os("shm_open"));
        }
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let res = if unsafe { libc::fstat(fd, &mut st) } != 0 {
            Err(os("fstat"))
        } else if (st.st_size as usize) < DATA_OFFSET {
            Err(ShmError::BadFormat)
        } else {
            Region::map(fd, st.st_size as usize)
        };
        unsafe { libc::close(fd) };
        let base = res?;
        let region = Region {
            base,
            len: st.st_size as usize,
            path,
        };
        let h = region.header();
        if h.magic.load(Ordering::Acquire) != MAGIC
            || h.version != VERSION
            || h.slots == 0
            || h.slots > MAX_SLOTS
            || total_len(h.slots, h.ring_bytes) != region.len
        {
            return Err(ShmError::BadFormat);
        }
        Ok(region)
    }

    /// Connects to the listener `name`: claims a free slot and returns the client end.
    pub fn connect(name: &str) -> Result<Endpoint, ShmError> {
        let region = Arc::new(Client::open_region(name)?);
        let h = region.header();
        if h.listener_closed.load(Ordering::Acquire) != 0
            || !pid_alive(h.server_pid.load(Ordering::Acquire))
        {
            return Err(ShmError::NoServer);
        }
        for i in 0..h.slots {
            let s = region.slot(i);
            if s.state
                .compare_exchange(SLOT_FREE, SLOT_CLAIMED, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                s.client_pid.store(std::process::id(), Ordering::Release);
                let (req, resp) = region.rings(i);
                let server = h.server_pid.load(Ordering::Acquire);
                let ep = Endpoint::new(
                    region.clone(),
                    i,
                    Producer::new(req),
                    Consumer::new(resp),
                    server,
                    false,
                );
                fence(Ordering::SeqCst);
                h.bell.ring();
                return Ok(ep);
            }
        }
        Err(ShmError::NoSlot)
    }
}

/// Counters kept by one side of a connection.
#[derive(Default, Clone, Copy)]
pub struct EndpointCounters {
    /// Frames and bytes handed to the ring.
    pub frames_sent: u64,
    /// Payload bytes sent.
    pub bytes_sent: u64,
    /// Frames taken from the ring.
    pub frames_received: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Send calls that wrote at least one frame.
    pub send_batches: u64,
    /// Receive calls that returned at least one frame.
    pub recv_batches: u64,
}

/// Result of a send or receive call.
#[derive(Debug, PartialEq, Eq)]
pub enum IoError {
    /// The peer closed (or died) and, for receive, nothing is left to read.
    Closed,
    /// A frame exceeds the ring's limit, or the receive buffer cannot hold the next frame.
    TooLarge,
    /// The packed batch is malformed (length runs past the end).
    Malformed,
}

/// One side of a connection: sends on one ring, receives on the other.
pub struct Endpoint {
    region: Arc<Region>,
    slot: u32,
    tx: Producer,
    rx: Consumer,
    peer_pid: u32,
    server: bool,
    closed: bool,
    /// Local counters.
    pub counters: EndpointCounters,
}

impl Endpoint {
    fn new(
        region: Arc<Region>,
        slot: u32,
        tx: Producer,
        rx: Consumer,
        peer_pid: u32,
        server: bool,
    ) -> Self {
        Endpoint {
            region,
            slot,
            tx,
            rx,
            peer_pid,
            server,
            closed: false,
            counters: Default::default(),
        }
    }

    /// The slot index inside the listener file.
    pub fn slot(&self) -> u32 {
        self.slot
    }

    /// Process id of the other side.
    pub fn peer_pid(&self) -> u32 {
        self.peer_pid
    }

    /// Largest frame accepted.
    pub fn max_frame(&self) -> usize {
        self.tx.ring().max_frame()
    }

    /// True once either side closed the connection (two loads, no system call).
    pub fn peer_closed(&self) -> bool {
        self.tx.ring().header().closed.load(Ordering::Acquire) != 0 || self.rx.closed()
    }

    /// True once the connection closed or the peer's process is gone (one `kill(pid, 0)`:
    /// call it periodically, not per frame).
    pub fn peer_gone(&self) -> bool {
        self.peer_closed() || !pid_alive(self.peer_pid)
    }

    /// Sends frames packed as `[u32 little-endian length][bytes]...`; writes whole frames
    /// until the ring is full and returns the bytes of `batch` consumed.
    pub fn send_packed(&mut self, batch: &[u8]) -> Result<usize, IoError> {
        if self.closed || self.tx.ring().header().closed.load(Ordering::Acquire) != 0 {
            return Err(IoError::Closed);
        }
        let mut off = 0usize;
        let mut frames = 0u64;
        let mut bytes = 0u64;
        while off + 4 <= batch.len() {
            let len = u32::from_le_bytes(batch[off..off + 4].try_into().unwrap()) as usize;
            if off + 4 + len > batch.len() {
                if frames == 0 {
                    return Err(IoError::Malformed);
                }
                break;
            }
            match self.tx.write(&batch[off + 4..off + 4 + len]) {
                Ok(()) => {
                    off += 4 + len;
                    frames += 1;
                    bytes += len as u64;
                }
                Err(PushError::Full) => {
                    self.tx.count_overrun();
                    break;
                }
                Err(PushError::TooLarge) if frames == 0 => return Err(IoError::TooLarge),
                Err(_) => break,
            }
        }
        if frames > 0 {
            self.tx.publish();
            self.counters.frames_sent += frames;
            self.counters.bytes_sent += bytes;
            self.counters.send_batches += 1;
        }
        Ok(off)
    }

    /// Sends one frame; `Ok(false)` when the ring has no room now.
    pub fn send_one(&mut self, frame: &[u8]) -> Result<bool, IoError> {
        if self.closed || self.tx.ring().header().closed.load(Ordering::Acquire) != 0 {
            return Err(IoError::Closed);
        }
        match self.tx.write(frame) {
            Ok(()) => {
                self.tx.publish();
                self.counters.frames_sent += 1;
                self.counters.bytes_sent += frame.len() as u64;
                self.counters.send_batches += 1;
                Ok(true)
            }
            Err(PushError::Full) => {
                self.tx.count_overrun();
                Ok(false)
            }
            Err(PushError::TooLarge) => Err(IoError::TooLarge),
            Err(PushError::Closed) => Err(IoError::Closed),
        }
    }

    /// Copies waiting frames into `out` packed as `[u32 length][bytes]...`; returns bytes
    /// written, 0 when nothing is waiting.
    pub fn recv_packed(&mut self, out: &mut [u8]) -> Result<usize, IoError> {
        let mut off = 0usize;
        let mut frames = 0u64;
        while let Some(f) = self.rx.peek() {
            let len = f.len();
            if off + 4 + len > out.len() {
                if frames == 0 {
                    return Err(IoError::TooLarge);
                }
                break;
            }
            out[off..off + 4].copy_from_slice(&(len as u32).to_le_bytes());
            out[off + 4..off + 4 + len].copy_from_slice(f);
            self.rx.advance(len);
            off += 4 + len;
            frames += 1;
        }
        if frames == 0 {
            if self.closed || self.peer_closed() {
                // Re-check after seeing the close flag: frames written before it count.
                if self.rx.readable() {
                    return self.recv_packed(out);
                }
                return Err(IoError::Closed);
            }
            return Ok(0);
        }
        self.rx.release();
        self.counters.frames_received += frames;
        self.counters.bytes_received += (off as u64) - 4 * frames;
        self.counters.recv_batches += 1;
        Ok(off)
    }

    /// Calls `f` on each waiting frame (zero-copy) up to `max` frames; returns the count.
    pub fn recv_each(&mut self, max: usize, mut f: impl FnMut(&[u8])) -> usize {
        let mut n = 0;
        let mut bytes = 0u64;
        while n < max {
            let frame = match self.rx.peek() {
                Some(frame) => frame,
                _ => break,
            };
            let len = frame.len();
            f(frame);
            self.rx.advance(len);
            n += 1;
            bytes += len as u64;
        }
        if n > 0 {
            self.rx.release();
            self.counters.frames_received += n as u64;
            self.counters.bytes_received += bytes;
            self.counters.recv_batches += 1;
        }
        n
    }

    /// Waits until a frame is readable (1), the peer closed (-1) or the timeout (0).
    pub fn wait(&mut self, spin: Duration, timeout: Duration) -> i32 {
        // The server's receive ring rings the listener's doorbell; the client's its own.
        let region = self.region.clone();
        let resp_hdr = unsafe { &*(self.rx.ring().header() as *const crate::ring::RingHeader) };
        let bell: &Doorbell = if self.server {
            &region.header().bell
        } else {
            &resp_hdr.bell
        };
        let ok = bell.wait(spin, timeout, || self.rx.readable() || self.rx.closed());
        if self.rx.readable() {
            1
        } else if ok || self.peer_closed() {
            -1
        } else {
            0
        }
    }

    /// Bytes queued in the outgoing and incoming rings.
    pub fn fill(&self) -> (u64, u64) {
        (self.tx.ring().fill(), self.rx.ring().fill())
    }

    /// Data bytes per ring.
    pub fn capacity(&self) -> u64 {
        self.tx.ring().capacity()
    }

    /// Outgoing ring's peak fill and overrun count.
    pub fn tx_pressure(&self) -> (u64, u64) {
        let h = self.tx.ring().header();
        (
            h.peak_fill.load(Ordering::Relaxed),
            h.overruns.load(Ordering::Relaxed),
        )
    }

    /// Closes this side. The second side to close (or a side whose peer died) returns
    /// the slot to the free list.
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.tx.close();
        self.rx.ring().header().closed.store(1, Ordering::Release);
        fence(Ordering::SeqCst);
        self.region.header().bell.ring();
        self.rx.ring().header().bell.ring();
        self.tx.ring().header().bell.ring();
        let s = self.region.slot(self.slot);
        let prev = s.closers.fetch_add(1, Ordering::AcqRel);
        if prev >= 1 || !pid_alive(self.peer_pid) {
            let (req, resp) = self.region.rings(self.slot);
            req.reset();
            resp.reset();
            s.client_pid.store(0, Ordering::Relaxed);
            s.closers.store(0, Ordering::Relaxed);
            s.state.store(SLOT_FREE, Ordering::Release);
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unique(tag: &str) -> String {
        format!("arqon-test-{tag}-{}", std::process::id())
    }

    fn pack(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut out = vec![];
        for f in frames {
            out.extend_from_slice(&(f.len() as u32).to_le_bytes());
            out.extend_from_slice(f);
        }
        out
    }

    fn unpack(buf: &[u8]) -> Vec<Vec<u8>> {
        let mut out = vec![];
        let mut off = 0;
        while off < buf.len() {
            let len = u32::from_le_bytes(buf[off..off + 4].try_into().unwrap()) as usize;
            out.push(buf[off + 4..off + 4 + len].to_vec());
            off += 4 + len;
        }
        out
    }

    #[test]
    fn connect_accept_exchange_both_directions() {
        let name = unique("xchg");
        let l = Listener::create(&name, 4, 4096).unwrap();
        assert!(l.accept().is_none());
        let mut c = Client::connect(&name).unwrap();
        assert!(l.ready());
        let mut s = l.accept().unwrap();
        assert_eq!(s.slot(), c.slot());
        let frames: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; i as usize * 3]).collect();
        let batch = pack(&frames);
        assert_eq!(c.send_packed(&batch).unwrap(), batch.len());
        let mut out = vec![0u8; 65536];
        let n = s.recv_packed(&mut out).unwrap();
        assert_eq!(unpack(&out[..n]), frames);
        assert_eq!(s.send_packed(&batch).unwrap(), batch.len());
        let n = c.recv_packed(&mut out).unwrap();
        assert_eq!(unpack(&out[..n]), frames);
        assert_eq!(s.counters.frames_received, 10);
        assert_eq!(c.counters.frames_sent, 10);
    }

    #[test]
    fn close_is_seen_after_pending_frames_and_frees_the_slot() {
        let name = unique("close");
        let l = Listener::create(&name, 1, 4096).unwrap();
        let mut c = Client::connect(&name).unwrap();
        assert!(matches!(Client::connect(&name), Err(ShmError::NoSlot)));
        let mut s = l.accept().unwrap();
        c.send_packed(&pack(&[b"last".to_vec()])).unwrap();
        c.close();
        let mut out = vec![0u8; 1024];
        let n = s.recv_packed(&mut out).unwrap();
        assert_eq!(unpack(&out[..n]), vec![b"last".to_vec()]);
        assert_eq!(s.recv_packed(&mut out), Err(IoError::Closed));
        assert_eq!(s.send_packed(&pack(&[b"x".to_vec()])), Err(IoError::Closed));
        drop(s);
        // The slot is free again and a fresh connection starts with empty rings.
        let mut c2 = Client::connect(&name).unwrap();
        let mut s2 = l.accept().unwrap();
        assert_eq!(s2.recv_packed(&mut out).unwrap(), 0);
        c2.send_packed(&pack(&[b"again".to_vec()])).unwrap();
        let n = s2.recv_packed(&mut out).unwrap();
        assert_eq!(unpack(&out[..n]), vec![b"again".to_vec()]);
    }

    #[test]
    fn full_ring_counts_overruns_and_partial_batches_resume() {
        let name = unique("full");
        let l = Listener::create(&name, 1, 4096).unwrap();
        let mut c = Client::connect(&name).unwrap();
        let mut s = l.accept().unwrap();
        let frames: Vec<Vec<u8>> = (0..200u32).map(|i| i.to_le_bytes().repeat(15)).collect();
        let batch = pack(&frames);
        let mut sent = 0;
        let mut got = vec![];
        let mut out = vec![0u8; 1000];
        while got.len() < frames.len() {
            sent += c.send_packed(&batch[sent..]).unwrap();
            let n = s.recv_packed(&mut out).unwrap();
            got.extend(unpack(&out[..n]));
        }
        assert_eq!(got, frames);
        assert!(
            c.tx_pressure().1 > 0,
            "a 4 KiB ring must overrun on a 12 KiB batch"
        );
    }

    #[test]
    fn bad_names_slot_counts_and_absent_listeners_are_rejected() {
        let name = unique("inuse");
        let _l = Listener::create(&name, 1, 4096).unwrap();
        assert!(Listener::create("bad/name", 1, 4096).is_err());
        assert!(Listener::create(&name, 0, 4096).is_err());
        assert!(matches!(
            Client::connect("arqon-test-absent-name"),
            Err(ShmError::Os(..))
        ));
    }

    #[test]
    fn cross_thread_wait_wakes_on_data() {
        let name = unique("wait");
        let l = Listener::create(&name, 1, 1 << 16).unwrap();
        let mut c = Client::connect(&name).unwrap();
        let mut s = l.accept().unwrap();
        let t = std::thread::spawn(move || {
            let mut total = 0u64;
            let mut count = 0u32;
            let mut out = vec![0u8; 65536];
            while count < 100_000 {
                match s.wait(Duration::from_micros(5), Duration::from_secs(5)) {
                    1 => {
                        let n = s.recv_packed(&mut out).unwrap();
                        for f in unpack(&out[..n]) {
                            assert_eq!(u32::from_le_bytes(f[..4].try_into().unwrap()), count);
                            total += f.len() as u64;
                            count += 1;
                        }
                    }
                    r => panic!("wait returned {r} at {count}"),
                }
            }
            total
        });
        let mut i = 0u32;
        while i < 100_000 {
            let f = i.to_le_bytes().repeat(1 + (i % 8) as usize);
            if c.send_one(&f).unwrap() {
                i += 1;
            } else {
                std::thread::yield_now();
            }
        }
        let expect: u64 = (0..100_000u64).map(|i| 4 * (1 + i % 8)).sum();
        assert_eq!(t.join().unwrap(), expect);
    }
}
