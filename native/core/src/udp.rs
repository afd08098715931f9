//! UDP carrier: batches of datagrams through `sendmmsg`/`recvmmsg`, each prefixed with a
//! 64-bit sequence number so the receiver counts loss and reordering.

use std::net::{SocketAddr, UdpSocket};
use std::os::unix::io::AsRawFd;

/// Datagrams per `sendmmsg`/`recvmmsg` call.
pub const BATCH: usize = 64;
/// Bytes of the sequence header in front of every datagram.
pub const SEQ_BYTES: usize = 8;

/// Counters of one UDP endpoint.
#[derive(Default, Clone, Copy, Debug)]
pub struct UdpCounters {
    /// Datagrams accepted by the kernel.
    pub frames_sent: u64,
    /// Payload bytes sent.
    pub bytes_sent: u64,
    /// Datagrams received and delivered.
    pub frames_received: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Sequence numbers skipped (lost, or not yet arrived).
    pub lost: u64,
    /// Datagrams that arrived after a later one.
    pub reordered: u64,
    /// Datagrams dropped: shorter than the header or longer than `max_frame`.
    pub malformed: u64,
    /// `sendmmsg` calls that moved at least one datagram.
    pub send_batches: u64,
    /// `recvmmsg` calls that returned at least one datagram.
    pub recv_batches: u64,
    /// Times the socket buffer was full (EAGAIN on send).
    pub overruns: u64,
}

/// Errors of the UDP carrier.
#[derive(Debug)]
pub enum UdpError {
    /// Bad address or argument.
    Invalid(String),
    /// An operating-system call failed.
    Os(std::io::Error),
    /// A frame is larger than `max_frame` or `out` cannot hold one datagram.
    TooLarge,
}

impl std::fmt::Display for UdpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UdpError::Invalid(m) => write!(f, "invalid argument: {m}"),
            UdpError::Os(e) => write!(f, "udp: {e}"),
            UdpError::TooLarge => write!(f, "frame larger than max_frame or buffer too small"),
        }
    }
}

/// A non-blocking UDP socket that sends to one peer and receives from any.
pub struct UdpEndpoint {
    sock: UdpSocket,
    max_frame: usize,
    next_seq: u64,
    expected: Option<u64>,
    rx_bufs: Vec<u8>,
    /// Counters.
    pub counters: UdpCounters,
}

impl UdpEndpoint {
    /// Binds `addr` (`ip:port`, port 0 for ephemeral); frames up to `max_frame` bytes.
    pub fn bind(addr: &str, max_frame: usize) -> Result<Self, UdpError> {
        let a: SocketAddr = addr
            .parse()
            .map_err(|_| UdpError::Invalid(format!("address {addr:?}")))?;
        if max_frame == 0 || max_frame + SEQ_BYTES > 65507 {
            return Err(UdpError::Invalid(format!(
                "max_frame {max_frame} (1..=65499)"
            )));
        }
        let sock = UdpSocket::bind(a).map_err(UdpError::Os)?;
        sock.set_nonblocking(true).map_err(UdpError::Os)?;
        // Bigger kernel buffers absorb bursts between drains; failure only costs headroom.
        let size: libc::c_int = 4 << 20;
        for opt in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
            unsafe {
                libc::setsockopt(
                    sock.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    &size as *const _ as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
        Ok(UdpEndpoint {
            sock,
            max_frame,
            next_seq: 0,
            expected: None,
            rx_bufs: vec![0u8; BATCH * (SEQ_BYTES + max_frame + 1)],
            counters: Default::default(),
        })
    }

    /// The bound local port.
    pub fn local_port(&self) -> u16 {
        self.sock.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Sets the peer that `send_packed` sends to.
    pub fn connect(&self, addr: &str) -> Result<(), UdpError> {
        let a: SocketAddr = addr
            .parse()
            .map_err(|_| UdpError::Invalid(format!("address {addr:?}")))?;
        self.sock.connect(a).map_err(UdpError::Os)
    }

    /// Sends frames packed as `[u32 length][bytes]...` as datagrams; returns bytes consumed
    /// (whole frames), less than the batch when the socket buffer is full.
    pub fn send_packed(&mut self, batch: &[u8]) -> Result<usize, UdpError> {
        let mut off = 0usize;
        while off + 4 <= batch.len() {
            let mut seqs = [0u64; BATCH];
            let mut iov: [[libc::iovec; 2]; BATCH] = unsafe { std::mem::zeroed() };
            let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
            let mut ends = [0usize; BATCH];
            let mut n = 0usize;
            let mut at = off;
            while n < BATCH && at + 4 <= batch.len() {
                let len = u32::from_le_bytes(batch[at..at + 4].try_into().unwrap()) as usize;
                if len > self.max_frame || at + 4 + len > batch.len() {
                    if n == 0 && off == 0 {
                        return Err(UdpError::TooLarge);
                    }
                    break;
                }
                seqs[n] = (self.next_seq + n as u64).to_le();
                iov[n][0] = libc::iovec {
                    iov_base: &mut seqs[n] as *mut u64 as *mut _,
                    iov_len: SEQ_BYTES,
                };
                iov[n][1] = libc::iovec {
                    iov_base: batch[at + 4..].as_ptr() as *mut _,
                    iov_len: len,
                };
                at += 4 + len;
                ends[n] = at;
                n += 1;
            }
            if n == 0 {
                break;
            }
            for i in 0..n {
                msgs[i].msg_hdr.msg_iov = iov[i].as_mut_ptr();
                msgs[i].msg_hdr.msg_iovlen = 2;
            }
            let sent =
                unsafe { libc::sendmmsg(self.sock.as_raw_fd(), msgs.as_mut_ptr(), n as u32, 0) };
            if sent < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::WouldBlock {
                    self.counters.overruns += 1;
                    break;
                }
                // ECONNREFUSED reports an earlier datagram's ICMP; the peer is not listening
                // (yet). UDP is lossy: drop this batch and count it as sent-and-lost upstream.
                if e.raw_os_error() == Some(libc::ECONNREFUSED) {
                    continue;
                }
                return Err(UdpError::Os(e));
            }
            let sent = sent as usize;
            if sent == 0 {
                break;
            }
            let end = ends[sent - 1];
            self.counters.frames_sent += sent as u64;
            self.counters.bytes_sent += (end - off - 4 * sent) as u64;
            self.counters.send_batches += 1;
            self.next_seq += sent as u64;
            off = end;
            if sent < n {
                self.counters.overruns += 1;
                break;
            }
        }
        Ok(off)
    }

    /// Receives waiting datagrams into `out` packed as `[u32 length][bytes]...`; returns
    /// bytes written, 0 when nothing is waiting.
    pub fn recv_packed(&mut self, out: &mut [u8]) -> Result<usize, UdpError> {
        let slot = SEQ_BYTES + self.max_frame + 1;
        let n = (out.len() / (4 + self.max_frame)).min(BATCH);
        if n == 0 {
            return Err(UdpError::TooLarge);
        }
        let mut iov: [libc::iovec; BATCH] = unsafe { std::mem::zeroed() };
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for i in 0..n {
            iov[i] = libc::iovec {
                iov_base: self.rx_bufs[i * slot..].as_mut_ptr() as *mut _,
                iov_len: slot,
            };
            msgs[i].msg_hdr.msg_iov = &mut iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        let got = unsafe {
            libc::recvmmsg(
                self.sock.as_raw_fd(),
                msgs.as_mut_ptr(),
                n as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if got < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::WouldBlock
                || e.raw_os_error() == Some(libc::ECONNREFUSED)
            {
                return Ok(0);
            }
            return Err(UdpError::Os(e));
        }
        let mut off = 0usize;
        for (i, m) in msgs.iter().enumerate().take(got as usize) {
            let len = m.msg_len as usize;
            let d = &self.rx_bufs[i * slot..i * slot + len.min(slot)];
            if len < SEQ_BYTES || len > SEQ_BYTES + self.max_frame {
                self.counters.malformed += 1;
                continue;
            }
            let seq = u64::from_le_bytes(d[..8].try_into().unwrap());
            match self.expected {
                Some(e) if seq < e => {
                    self.counters.reordered += 1;
                    self.counters.lost = self.counters.lost.saturating_sub(1);
                }
                Some(e) => {
                    self.counters.lost += seq - e;
                    self.expected = Some(seq + 1);
                }
                None => self.expected = Some(seq + 1),
            }
            let payload = &d[SEQ_BYTES..];
            out[off..off + 4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
            out[off + 4..off + 4 + payload.len()].copy_from_slice(payload);
            off += 4 + payload.len();
            self.counters.frames_received += 1;
            self.counters.bytes_received += payload.len() as u64;
        }
        if got > 0 {
            self.counters.recv_batches += 1;
        }
        Ok(off)
    }

    /// Blocks up to `timeout_ms` until a datagram is readable; true if one is.
    pub fn wait(&self, timeout_ms: i32) -> bool {
        let mut p = libc::pollfd {
            fd: self.sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        unsafe { libc::poll(&mut p, 1, timeout_ms) > 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut out = vec![];
        for f in frames {
            out.extend_from_slice(&(f.len() as u32).to_le_bytes());
            out.extend_from_slice(f);
        }
        out
    }

    #[test]
    fn batches_arrive_in_order_with_no_loss_on_loopback() {
        let mut a = UdpEndpoint::bind("127.0.0.1:0", 1400).unwrap();
        let mut b = UdpEndpoint::bind("127.0.0.1:0", 1400).unwrap();
        a.connect(&format!("127.0.0.1:{}", b.local_port())).unwrap();
        let frames: Vec<Vec<u8>> = (0..500u32)
            .map(|i| i.to_le_bytes().repeat(1 + i as usize % 50))
            .collect();
        let batch = pack(&frames);
        let mut sent = 0;
        let mut got: Vec<Vec<u8>> = vec![];
        let mut out = vec![0u8; 65536];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while got.len() < frames.len() && std::time::Instant::now() < deadline {
            if sent < batch.len() {
                sent += a.send_packed(&batch[sent..]).unwrap();
            }
            b.wait(10);
            let n = b.recv_packed(&mut out).unwrap();
            let mut off = 0;
            while off < n {
                let len = u32::from_le_bytes(out[off..off + 4].try_into().unwrap()) as usize;
                got.push(out[off + 4..off + 4 + len].to_vec());
                off += 4 + len;
            }
        }
        assert_eq!(got, frames);
        assert_eq!(b.counters.lost, 0);
        assert_eq!(a.counters.frames_sent, 500);
        assert!(
            a.counters.send_batches >= 8,
            "500 frames take at least 8 sendmmsg calls of 64"
        );
    }

    #[test]
    fn skipped_sequence_numbers_count_as_loss() {
        let mut a = UdpEndpoint::bind("127.0.0.1:0", 100).unwrap();
        let mut b = UdpEndpoint::bind("127.0.0.1:0", 100).unwrap();
        a.connect(&format!("127.0.0.1:{}", b.local_port())).unwrap();
        a.send_packed(&pack(&[b"one".to_vec()])).unwrap();
        a.next_seq += 5; // as if five datagrams vanished on the way
        a.send_packed(&pack(&[b"two".to_vec()])).unwrap();
        let mut out = vec![0u8; 4096];
        let mut n = 0;
        while b.counters.frames_received < 2 {
            assert!(b.wait(5000));
            n += b.recv_packed(&mut out[n..]).unwrap();
        }
        assert_eq!(b.counters.lost, 5);
        assert_eq!(&out[4..7], b"one");
        assert!(a.send_packed(&pack(&[vec![0u8; 101]])).is_err());
    }
}
