//! ArqonBus native sidecar, RDMA backend (libibverbs): a reliable-connected queue pair
//! that writes frames into the peer's registered ring with RDMA WRITE with immediate.
//! Connection setup exchanges a 48-byte `arqon_rdma_info` out of band (e.g. over the bus).
//!
//! On hosts without an RDMA device (no InfiniBand HCA, no soft-RoCE) `arqon_rdma_open`
//! fails cleanly with "no RDMA device" and `arqon_rdma_device_count` returns 0.

use libc::{c_char, c_int};
use std::cell::RefCell;
use std::ffi::CStr;

/// Opaque shim state.
#[repr(C)]
pub struct Shim {
    _private: [u8; 0],
}

/// What a peer needs to connect (the C `struct arqon_rdma_info`).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct RdmaInfo {
    /// Queue pair number.
    pub qpn: u32,
    /// Initial packet sequence number.
    pub psn: u32,
    /// Remote key of the ring region.
    pub rkey: u32,
    /// Ring data bytes (both sides must match).
    pub ring_bytes: u32,
    /// Virtual address of the ring region.
    pub addr: u64,
    /// Port LID (InfiniBand).
    pub lid: u16,
    /// Port GID (RoCE, routed IB).
    pub gid: [u8; 16],
    /// Port number.
    pub port: u8,
    /// GID index used.
    pub gid_index: u8,
}

extern "C" {
    fn arqon_rdma_shim_device_count() -> c_int;
    fn arqon_rdma_shim_open(
        dev: *const c_char,
        port: u8,
        ring_bytes: u32,
        gid_index: u8,
        out: *mut *mut Shim,
    ) -> c_int;
    fn arqon_rdma_shim_local_info(r: *mut Shim, info: *mut RdmaInfo) -> c_int;
    fn arqon_rdma_shim_connect(r: *mut Shim, remote: *const RdmaInfo) -> c_int;
    fn arqon_rdma_shim_send(r: *mut Shim, batch: *const u8, len: u32) -> i32;
    fn arqon_rdma_shim_recv(r: *mut Shim, out: *mut u8, cap: u32) -> i32;
    fn arqon_rdma_shim_close(r: *mut Shim);
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

fn set_error(msg: impl Into<String>) {
    LAST_ERROR.with(|e| *e.borrow_mut() = msg.into());
}

fn errno_text(code: c_int) -> String {
    if code == -libc::ENODEV {
        return "no RDMA device (no InfiniBand HCA or soft-RoCE link on this host)".into();
    }
    std::io::Error::from_raw_os_error(-code).to_string()
}

/// Number of RDMA devices visible to libibverbs.
pub fn device_count() -> usize {
    unsafe { arqon_rdma_shim_device_count().max(0) as usize }
}

/// One RC connection with its registered ring.
pub struct RdmaConn {
    shim: *mut Shim,
}

impl RdmaConn {
    /// Opens `device` (None: the first) on `port` with a ring of `ring_bytes`.
    pub fn open(
        device: Option<&CStr>,
        port: u8,
        ring_bytes: u32,
        gid_index: u8,
    ) -> Result<Self, String> {
        let mut shim = std::ptr::null_mut();
        let dev = device.map_or(std::ptr::null(), |d| d.as_ptr());
        let r = unsafe { arqon_rdma_shim_open(dev, port, ring_bytes, gid_index, &mut shim) };
        if r != 0 {
            return Err(errno_text(r));
        }
        Ok(RdmaConn { shim })
    }

    /// This side's connection info for the peer.
    pub fn local_info(&self) -> Result<RdmaInfo, String> {
        let mut info = RdmaInfo::default();
        let r = unsafe { arqon_rdma_shim_local_info(self.shim, &mut info) };
        if r != 0 {
            return Err(errno_text(r));
        }
        Ok(info)
    }

    /// Connects the queue pair to the peer's info.
    pub fn connect(&self, remote: &RdmaInfo) -> Result<(), String> {
        let r = unsafe { arqon_rdma_shim_connect(self.shim, remote) };
        if r != 0 {
            return Err(errno_text(r));
        }
        Ok(())
    }

    /// Writes packed frames into the peer's ring; returns bytes consumed.
    pub fn send_packed(&mut self, batch: &[u8]) -> Result<usize, String> {
        let r = unsafe { arqon_rdma_shim_send(self.shim, batch.as_ptr(), batch.len() as u32) };
        if r < 0 {
            return Err(errno_text(r));
        }
        Ok(r as usize)
    }

    /// Copies received frames into `out` (packed); returns bytes written.
    pub fn recv_packed(&mut self, out: &mut [u8]) -> Result<usize, String> {
        let r = unsafe { arqon_rdma_shim_recv(self.shim, out.as_mut_ptr(), out.len() as u32) };
        if r < 0 {
            return Err(errno_text(r));
        }
        Ok(r as usize)
    }
}

impl Drop for RdmaConn {
    fn drop(&mut self) {
        unsafe { arqon_rdma_shim_close(self.shim) };
    }
}

/// Copies the calling thread's last error (UTF-8, no NUL) into `buf`; returns its length.
#[no_mangle]
pub unsafe extern "C" fn arqon_rdma_last_error(buf: *mut u8, cap: u32) -> u32 {
    LAST_ERROR.with(|e| {
        let e = e.borrow();
        let n = (cap as usize).min(e.len());
        if !buf.is_null() {
            std::ptr::copy_nonoverlapping(e.as_ptr(), buf, n);
        }
        e.len() as u32
    })
}

/// Number of RDMA devices (0 here: no HCA, no soft-RoCE).
#[no_mangle]
pub extern "C" fn arqon_rdma_device_count() -> u32 {
    device_count() as u32
}

/// Opens a connection endpoint on `device` (NULL: first) and `port`. NULL on failure,
/// with "no RDMA device" in `arqon_rdma_last_error` when there is none.
#[no_mangle]
pub unsafe extern "C" fn arqon_rdma_open(
    device: *const c_char,
    port: u32,
    ring_bytes: u32,
    gid_index: u32,
) -> *mut RdmaConn {
    let dev = if device.is_null() {
        None
    } else {
        Some(CStr::from_ptr(device))
    };
    match RdmaConn::open(dev, port as u8, ring_bytes, gid_index as u8) {
        Ok(c) => Box::into_raw(Box::new(c)),
        Err(e) => {
            set_error(e);
            std::ptr::null_mut()
        }
    }
}

/// Writes this side's `RdmaInfo` (48 bytes) into `out`; 0 on success.
#[no_mangle]
pub unsafe extern "C" fn arqon_rdma_local_info(c: *mut RdmaConn, out: *mut RdmaInfo) -> i32 {
    let c = match (c.as_ref(), out.is_null()) {
        (Some(c), false) => c,
        _ => {
            return -3;
        }
    };
    match c.local_info() {
        Ok(i) => {
            *out = i;
            0
        }
        Err(e) => {
            set_error(e);
            -4
        }
    }
}

/// Connects to the peer described by `remote`; 0 on success.
#[no_mangle]
pub unsafe extern "C" fn arqon_rdma_connect(c: *mut RdmaConn, remote: *const RdmaInfo) -> i32 {
    let (c, remote) = match (c.as_ref(), remote.as_ref()) {
        (Some(c), Some(remote)) => (c, remote),
        _ => {
            return -3;
        }
    };
    match c.connect(remote) {
        Ok(()) => 0,
        Err(e) => {
            set_error(e);
            -4
        }
    }
}

/// Sends packed frames; returns bytes consumed (fewer when the peer's ring is full).
#[no_mangle]
pub unsafe extern "C" fn arqon_rdma_send(c: *mut RdmaConn, batch: *const u8, len: u32) -> i32 {
    let c = match c.as_mut() {
        Some(c) => c,
        _ => return -3,
    };
    if batch.is_null() {
        return 0;
    }
    match c.send_packed(std::slice::from_raw_parts(batch, len as usize)) {
        Ok(n) => n as i32,
        Err(e) => {
            set_error(e);
            -4
        }
    }
}

/// Receives frames into `out` (packed); returns bytes written, 0 when none.
#[no_mangle]
pub unsafe extern "C" fn arqon_rdma_recv(c: *mut RdmaConn, out: *mut u8, cap: u32) -> i32 {
    let c = match c.as_mut() {
        Some(c) => c,
        _ => return -3,
    };
    if out.is_null() {
        return -3;
    }
    match c.recv_packed(std::slice::from_raw_parts_mut(out, cap as usize)) {
        Ok(n) => n as i32,
        Err(e) => {
            set_error(e);
            -4
        }
    }
}

/// Closes the connection and frees its resources.
#[no_mangle]
pub unsafe extern "C" fn arqon_rdma_close(c: *mut RdmaConn) {
    if !c.is_null() {
        drop(Box::from_raw(c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_device_open_fails_cleanly() {
        if device_count() > 0 {
            return; // covered by the data-path test below on hosts with a device
        }
        let err = RdmaConn::open(None, 1, 1 << 16, 0).err().unwrap();
        assert!(err.contains("no RDMA device"), "{err}");
        let p = unsafe { arqon_rdma_open(std::ptr::null(), 1, 1 << 16, 0) };
        assert!(p.is_null());
        let mut buf = [0u8; 128];
        let n = unsafe { arqon_rdma_last_error(buf.as_mut_ptr(), 128) } as usize;
        assert!(std::str::from_utf8(&buf[..n.min(128)])
            .unwrap()
            .contains("no RDMA device"));
    }

    /// Data path: two queue pairs on the same device connected to each other. Runs where
    /// a device exists: `ARQON_RDMA_DEVICE=<name> cargo test -p arqon_rdma -- --ignored`
    /// (soft-RoCE: `rdma link add rxe0 type rxe netdev <if>`, GID index 1 for RoCEv2).
    #[test]
    #[ignore]
    fn loopback_queue_pairs_carry_frames_in_order() {
        let dev = std::env::var("ARQON_RDMA_DEVICE")
            .ok()
            .map(|d| std::ffi::CString::new(d).unwrap());
        let gid: u8 = std::env::var("ARQON_RDMA_GID_INDEX")
            .ok()
            .and_then(|g| g.parse().ok())
            .unwrap_or(0);
        let mut a = RdmaConn::open(dev.as_deref(), 1, 1 << 16, gid).unwrap();
        let mut b = RdmaConn::open(dev.as_deref(), 1, 1 << 16, gid).unwrap();
        a.connect(&b.local_info().unwrap()).unwrap();
        b.connect(&a.local_info().unwrap()).unwrap();
        let total = 100_000u32;
        let (mut sent, mut got) = (0u32, 0u32);
        let mut out = vec![0u8; 65536];
        let mut batch = vec![];
        while got < total {
            batch.clear();
            for i in sent..(sent + 64).min(total) {
                let len = 4 + (i % 200) as usize;
                batch.extend_from_slice(&(len as u32).to_le_bytes());
                batch.extend_from_slice(&i.to_le_bytes());
                batch.resize(batch.len() + len - 4, i as u8);
            }
            let k = a.send_packed(&batch).unwrap();
            let mut o = 0;
            while o < k {
                o += 4 + u32::from_le_bytes(batch[o..o + 4].try_into().unwrap()) as usize;
                sent += 1;
            }
            let n = b.recv_packed(&mut out).unwrap();
            let mut o = 0;
            while o < n {
                let len = u32::from_le_bytes(out[o..o + 4].try_into().unwrap()) as usize;
                assert_eq!(
                    u32::from_le_bytes(out[o + 4..o + 8].try_into().unwrap()),
                    got
                );
                got += 1;
                o += 4 + len;
            }
            a.recv_packed(&mut out).unwrap(); // drains a's completions
        }
    }
}
