//! The pure-Rust reference for the benchmark: the same shm ring driven by two threads of
//! one process, with the same batching the Deno binding uses.

use crate::shm::{Client, Listener};
use std::time::{Duration, Instant};

/// Result of one run: elapsed nanoseconds and a checksum of all received payload bytes.
pub struct RingRun {
    /// Wall time from the first send to the last receive.
    pub elapsed_ns: u64,
    /// Sum over frames of (first u32 of the payload), to prove every frame arrived.
    pub checksum: u64,
}

/// Moves `messages` frames of `size` bytes (at least 4) in batches of `batch` through a
/// ring of `ring_bytes` between two threads.
pub fn two_thread_ring(
    messages: u32,
    size: u32,
    batch: u32,
    ring_bytes: u32,
) -> Result<RingRun, String> {
    let size = size.max(4) as usize;
    let batch = batch.max(1) as usize;
    let name = format!(
        "arqon-bench-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    )
    .replace(['(', ')'], "");
    let listener = Listener::create(&name, 1, ring_bytes).map_err(|e| e.to_string())?;
    let mut tx = Client::connect(&name).map_err(|e| e.to_string())?;
    let mut rx = listener.accept().ok_or("accept failed")?;
    let consumer = std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0u32;
        let mut sum = 0u64;
        while got < messages {
            match rx.recv_packed(&mut buf) {
                Ok(0) => {
                    rx.wait(Duration::from_micros(200), Duration::from_secs(5));
                }
                Ok(n) => {
                    let mut off = 0;
                    while off < n {
                        let len =
                            u32::from_le_bytes(buf[off..off + 4].try_into().unwrap()) as usize;
                        sum += u32::from_le_bytes(buf[off + 4..off + 8].try_into().unwrap()) as u64;
                        off += 4 + len;
                        got += 1;
                    }
                }
                Err(_) => break,
            }
        }
        (got, sum, Instant::now())
    });
    // One template batch; per frame only the index is rewritten (as the Deno producer does).
    let stride = 4 + size;
    let mut packed = vec![0u8; batch * stride];
    for i in 0..batch {
        packed[i * stride..i * stride + 4].copy_from_slice(&(size as u32).to_le_bytes());
    }
    let start = Instant::now();
    let mut sent = 0u32;
    while sent < messages {
        let n = (batch as u32).min(messages - sent) as usize;
        for i in 0..n {
            let at = i * stride + 4;
            packed[at..at + 4].copy_from_slice(&(sent + i as u32).to_le_bytes());
        }
        let len = n * stride;
        let mut off = 0;
        while off < len {
            let k = tx
                .send_packed(&packed[off..len])
                .map_err(|e| format!("{e:?}"))?;
            if k == 0 {
                std::hint::spin_loop();
            }
            off += k;
        }
        sent += n as u32;
    }
    let (got, checksum, end) = consumer.join().map_err(|_| "consumer panicked")?;
    if got != messages {
        return Err(format!("received {got} of {messages}"));
    }
    drop(listener);
    Ok(RingRun {
        elapsed_ns: (end - start).as_nanos() as u64,
        checksum,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn two_thread_ring_delivers_every_frame() {
        let r = super::two_thread_ring(200_000, 64, 64, 1 << 16).unwrap();
        let n = 200_000u64;
        assert_eq!(r.checksum, n * (n - 1) / 2);
    }
}
