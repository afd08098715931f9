//! ArqonBus native sidecar core: shared-memory SPSC rings and UDP batches behind a C ABI
//! (`native/include/arqon_native.h`), loaded by the node with `Deno.dlopen`.
//!
//! Conventions of the ABI: handles are opaque pointers, NULL on failure with the reason in
//! `arqon_last_error`; batches are frames packed as `[u32 little-endian length][bytes]...`;
//! calls returning `int32_t` give a byte count (>= 0) or a negative `ARQON_E_*` code.

pub mod bench;
pub mod futex;
pub mod ring;
pub mod shm;
pub mod udp;

use libc::c_char;
use std::cell::RefCell;
use std::ffi::CStr;
use std::time::Duration;

/// The peer closed (or died) and nothing is left to read.
pub const ARQON_E_CLOSED: i32 = -1;
/// A frame is too large for the ring / datagram, or the output buffer is too small.
pub const ARQON_E_TOO_LARGE: i32 = -2;
/// Bad argument (NULL handle, malformed batch).
pub const ARQON_E_INVALID: i32 = -3;
/// An operating-system call failed (see `arqon_last_error`).
pub const ARQON_E_OS: i32 = -4;

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

fn set_error(msg: impl Into<String>) {
    LAST_ERROR.with(|e| *e.borrow_mut() = msg.into());
}

unsafe fn str_arg<'a>(p: *const c_char) -> Option<&'a str> {
    if p.is_null() {
        set_error("NULL string argument");
        return None;
    }
    match CStr::from_ptr(p).to_str() {
        Ok(s) => Some(s),
        Err(_) => {
            set_error("string argument is not UTF-8");
            None
        }
    }
}

unsafe fn bytes<'a>(p: *const u8, len: u32) -> &'a [u8] {
    if p.is_null() || len == 0 {
        &[]
    } else {
        std::slice::from_raw_parts(p, len as usize)
    }
}

unsafe fn bytes_mut<'a>(p: *mut u8, len: u32) -> &'a mut [u8] {
    if p.is_null() || len == 0 {
        &mut []
    } else {
        std::slice::from_raw_parts_mut(p, len as usize)
    }
}

/// ABI version: bumped on any incompatible change of this header.
#[no_mangle]
pub extern "C" fn arqon_abi_version() -> u32 {
    1
}

/// Copies the calling thread's last error message (UTF-8, not NUL-terminated) into `buf`;
/// returns its full length.
#[no_mangle]
pub unsafe extern "C" fn arqon_last_error(buf: *mut u8, cap: u32) -> u32 {
    LAST_ERROR.with(|e| {
        let e = e.borrow();
        let out = bytes_mut(buf, cap);
        let n = out.len().min(e.len());
        out[..n].copy_from_slice(&e.as_bytes()[..n]);
        e.len() as u32
    })
}

// ---------------------------------------------------------------------------- shm

/// Creates the listener `/dev/shm/<name>` with `slots` connections of two rings of
/// `ring_bytes` each (rounded up to a power of two). NULL on failure.
#[no_mangle]
pub unsafe extern "C" fn arqon_shm_listen(
    name: *const c_char,
    slots: u32,
    ring_bytes: u32,
) -> *mut shm::Listener {
    let name = match str_arg(name) {
        Some(name) => name,
        _ => {
            return std::ptr::null_mut();
        }
    };
    match shm::Listener::create(name, slots, ring_bytes) {
        Ok(l) => Box::into_raw(Box::new(l)),
        Err(e) => {
            set_error(e.to_string());
            std::ptr::null_mut()
        }
    }
}

/// Returns the next connection waiting to be accepted, or NULL when none is.
#[no_mangle]
pub unsafe extern "C" fn arqon_shm_accept(l: *mut shm::Listener) -> *mut shm::Endpoint {
    match l.as_ref().and_then(|l| l.accept()) {
        Some(ep) => Box::into_raw(Box::new(ep)),
        None => std::ptr::null_mut(),
    }
}

/// Sleeps until a connection is waiting, an accepted one has input or closed (1), or the
/// timeout (0). Spins `spin_us` first.
#[no_mangle]
pub unsafe extern "C" fn arqon_shm_listener_wait(
    l: *mut shm::Listener,
    spin_us: u32,
    timeout_us: u32,
) -> i32 {
    match l.as_ref() {
        Some(l) => l.wait(
            Duration::from_micros(spin_us as u64),
            Duration::from_micros(timeout_us as u64),
        ) as i32,
        None => ARQON_E_INVALID,
    }
}

/// Closes the listener and removes its name; accepted endpoints stay usable until closed.
#[no_mangle]
pub unsafe extern "C" fn arqon_shm_listener_close(l: *mut shm::Listener) {
    if !l.is_null() {
        drop(Box::from_raw(l));
    }
}

/// Connects to the listener `name` (client side). NULL on failure.
#[no_mangle]
pub unsafe extern "C" fn arqon_shm_connect(name: *const c_char) -> *mut shm::Endpoint {
    let name = match str_arg(name) {
        Some(name) => name,
        _ => {
            return std::ptr::null_mut();
        }
    };
    match shm::Client::connect(name) {
        Ok(ep) => Box::into_raw(Box::new(ep)),
        Err(e) => {
            set_error(e.to_string());
            std::ptr::null_mut()
        }
    }
}

/// Sends the packed frames of `batch`; returns the bytes consumed (whole frames; fewer than
/// `len` when the ring is full) or `ARQON_E_CLOSED` / `ARQON_E_TOO_LARGE` / `ARQON_E_INVALID`.
#[no_mangle]
pub unsafe extern "C" fn arqon_shm_send(ep: *mut shm::Endpoint, batch: *const u8, len: u32) -> i32 {
    let ep = match ep.as_mut() {
        Some(ep) => ep,
        _ => {
            return ARQON_E_INVALID;
        }
    };
    match ep.send_packed(bytes(batch, len)) {
        Ok(n) => n as i32,
        Err(shm::IoError::Closed) => ARQON_E_CLOSED,
        Err(shm::IoError::TooLarge) => ARQON_E_TOO_LARGE,
        Err(shm::IoError::Malformed) => ARQON_E_INVALID,
    }
}

/// Receives waiting frames into `out` (packed); returns bytes written, 0 when nothing is
/// waiting, `ARQON_E_CLOSED` once the peer closed and the ring is drained.
#[no_mangle]
pub unsafe extern "C" fn arqon_shm_recv(ep: *mut shm::Endpoint, out: *mut u8, cap: u32) -> i32 {
    let ep = match ep.as_mut() {
        Some(ep) => ep,
        _ => {
            return ARQON_E_INVALID;
        }
    };
    match ep.recv_packed(bytes_mut(out, cap)) {
        Ok(n) => n as i32,
        Err(shm::IoError::Closed) => ARQON_E_CLOSED,
        Err(_) => ARQON_E_TOO_LARGE,
    }
}

/// Waits until a frame is readable (1), the peer closed (-1), or `timeout_us` passed (0).
/// Spins `spin_us` before sleeping on a futex.
#[no_mangle]
pub unsafe extern "C" fn arqon_shm_wait(
    ep: *mut shm::Endpoint,
    spin_us: u32,
    timeout_us: u32,
) -> i32 {
    let ep = match ep.as_mut() {
        Some(ep) => ep,
        _ => {
            return ARQON_E_INVALID;
        }
    };
    ep.wait(
        Duration::from_micros(spin_us as u64),
        Duration::from_micros(timeout_us as u64),
    )
}

/// Largest frame the endpoint's rings accept.
#[no_mangle]
pub unsafe extern "C" fn arqon_shm_max_frame(ep: *mut shm::Endpoint) -> u32 {
    ep.as_ref().map(|e| e.max_frame() as u32).unwrap_or(0)
}

/// 1 while the peer is connected, 0 once it closed or its process is gone.
#[no_mangle]
pub unsafe extern "C" fn arqon_shm_alive(ep: *mut shm::Endpoint) -> i32 {
    ep.as_ref().map(|e| !e.peer_gone() as i32).unwrap_or(0)
}

/// Process id of the peer.
#[no_mangle]
pub unsafe extern "C" fn arqon_shm_peer_pid(ep: *mut shm::Endpoint) -> u32 {
    ep.as_ref().map(|e| e.peer_pid()).unwrap_or(0)
}

/// Number of values `arqon_shm_stats` fills.
pub const ARQON_SHM_STATS: u32 = 12;

/// Fills `out[0..n]` with, in order: ring capacity, outgoing fill, incoming fill, outgoing
/// peak fill, frames sent, bytes sent, frames received, bytes received, overruns (sends
/// that found the outgoing ring full), send batches, receive batches, peer closed (0/1).
/// Returns how many values were written.
#[no_mangle]
pub unsafe extern "C" fn arqon_shm_stats(ep: *mut shm::Endpoint, out: *mut u64, n: u32) -> u32 {
    let ep = match ep.as_ref() {
        Some(ep) => ep,
        _ => return 0,
    };
    if out.is_null() {
        return 0;
    }
    let (tx_fill, rx_fill) = ep.fill();
    let (peak, overruns) = ep.tx_pressure();
    let c = ep.counters;
    let v = [
        ep.capacity(),
        tx_fill,
        rx_fill,
        peak,
        c.frames_sent,
        c.bytes_sent,
        c.frames_received,
        c.bytes_received,
        overruns,
        c.send_batches,
        c.recv_batches,
        ep.peer_closed() as u64,
    ];
    write_stats(&v, out, n)
}

/// Copies up to `n` counters into `out` (non-null, checked by the caller); returns how many.
unsafe fn write_stats(v: &[u64], out: *mut u64, n: u32) -> u32 {
    let k = (n as usize).min(v.len());
    std::ptr::copy_nonoverlapping(v.as_ptr(), out, k);
    k as u32
}

/// Closes the endpoint (the peer sees `ARQON_E_CLOSED` after draining) and frees it.
#[no_mangle]
pub unsafe extern "C" fn arqon_shm_close(ep: *mut shm::Endpoint) {
    if !ep.is_null() {
        drop(Box::from_raw(ep));
    }
}

// ---------------------------------------------------------------------------- udp

/// Binds a UDP endpoint on `addr` (`ip:port`, port 0 = ephemeral) for frames up to
/// `max_frame` bytes. NULL on failure.
#[no_mangle]
pub unsafe extern "C" fn arqon_udp_bind(
    addr: *const c_char,
    max_frame: u32,
) -> *mut udp::UdpEndpoint {
    let addr = match str_arg(addr) {
        Some(addr) => addr,
        _ => {
            return std::ptr::null_mut();
        }
    };
    match udp::UdpEndpoint::bind(addr, max_frame as usize) {
        Ok(u) => Box::into_raw(Box::new(u)),
        Err(e) => {
            set_error(e.to_string());
            std::ptr::null_mut()
        }
    }
}

/// The bound local port.
#[no_mangle]
pub unsafe extern "C" fn arqon_udp_port(u: *mut udp::UdpEndpoint) -> u32 {
    u.as_ref().map(|u| u.local_port() as u32).unwrap_or(0)
}

/// Sets the destination of `arqon_udp_send`. 0 on success, `ARQON_E_OS`/`ARQON_E_INVALID`.
#[no_mangle]
pub unsafe extern "C" fn arqon_udp_connect(u: *mut udp::UdpEndpoint, addr: *const c_char) -> i32 {
    let (u, addr) = match (u.as_ref(), str_arg(addr)) {
        (Some(u), Some(addr)) => (u, addr),
        _ => {
            return ARQON_E_INVALID;
        }
    };
    match u.connect(addr) {
        Ok(()) => 0,
        Err(e) => {
            set_error(e.to_string());
            ARQON_E_OS
        }
    }
}

/// Sends packed frames as datagrams (64 per `sendmmsg`); returns bytes consumed.
#[no_mangle]
pub unsafe extern "C" fn arqon_udp_send(
    u: *mut udp::UdpEndpoint,
    batch: *const u8,
    len: u32,
) -> i32 {
    let u = match u.as_mut() {
        Some(u) => u,
        _ => {
            return ARQON_E_INVALID;
        }
    };
    match u.send_packed(bytes(batch, len)) {
        Ok(n) => n as i32,
        Err(udp::UdpError::TooLarge) => ARQON_E_TOO_LARGE,
        Err(e) => {
            set_error(e.to_string());
            ARQON_E_OS
        }
    }
}

/// Receives waiting datagrams into `out` (packed); returns bytes written, 0 when none.
#[no_mangle]
pub unsafe extern "C" fn arqon_udp_recv(u: *mut udp::UdpEndpoint, out: *mut u8, cap: u32) -> i32 {
    let u = match u.as_mut() {
        Some(u) => u,
        _ => {
            return ARQON_E_INVALID;
        }
    };
    match u.recv_packed(bytes_mut(out, cap)) {
        Ok(n) => n as i32,
        Err(udp::UdpError::TooLarge) => ARQON_E_TOO_LARGE,
        Err(e) => {
            set_error(e.to_string());
            ARQON_E_OS
        }
    }
}

/// Blocks up to `timeout_ms` until a datagram is readable: 1 if one is, else 0.
#[no_mangle]
pub unsafe extern "C" fn arqon_udp_wait(u: *mut udp::UdpEndpoint, timeout_ms: u32) -> i32 {
    u.as_ref()
        .map(|u| u.wait(timeout_ms.min(i32::MAX as u32) as i32) as i32)
        .unwrap_or(ARQON_E_INVALID)
}

/// Number of values `arqon_udp_stats` fills.
pub const ARQON_UDP_STATS: u32 = 10;

/// Fills `out[0..n]` with: frames sent, bytes sent, frames received, bytes received, lost,
/// reordered, malformed, send batches, receive batches, overruns. Returns values written.
#[no_mangle]
pub unsafe extern "C" fn arqon_udp_stats(u: *mut udp::UdpEndpoint, out: *mut u64, n: u32) -> u32 {
    let u = match u.as_ref() {
        Some(u) => u,
        _ => return 0,
    };
    if out.is_null() {
        return 0;
    }
    let c = u.counters;
    let v = [
        c.frames_sent,
        c.bytes_sent,
        c.frames_received,
        c.bytes_received,
        c.lost,
        c.reordered,
        c.malformed,
        c.send_batches,
        c.recv_batches,
        c.overruns,
    ];
    write_stats(&v, out, n)
}

/// Closes the socket and frees the endpoint.
#[no_mangle]
pub unsafe extern "C" fn arqon_udp_close(u: *mut udp::UdpEndpoint) {
    if !u.is_null() {
        drop(Box::from_raw(u));
    }
}

// ---------------------------------------------------------------------------- bench

/// The pure-Rust reference: moves `messages` frames of `size` bytes in batches of `batch`
/// between two threads through a shm ring of `ring_bytes`. Returns elapsed nanoseconds and
/// writes the checksum (sum of each frame's first u32, which is its index) to `checksum`;
/// 0 on failure.
#[no_mangle]
pub unsafe extern "C" fn arqon_bench_ring_threads(
    messages: u32,
    size: u32,
    batch: u32,
    ring_bytes: u32,
    checksum: *mut u64,
) -> u64 {
    match bench::two_thread_ring(messages, size, batch, ring_bytes) {
        Ok(r) => {
            if !checksum.is_null() {
                *checksum = r.checksum;
            }
            r.elapsed_ns.max(1)
        }
        Err(e) => {
            set_error(e);
            0
        }
    }
}
