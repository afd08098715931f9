/*
 * Exercises the C ABI of libarqon_native from C: shm listener/connect/send/recv/close in
 * both directions with wrap-around, and a UDP loopback batch. Exits 0 and prints
 * "abi_test ok" on success; any failed check prints it and exits 1.
 */
#include "arqon_native.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      uint8_t e[256];                                                          \
      uint32_t n = arqon_last_error(e, sizeof e - 1);                          \
      e[n < sizeof e - 1 ? n : sizeof e - 1] = 0;                              \
      fprintf(stderr, "abi_test: %s:%d: %s (last error: %s)\n", __FILE__,      \
              __LINE__, #cond, e);                                             \
      exit(1);                                                                 \
    }                                                                          \
  } while (0)

static uint32_t put_frame(uint8_t *buf, uint32_t off, uint32_t seq, uint32_t len) {
  memcpy(buf + off, &len, 4);
  for (uint32_t i = 0; i < len; i++) buf[off + 4 + i] = (uint8_t)(seq + i);
  return off + 4 + len;
}

/* Checks frames in `buf` continue the sequence `*next`; returns frames seen. */
static uint32_t check_frames(const uint8_t *buf, int32_t n, uint32_t *next) {
  uint32_t count = 0;
  int32_t off = 0;
  while (off < n) {
    uint32_t len;
    memcpy(&len, buf + off, 4);
    CHECK(len == 8 + (*next % 200));
    for (uint32_t i = 0; i < len; i++) CHECK(buf[off + 4 + i] == (uint8_t)(*next + i));
    off += 4 + (int32_t)len;
    (*next)++;
    count++;
  }
  CHECK(off == n);
  return count;
}

static void shm_round_trip(void) {
  char name[64];
  snprintf(name, sizeof name, "arqon-abi-test-%d", (int)getpid());
  CHECK(arqon_abi_version() == ARQON_ABI_VERSION);
  arqon_shm_listener *l = arqon_shm_listen(name, 2, 8192);
  CHECK(l != NULL);
  CHECK(arqon_shm_accept(l) == NULL);
  arqon_shm_endpoint *c = arqon_shm_connect(name);
  CHECK(c != NULL);
  CHECK(arqon_shm_listener_wait(l, 0, 1000) == 1);
  arqon_shm_endpoint *s = arqon_shm_accept(l);
  CHECK(s != NULL);
  CHECK(arqon_shm_peer_pid(s) == (uint32_t)getpid());
  CHECK(arqon_shm_max_frame(c) == 8192 / 2 - 8);
  static uint8_t batch[65536], out[65536];
  uint32_t to_send = 0, sent_next = 0, recv_next = 0, pending = 0, pos = 0;
  /* 5000 frames of 8..207 bytes through an 8 KiB ring: many wraps and full rings. */
  while (recv_next < 5000) {
    if (pos == pending && sent_next < 5000) {
      pending = 0;
      pos = 0;
      for (uint32_t k = 0; k < 50 && sent_next + k < 5000; k++)
        pending = put_frame(batch, pending, sent_next + k, 8 + ((sent_next + k) % 200));
      to_send = sent_next + (sent_next + 50 <= 5000 ? 50 : 5000 - sent_next);
    }
    if (pos < pending) {
      int32_t k = arqon_shm_send(c, batch + pos, pending - pos);
      CHECK(k >= 0);
      pos += (uint32_t)k;
      if (pos == pending) sent_next = to_send;
    }
    int32_t n = arqon_shm_recv(s, out, sizeof out);
    CHECK(n >= 0);
    check_frames(out, n, &recv_next);
  }
  uint64_t st[ARQON_SHM_STATS];
  CHECK(arqon_shm_stats(s, st, ARQON_SHM_STATS) == ARQON_SHM_STATS);
  CHECK(st[ARQON_SHM_FRAMES_RECEIVED] == 5000);
  CHECK(st[ARQON_SHM_CAPACITY] == 8192);
  CHECK(arqon_shm_stats(c, st, ARQON_SHM_STATS) == ARQON_SHM_STATS);
  CHECK(st[ARQON_SHM_FRAMES_SENT] == 5000);
  CHECK(st[ARQON_SHM_OVERRUNS] > 0);

  /* Reply direction, then close: the client drains the reply, then sees CLOSED. */
  uint32_t len = put_frame(batch, 0, 0, 8);
  CHECK(arqon_shm_send(s, batch, len) == (int32_t)len);
  arqon_shm_close(s);
  CHECK(arqon_shm_wait(c, 0, 1000000) == 1);
  uint32_t next = 0;
  int32_t n = arqon_shm_recv(c, out, sizeof out);
  CHECK(check_frames(out, n, &next) == 1);
  CHECK(arqon_shm_recv(c, out, sizeof out) == ARQON_E_CLOSED);
  CHECK(arqon_shm_alive(c) == 0);
  CHECK(arqon_shm_send(c, batch, len) == ARQON_E_CLOSED);
  arqon_shm_close(c);
  arqon_shm_listener_close(l);
  CHECK(arqon_shm_connect(name) == NULL);
}

static void udp_round_trip(void) {
  arqon_udp *a = arqon_udp_bind("127.0.0.1:0", 1024);
  arqon_udp *b = arqon_udp_bind("127.0.0.1:0", 1024);
  CHECK(a != NULL && b != NULL);
  char addr[64];
  snprintf(addr, sizeof addr, "127.0.0.1:%u", arqon_udp_port(b));
  CHECK(arqon_udp_connect(a, addr) == 0);
  static uint8_t batch[65536], out[65536];
  uint32_t len = 0;
  for (uint32_t i = 0; i < 100; i++) len = put_frame(batch, len, i, 8 + (i % 200));
  CHECK(arqon_udp_send(a, batch, len) == (int32_t)len);
  uint32_t next = 0;
  while (next < 100) {
    CHECK(arqon_udp_wait(b, 5000) == 1);
    int32_t n = arqon_udp_recv(b, out, sizeof out);
    CHECK(n >= 0);
    check_frames(out, n, &next);
  }
  uint64_t st[ARQON_UDP_STATS];
  CHECK(arqon_udp_stats(b, st, ARQON_UDP_STATS) == ARQON_UDP_STATS);
  CHECK(st[ARQON_UDP_FRAMES_RECEIVED] == 100 && st[ARQON_UDP_LOST] == 0);
  CHECK(arqon_udp_stats(a, st, ARQON_UDP_STATS) == ARQON_UDP_STATS);
  CHECK(st[ARQON_UDP_SEND_BATCHES] == 2);
  arqon_udp_close(a);
  arqon_udp_close(b);
}

int main(void) {
  shm_round_trip();
  udp_round_trip();
  puts("abi_test ok");
  return 0;
}
