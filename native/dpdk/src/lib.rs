//! ArqonBus native sidecar, DPDK backend: frames as packets through a DPDK port
//! (`net_ring` loopback, `net_memif` between processes, or a real NIC), with the same
//! packed-batch C ABI as the core library.
//!
//! DPDK's EAL pins the thread that initialises it, so `arqon_dpdk_start` runs
//! `rte_eal_init` on a sidecar thread that stays parked until `arqon_dpdk_stop`; the
//! burst calls then run on the caller's thread (a non-EAL thread: mempool ops without a
//! per-lcore cache, which is fine at these rates). EAL starts once per process.

use libc::{c_char, c_int};
use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::sync::mpsc;
use std::sync::Mutex;

#[allow(non_camel_case_types)]
type rte_mempool = libc::c_void;

extern "C" {
    fn arqon_dpdk_shim_eal_init(argc: c_int, argv: *mut *mut c_char) -> c_int;
    fn arqon_dpdk_shim_eal_cleanup() -> c_int;
    fn arqon_dpdk_shim_strerror(err: c_int) -> *const c_char;
    fn arqon_dpdk_shim_port_by_name(name: *const c_char, port: *mut u16) -> c_int;
    fn arqon_dpdk_shim_port_start(
        port: u16,
        nb_desc: u16,
        nb_mbufs: u32,
        pool: *mut *mut rte_mempool,
    ) -> c_int;
    fn arqon_dpdk_shim_link_up(port: u16) -> c_int;
    fn arqon_dpdk_shim_port_stop(port: u16, pool: *mut rte_mempool);
    fn arqon_dpdk_shim_tx(
        port: u16,
        pool: *mut rte_mempool,
        batch: *const u8,
        len: u32,
        first_seq: u64,
        consumed: *mut u32,
    ) -> c_int;
    fn arqon_dpdk_shim_rx(port: u16, out: *mut u8, cap: u32) -> i32;
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

fn set_error(msg: impl Into<String>) {
    LAST_ERROR.with(|e| *e.borrow_mut() = msg.into());
}

fn dpdk_error(what: &str, code: c_int) -> String {
    let msg = unsafe { CStr::from_ptr(arqon_dpdk_shim_strerror(code)) }
        .to_string_lossy()
        .into_owned();
    format!("{what}: {msg} ({code})")
}

/// The running EAL: its sidecar thread waits for the stop signal.
pub struct Eal {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// EAL can be initialised once per process; this records that it was.
static EAL_STARTED: Mutex<bool> = Mutex::new(false);

impl Eal {
    /// Starts EAL with whitespace-separated `args` (without a program name) on a sidecar
    /// thread. Typical test args: `--no-huge --no-pci --no-shconf -m 256
    /// --file-prefix=<unique> --vdev=net_ring0`.
    pub fn start(args: &str) -> Result<Eal, String> {
        let mut started = EAL_STARTED.lock().unwrap();
        if *started {
            return Err("DPDK EAL already started in this process (it starts once)".into());
        }
        let argv: Vec<String> = std::iter::once("arqon".to_string())
            .chain(args.split_whitespace().map(str::to_string))
            .collect();
        let (result_tx, result_rx) = mpsc::channel::<Result<(), String>>();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("arqon-dpdk-eal".into())
            .spawn(move || {
                let owned: Vec<CString> = argv
                    .iter()
                    .map(|a| CString::new(a.as_str()).unwrap())
                    .collect();
                let mut ptrs: Vec<*mut c_char> =
                    owned.iter().map(|c| c.as_ptr() as *mut c_char).collect();
                let r = unsafe { arqon_dpdk_shim_eal_init(ptrs.len() as c_int, ptrs.as_mut_ptr()) };
                if r < 0 {
                    let _ = result_tx.send(Err(dpdk_error("rte_eal_init", r)));
                    return;
                }
                let _ = result_tx.send(Ok(()));
                let _ = stop_rx.recv();
                unsafe { arqon_dpdk_shim_eal_cleanup() };
            })
            .map_err(|e| e.to_string())?;
        *started = true;
        match result_rx.recv() {
            Ok(Ok(())) => Ok(Eal {
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err("EAL thread exited".into()),
        }
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Counters of one port.
#[derive(Default, Clone, Copy)]
pub struct PortCounters {
    /// Packets handed to the PMD.
    pub frames_sent: u64,
    /// Payload bytes sent.
    pub bytes_sent: u64,
    /// Packets received.
    pub frames_received: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Sequence gaps.
    pub lost: u64,
    /// Times the TX queue (or mbuf pool) was full.
    pub overruns: u64,
    /// TX bursts that sent at least one packet.
    pub send_batches: u64,
    /// RX bursts that returned at least one packet.
    pub recv_batches: u64,
}

/// One started DPDK port with its mbuf pool.
pub struct Port {
    id: u16,
    pool: *mut rte_mempool,
    next_seq: u64,
    expected: Option<u64>,
    scratch: Vec<u8>,
    /// Counters.
    pub counters: PortCounters,
}

impl Port {
    /// Starts the port named `name` (e.g. `net_ring0`) with `nb_desc` descriptors.
    pub fn open(name: &str, nb_desc: u16) -> Result<Port, String> {
        let cname = CString::new(name).map_err(|_| "port name contains NUL")?;
        let mut id = 0u16;
        let r = unsafe { arqon_dpdk_shim_port_by_name(cname.as_ptr(), &mut id) };
        if r != 0 {
            return Err(format!(
                "no DPDK port named {name:?} (is its --vdev given?)"
            ));
        }
        let mut pool = std::ptr::null_mut();
        let r = unsafe { arqon_dpdk_shim_port_start(id, nb_desc, 8191, &mut pool) };
        if r < 0 {
            return Err(dpdk_error("port start", r));
        }
        Ok(Port {
            id,
            pool,
            next_seq: 0,
            expected: None,
            scratch: vec![0u8; 64 * (4 + 2048)],
            counters: Default::default(),
        })
    }

    /// True once the link is up (memif: the peer connected).
    pub fn link_up(&self) -> bool {
        unsafe { arqon_dpdk_shim_link_up(self.id) == 1 }
    }

    /// Sends packed frames in bursts of 64; returns bytes consumed.
    pub fn send_packed(&mut self, batch: &[u8]) -> Result<usize, String> {
        let mut off = 0usize;
        while off < batch.len() {
            let mut consumed = 0u32;
            let n = unsafe {
                arqon_dpdk_shim_tx(
                    self.id,
                    self.pool,
                    batch[off..].as_ptr(),
                    (batch.len() - off) as u32,
                    self.next_seq,
                    &mut consumed,
                )
            };
            if n < 0 {
                if off == 0 {
                    return Err(format!("frame larger than one mbuf ({n})"));
                }
                break;
            }
            if n == 0 {
                self.counters.overruns += 1;
                break;
            }
            self.next_seq += n as u64;
            self.counters.frames_sent += n as u64;
            self.counters.bytes_sent += consumed as u64 - 4 * n as u64;
            self.counters.send_batches += 1;
            off += consumed as usize;
        }
        Ok(off)
    }

    /// Receives one burst into `out` (packed); returns bytes written.
    pub fn recv_packed(&mut self, out: &mut [u8]) -> Result<usize, String> {
        let cap = (out.len().min(self.scratch.len())) as u32;
        let n = unsafe { arqon_dpdk_shim_rx(self.id, self.scratch.as_mut_ptr(), cap) };
        if n < 0 {
            return Err("receive buffer smaller than one packet".into());
        }
        let mut off = 0usize;
        let mut w = 0usize;
        let mut frames = 0u64;
        while off < n as usize {
            let len = u32::from_le_bytes(self.scratch[off..off + 4].try_into().unwrap()) as usize;
            if len >= 8 {
                let seq = u64::from_le_bytes(self.scratch[off + 4..off + 12].try_into().unwrap());
                match self.expected {
                    Some(e) if seq > e => self.counters.lost += seq - e,
                    _ => {}
                }
                if self.expected.map_or(true, |e| seq >= e) {
                    self.expected = Some(seq + 1);
                }
                let pl = len - 8;
                out[w..w + 4].copy_from_slice(&(pl as u32).to_le_bytes());
                out[w + 4..w + 4 + pl].copy_from_slice(&self.scratch[off + 12..off + 4 + len]);
                w += 4 + pl;
                frames += 1;
                self.counters.bytes_received += pl as u64;
            }
            off += 4 + len;
        }
        if frames > 0 {
            self.counters.frames_received += frames;
            self.counters.recv_batches += 1;
        }
        Ok(w)
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        unsafe { arqon_dpdk_shim_port_stop(self.id, self.pool) };
    }
}

unsafe fn str_arg<'a>(p: *const c_char) -> Option<&'a str> {
    if p.is_null() {
        set_error("NULL string argument");
        return None;
    }
    CStr::from_ptr(p).to_str().ok()
}

/// Copies the calling thread's last error (UTF-8, no NUL) into `buf`; returns its length.
#[no_mangle]
pub unsafe extern "C" fn arqon_dpdk_last_error(buf: *mut u8, cap: u32) -> u32 {
    LAST_ERROR.with(|e| {
        let e = e.borrow();
        let n = (cap as usize).min(e.len());
        if !buf.is_null() {
            std::ptr::copy_nonoverlapping(e.as_ptr(), buf, n);
        }
        e.len() as u32
    })
}

/// Starts EAL on a sidecar thread with whitespace-separated `args`. NULL on failure.
#[no_mangle]
pub unsafe extern "C" fn arqon_dpdk_start(args: *const c_char) -> *mut Eal {
    let args = match str_arg(args) {
        Some(args) => args,
        _ => {
            return std::ptr::null_mut();
        }
    };
    match Eal::start(args) {
        Ok(e) => Box::into_raw(Box::new(e)),
        Err(e) => {
            set_error(e);
            std::ptr::null_mut()
        }
    }
}

/// Stops EAL (after every port is closed).
#[no_mangle]
pub unsafe extern "C" fn arqon_dpdk_stop(eal: *mut Eal) {
    if !eal.is_null() {
        drop(Box::from_raw(eal));
    }
}

/// Starts the port `name` with `nb_desc` descriptors per queue. NULL on failure.
#[no_mangle]
pub unsafe extern "C" fn arqon_dpdk_port_open(name: *const c_char, nb_desc: u32) -> *mut Port {
    let name = match str_arg(name) {
        Some(name) => name,
        _ => {
            return std::ptr::null_mut();
        }
    };
    match Port::open(name, nb_desc.min(u16::MAX as u32) as u16) {
        Ok(p) => Box::into_raw(Box::new(p)),
        Err(e) => {
            set_error(e);
            std::ptr::null_mut()
        }
    }
}

/// 1 once the port's link is up.
#[no_mangle]
pub unsafe extern "C" fn arqon_dpdk_link_up(p: *mut Port) -> i32 {
    p.as_ref().map(|p| p.link_up() as i32).unwrap_or(0)
}

/// Sends packed frames; returns bytes consumed, or -2 when the first frame exceeds an mbuf.
#[no_mangle]
pub unsafe extern "C" fn arqon_dpdk_send(p: *mut Port, batch: *const u8, len: u32) -> i32 {
    let p = match p.as_mut() {
        Some(p) => p,
        _ => return -3,
    };
    if batch.is_null() {
        return 0;
    }
    match p.send_packed(std::slice::from_raw_parts(batch, len as usize)) {
        Ok(n) => n as i32,
        Err(e) => {
            set_error(e);
            -2
        }
    }
}

/// Receives one burst into `out` (packed); returns bytes written, 0 when none.
#[no_mangle]
pub unsafe extern "C" fn arqon_dpdk_recv(p: *mut Port, out: *mut u8, cap: u32) -> i32 {
    let p = match p.as_mut() {
        Some(p) => p,
        _ => return -3,
    };
    if out.is_null() {
        return -3;
    }
    match p.recv_packed(std::slice::from_raw_parts_mut(out, cap as usize)) {
        Ok(n) => n as i32,
        Err(e) => {
            set_error(e);
            -2
        }
    }
}

/// Fills `out[0..n]` with: frames sent, bytes sent, frames received, bytes received, lost,
/// overruns, send batches, receive batches. Returns values written.
#[no_mangle]
pub unsafe extern "C" fn arqon_dpdk_stats(p: *mut Port, out: *mut u64, n: u32) -> u32 {
    let p = match p.as_ref() {
        Some(p) => p,
        _ => return 0,
    };
    let c = p.counters;
    let v = [
        c.frames_sent,
        c.bytes_sent,
        c.frames_received,
        c.bytes_received,
        c.lost,
        c.overruns,
        c.send_batches,
        c.recv_batches,
    ];
    let k = (n as usize).min(v.len());
    if !out.is_null() {
        std::ptr::copy_nonoverlapping(v.as_ptr(), out, k);
    }
    k as u32
}

/// Stops and closes the port.
#[no_mangle]
pub unsafe extern "C" fn arqon_dpdk_port_close(p: *mut Port) {
    if !p.is_null() {
        drop(Box::from_raw(p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// EAL starts once per process, so one test covers the whole net_ring path.
    #[test]
    fn net_ring_loopback_carries_frames_in_order() {
        let prefix = format!("arqon-test-{}", std::process::id());
        let eal = Eal::start(&format!(
            "--no-huge --no-pci --no-shconf -m 256 --file-prefix={prefix} --vdev=net_ring0 -l 0 --log-level=error"
        ))
        .expect("EAL starts with --no-huge");
        assert!(
            Eal::start("--no-huge").is_err(),
            "EAL starts once per process"
        );
        let mut port = Port::open("net_ring0", 1024).unwrap();
        let total = 5000u32;
        let mut sent = 0u32;
        let mut got = 0u32;
        let mut out = vec![0u8; 64 * 1024];
        let mut batch = vec![];
        while got < total {
            if sent < total {
                batch.clear();
                for i in sent..(sent + 100).min(total) {
                    let len = 4 + (i % 500) as usize;
                    batch.extend_from_slice(&(len as u32).to_le_bytes());
                    batch.extend_from_slice(&i.to_le_bytes());
                    batch.resize(batch.len() + len - 4, (i & 0xff) as u8);
                }
                let mut off = 0;
                while off < batch.len() {
                    let k = port.send_packed(&batch[off..]).unwrap();
                    off += k;
                    // Frames counted from the consumed bytes: each begins with its index.
                    if k == 0 {
                        break;
                    }
                }
                let mut o = 0;
                while o < off {
                    let len = u32::from_le_bytes(batch[o..o + 4].try_into().unwrap()) as usize;
                    o += 4 + len;
                    sent += 1;
                }
            }
            let n = port.recv_packed(&mut out).unwrap();
            let mut o = 0;
            while o < n {
                let len = u32::from_le_bytes(out[o..o + 4].try_into().unwrap()) as usize;
                let idx = u32::from_le_bytes(out[o + 4..o + 8].try_into().unwrap());
                assert_eq!(idx, got);
                assert_eq!(len, 4 + (idx % 500) as usize);
                assert!(out[o + 8..o + 4 + len]
                    .iter()
                    .all(|b| *b == (idx & 0xff) as u8));
                got += 1;
                o += 4 + len;
            }
        }
        assert_eq!(port.counters.frames_received, total as u64);
        assert_eq!(port.counters.lost, 0);
        assert!(port.counters.send_batches >= (total / 64) as u64);
        drop(port);
        drop(eal);
    }
}
