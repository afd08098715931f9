//! Cross-process wake-ups: a doorbell word in shared memory that a sleeper waits on with
//! `FUTEX_WAIT` (not the private variant, so it works across processes mapping the file).

use std::sync::atomic::{fence, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A sequence word the producer bumps and a count of sleepers, in shared memory.
#[repr(C)]
pub struct Doorbell {
    seq: AtomicU32,
    waiting: AtomicU32,
}

impl Doorbell {
    /// Clears the doorbell; only valid while nobody sleeps on it.
    pub fn reset(&self) {
        self.seq.store(0, Ordering::Relaxed);
        self.waiting.store(0, Ordering::Relaxed);
    }

    /// Wakes every sleeper. The caller issues a SeqCst fence after publishing data and
    /// before ringing, so a sleeper that announced itself is always seen.
    pub fn ring(&self) {
        if self.waiting.load(Ordering::Relaxed) != 0 {
            self.seq.fetch_add(1, Ordering::Release);
            futex_wake(&self.seq);
        }
    }

    /// Spins up to `spin` re-checking `ready`, then sleeps until rung, `ready`, or
    /// `timeout` (measured from the call) passes. Returns the last `ready()`.
    pub fn wait(&self, spin: Duration, timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
        let start = Instant::now();
        let spin = spin.min(timeout);
        let mut i = 0u32;
        loop {
            if ready() {
                return true;
            }
            i = i.wrapping_add(1);
            // Reading the clock on every spin would dominate; check it every 64 turns.
            if i % 64 == 0 && start.elapsed() >= spin {
                break;
            }
            std::hint::spin_loop();
        }
        loop {
            let seen = self.seq.load(Ordering::Acquire);
            self.waiting.fetch_add(1, Ordering::SeqCst);
            fence(Ordering::SeqCst);
            if ready() {
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                return true;
            }
            let elapsed = start.elapsed();
            if elapsed >= timeout {
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                return false;
            }
            futex_wait(&self.seq, seen, timeout - elapsed);
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            if ready() {
                return true;
            }
        }
    }
}

fn futex_wait(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // Spurious returns (EAGAIN when the word changed, EINTR) are fine: the caller re-checks.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word as *const AtomicU32 as *const u32,
            libc::FUTEX_WAIT,
            expected,
            &ts as *const libc::timespec,
        );
    }
}

fn futex_wake(word: &AtomicU32) {
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word as *const AtomicU32 as *const u32,
            libc::FUTEX_WAKE,
            i32::MAX,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    #[test]
    fn sleeper_wakes_on_ring_and_times_out_without() {
        let bell = Arc::new((
            Doorbell {
                seq: AtomicU32::new(0),
                waiting: AtomicU32::new(0),
            },
            AtomicBool::new(false),
        ));
        assert!(!bell
            .0
            .wait(Duration::from_micros(10), Duration::from_millis(5), || bell
                .1
                .load(Ordering::Acquire)));
        let b2 = bell.clone();
        let t = std::thread::spawn(move || {
            b2.0.wait(Duration::ZERO, Duration::from_secs(10), || {
                b2.1.load(Ordering::Acquire)
            })
        });
        std::thread::sleep(Duration::from_millis(20));
        bell.1.store(true, Ordering::Release);
        fence(Ordering::SeqCst);
        bell.0.ring();
        assert!(t.join().unwrap());
    }
}
