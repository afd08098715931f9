/*
 * A node client in C over shared memory: the protobuf `Frame`s a WebSocket client sends,
 * hand-encoded, through the C ABI of libarqon_native.
 *
 *   shm_pubsub <shm-name> <subscribe-pattern> <publish-topic> <count> <seed> <peer-seed>
 *
 * Subscribes (id 1) and prints "ready" once the node confirms; waits for a line on stdin;
 * publishes <count> pulses whose 8-byte payload is [u32 index][u32 index*2654435761+seed];
 * meanwhile receives deliveries until <count> arrived, checking they come in index order
 * and carry the peer's checksum values. Prints "done sent=N received=N checksum=X" and
 * exits 0, or prints the failure and exits 1 (2 on a 60 s timeout).
 */
#include "arqon_native.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static arqon_shm_endpoint *ep;
static uint8_t rx[1 << 20];
static uint32_t expect_next, peer_seed;
static uint32_t received, checksum;
static int subscribed;

static void fail(const char *what) {
  printf("fail %s (received=%u)\n", what, received);
  fflush(stdout);
  exit(1);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- protobuf: just enough to write Subscribe/Publish and read Deliver/Batch ---- */

static size_t put_varint(uint8_t *p, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}

static size_t put_bytes(uint8_t *p, uint32_t field, const void *data, size_t len) {
  size_t n = put_varint(p, (field << 3) | 2);
  n += put_varint(p + n, len);
  memcpy(p + n, data, len);
  return n + len;
}

static int get_varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return 1;
    }
  }
  return 0;
}

/* Iterates the fields of one message: returns 0 at the end, -1 on malformed input. For
 * length-delimited fields, *data and *len are set; for varints, *value. */
static int next_field(const uint8_t **p, const uint8_t *end, uint32_t *field,
                      const uint8_t **data, uint64_t *len, uint64_t *value) {
  if (*p >= end) return 0;
  uint64_t key;
  if (!get_varint(p, end, &key)) return -1;
  *field = (uint32_t)(key >> 3);
  switch (key & 7) {
    case 0:
      return get_varint(p, end, value) ? 1 : -1;
    case 1:
      if (end - *p < 8) return -1;
      *p += 8;
      return 1;
    case 5:
      if (end - *p < 4) return -1;
      *p += 4;
      return 1;
    case 2:
      if (!get_varint(p, end, len) || (uint64_t)(end - *p) < *len) return -1;
      *data = *p;
      *p += *len;
      return 1;
    default:
      return -1;
  }
}

static void on_pulse(const uint8_t *p, const uint8_t *end) {
  uint32_t f;
  const uint8_t *d = NULL;
  uint64_t len = 0, v;
  int r;
  while ((r = next_field(&p, end, &f, &d, &len, &v)) > 0) {
    if (f == 11) { /* payload */
      if (len != 8) fail("payload is not 8 bytes");
      uint32_t idx, sum;
      memcpy(&idx, d, 4);
      memcpy(&sum, d + 4, 4);
      if (idx != expect_next) fail("delivery out of order");
      if (sum != (uint32_t)(idx * 2654435761u + peer_seed)) fail("payload checksum mismatch");
      expect_next++;
      received++;
      checksum += sum;
    }
  }
  if (r < 0) fail("malformed pulse");
}

static void on_frame(const uint8_t *p, const uint8_t *end, int depth) {
  uint32_t f;
  const uint8_t *d = NULL;
  uint64_t len = 0, v;
  int r;
  while ((r = next_field(&p, end, &f, &d, &len, &v)) > 0) {
    if (f == 14 && depth == 0) { /* batch: repeated Frame frames = 1 */
      const uint8_t *q = d, *qend = d + len;
      uint32_t bf;
      const uint8_t *bd = NULL;
      uint64_t blen = 0, bv;
      int br;
      while ((br = next_field(&q, qend, &bf, &bd, &blen, &bv)) > 0)
        if (bf == 1) on_frame(bd, bd + blen, 1);
      if (br < 0) fail("malformed batch");
    } else if (f == 8) { /* deliver: subscription_id = 1, pulse = 2 */
      const uint8_t *q = d, *qend = d + len;
      uint32_t df;
      const uint8_t *dd = NULL;
      uint64_t dlen = 0, dv = 0, sub = 0;
      int dr;
      while ((dr = next_field(&q, qend, &df, &dd, &dlen, &dv)) > 0) {
        if (df == 1) sub = dv;
        if (df == 2) {
          if (sub != 1) fail("delivery for an unknown subscription");
          on_pulse(dd, dd + dlen);
        }
      }
      if (dr < 0) fail("malformed deliver");
    } else if (f == 6) { /* subscribed */
      subscribed = 1;
    } else if (f == 11) { /* error */
      fail("node sent an Error frame");
    }
  }
  if (r < 0) fail("malformed frame");
}

static void drain(void) {
  for (;;) {
    int32_t n = arqon_shm_recv(ep, rx, sizeof rx);
    if (n == ARQON_E_CLOSED) fail("node closed the connection");
    if (n < 0) fail("receive error");
    if (n == 0) return;
    int32_t off = 0;
    while (off < n) {
      uint32_t len;
      memcpy(&len, rx + off, 4);
      on_frame(rx + off + 4, rx + off + 4 + len, 0);
      off += 4 + (int32_t)len;
    }
  }
}

/* Sends the packed batch, receiving meanwhile so neither direction can wedge. */
static void send_all(const uint8_t *batch, uint32_t len, double deadline) {
  uint32_t off = 0;
  while (off < len) {
    int32_t k = arqon_shm_send(ep, batch + off, len - off);
    if (k < 0) fail("send error");
    off += (uint32_t)k;
    drain();
    if (now_s() > deadline) {
      puts("timeout while sending");
      exit(2);
    }
  }
}

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s <shm-name> <pattern> <topic> <count> <seed> <peer-seed>\n", argv[0]);
    return 64;
  }
  const char *pattern = argv[2], *topic = argv[3];
  uint32_t count = (uint32_t)strtoul(argv[4], NULL, 10);
  uint32_t seed = (uint32_t)strtoul(argv[5], NULL, 10);
  peer_seed = (uint32_t)strtoul(argv[6], NULL, 10);
  double deadline = now_s() + 60;
  ep = arqon_shm_connect(argv[1]);
  if (!ep) {
    uint8_t e[256];
    uint32_t n = arqon_last_error(e, sizeof e - 1);
    e[n < sizeof e - 1 ? n : sizeof e - 1] = 0;
    printf("fail connect: %s\n", e);
    return 1;
  }

  static uint8_t batch[65536];
  uint8_t body[512], frame[600];
  /* Frame{subscribe(5){subscription_id(1)=1, pattern(3), correlation_id(12)=1}} */
  size_t b = 0;
  b += put_varint(body + b, (1 << 3) | 0);
  b += put_varint(body + b, 1);
  b += put_bytes(body + b, 3, pattern, strlen(pattern));
  b += put_varint(body + b, (12 << 3) | 0);
  b += put_varint(body + b, 1);
  size_t fl = put_bytes(frame, 5, body, b);
  uint32_t l32 = (uint32_t)fl;
  memcpy(batch, &l32, 4);
  memcpy(batch + 4, frame, fl);
  send_all(batch, 4 + l32, deadline);
  while (!subscribed) {
    arqon_shm_wait(ep, 50, 100000);
    drain();
    if (now_s() > deadline) {
      puts("timeout waiting for subscribed");
      return 2;
    }
  }
  puts("ready");
  fflush(stdout);
  char line[16];
  if (!fgets(line, sizeof line, stdin)) fail("stdin closed before go");

  /* Frame{publish(3){pulse(3){topic(3), payload(11)}}}, ack none, 64 per FFI call. */
  uint32_t sent = 0;
  while (sent < count) {
    uint32_t len = 0;
    for (uint32_t k = 0; k < 64 && sent < count; k++, sent++) {
      uint8_t payload[8], pulse[300], publish[320];
      uint32_t sum = sent * 2654435761u + seed;
      memcpy(payload, &sent, 4);
      memcpy(payload + 4, &sum, 4);
      size_t pl = put_bytes(pulse, 3, topic, strlen(topic));
      pl += put_bytes(pulse + pl, 11, payload, 8);
      size_t ul = put_bytes(publish, 3, pulse, pl);
      uint32_t fl2 = (uint32_t)put_bytes(batch + len + 4, 3, publish, ul);
      memcpy(batch + len, &fl2, 4);
      len += 4 + fl2;
    }
    send_all(batch, len, deadline);
  }
  while (received < count) {
    arqon_shm_wait(ep, 50, 100000);
    drain();
    if (now_s() > deadline) {
      printf("timeout receiving: %u of %u\n", received, count);
      return 2;
    }
  }
  printf("done sent=%u received=%u checksum=%u\n", sent, received, checksum);
  fflush(stdout);
  arqon_shm_close(ep);
  return 0;
}
