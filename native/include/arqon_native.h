/*
 * ArqonBus native sidecar: C ABI of the core library (libarqon_native.so).
 *
 * Handles are opaque pointers; functions returning a handle give NULL on failure and
 * leave the reason in arqon_last_error(). A "batch" is frames packed back to back as
 * [uint32 little-endian length][bytes]. Calls returning int32_t give a byte count (>= 0)
 * or a negative ARQON_E_* code. Every handle is used by one thread at a time.
 */
#ifndef ARQON_NATIVE_H
#define ARQON_NATIVE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ARQON_ABI_VERSION 1

/* The peer closed (or died) and nothing is left to read. */
#define ARQON_E_CLOSED (-1)
/* A frame is too large for the ring or datagram, or the output buffer is too small. */
#define ARQON_E_TOO_LARGE (-2)
/* Bad argument: NULL handle, malformed batch. */
#define ARQON_E_INVALID (-3)
/* An operating-system call failed; see arqon_last_error(). */
#define ARQON_E_OS (-4)

typedef struct arqon_shm_listener arqon_shm_listener;
typedef struct arqon_shm_endpoint arqon_shm_endpoint;
typedef struct arqon_udp arqon_udp;

uint32_t arqon_abi_version(void);
/* Copies the calling thread's last error (UTF-8, no NUL) into buf; returns its length. */
uint32_t arqon_last_error(uint8_t *buf, uint32_t cap);

/* ---- shared memory: /dev/shm/<name>, `slots` connections of two SPSC rings each ---- */

/* Server: create the listener. ring_bytes is rounded up to a power of two (4 KiB..1 GiB). */
arqon_shm_listener *arqon_shm_listen(const char *name, uint32_t slots, uint32_t ring_bytes);
/* Server: next connection waiting to be accepted, or NULL. */
arqon_shm_endpoint *arqon_shm_accept(arqon_shm_listener *l);
/* Server: 1 when a connection waits or an accepted one has input or closed, 0 on timeout. */
int32_t arqon_shm_listener_wait(arqon_shm_listener *l, uint32_t spin_us, uint32_t timeout_us);
/* Server: close the listener and unlink its name; accepted endpoints stay usable. */
void arqon_shm_listener_close(arqon_shm_listener *l);

/* Client: connect to the listener `name`. */
arqon_shm_endpoint *arqon_shm_connect(const char *name);

/* Send packed frames; returns bytes consumed (whole frames, fewer when the ring is full). */
int32_t arqon_shm_send(arqon_shm_endpoint *ep, const uint8_t *batch, uint32_t len);
/* Receive packed frames into out; bytes written, 0 if none, ARQON_E_CLOSED when drained. */
int32_t arqon_shm_recv(arqon_shm_endpoint *ep, uint8_t *out, uint32_t cap);
/* 1 readable, 0 timeout, -1 closed. Spins spin_us, then sleeps on a futex. */
int32_t arqon_shm_wait(arqon_shm_endpoint *ep, uint32_t spin_us, uint32_t timeout_us);
/* Largest frame the rings accept. */
uint32_t arqon_shm_max_frame(arqon_shm_endpoint *ep);
/* 1 while the peer is connected and its process alive, else 0 (one system call). */
int32_t arqon_shm_alive(arqon_shm_endpoint *ep);
uint32_t arqon_shm_peer_pid(arqon_shm_endpoint *ep);

/* Indexes of the values arqon_shm_stats fills. */
enum arqon_shm_stat {
  ARQON_SHM_CAPACITY = 0,
  ARQON_SHM_TX_FILL = 1,
  ARQON_SHM_RX_FILL = 2,
  ARQON_SHM_TX_PEAK_FILL = 3,
  ARQON_SHM_FRAMES_SENT = 4,
  ARQON_SHM_BYTES_SENT = 5,
  ARQON_SHM_FRAMES_RECEIVED = 6,
  ARQON_SHM_BYTES_RECEIVED = 7,
  ARQON_SHM_OVERRUNS = 8,
  ARQON_SHM_SEND_BATCHES = 9,
  ARQON_SHM_RECV_BATCHES = 10,
  ARQON_SHM_PEER_CLOSED = 11,
  ARQON_SHM_STATS = 12
};
/* Fills out[0..n]; returns values written. */
uint32_t arqon_shm_stats(arqon_shm_endpoint *ep, uint64_t *out, uint32_t n);
/* Close (the peer sees ARQON_E_CLOSED after draining) and free. */
void arqon_shm_close(arqon_shm_endpoint *ep);

/* ---- UDP: sendmmsg/recvmmsg batches, 8-byte sequence header per datagram ---- */

arqon_udp *arqon_udp_bind(const char *addr, uint32_t max_frame);
uint32_t arqon_udp_port(arqon_udp *u);
int32_t arqon_udp_connect(arqon_udp *u, const char *addr);
int32_t arqon_udp_send(arqon_udp *u, const uint8_t *batch, uint32_t len);
int32_t arqon_udp_recv(arqon_udp *u, uint8_t *out, uint32_t cap);
int32_t arqon_udp_wait(arqon_udp *u, uint32_t timeout_ms);

enum arqon_udp_stat {
  ARQON_UDP_FRAMES_SENT = 0,
  ARQON_UDP_BYTES_SENT = 1,
  ARQON_UDP_FRAMES_RECEIVED = 2,
  ARQON_UDP_BYTES_RECEIVED = 3,
  ARQON_UDP_LOST = 4,
  ARQON_UDP_REORDERED = 5,
  ARQON_UDP_MALFORMED = 6,
  ARQON_UDP_SEND_BATCHES = 7,
  ARQON_UDP_RECV_BATCHES = 8,
  ARQON_UDP_OVERRUNS = 9,
  ARQON_UDP_STATS = 10
};
uint32_t arqon_udp_stats(arqon_udp *u, uint64_t *out, uint32_t n);
void arqon_udp_close(arqon_udp *u);

/* ---- benchmark reference ---- */

/* Pure-Rust two-thread run over the same ring; elapsed ns (0 on failure), checksum out. */
uint64_t arqon_bench_ring_threads(uint32_t messages, uint32_t size, uint32_t batch,
                                  uint32_t ring_bytes, uint64_t *checksum);

#ifdef __cplusplus
}
#endif

#endif /* ARQON_NATIVE_H */
