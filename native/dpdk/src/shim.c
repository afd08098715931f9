/*
 * C shim over DPDK 22.11 for the arqon_dpdk crate: DPDK's burst and mbuf calls are
 * static inline functions in its headers, so Rust calls these wrappers instead.
 * Frames travel as [u64 little-endian sequence][payload] in one mbuf segment each.
 */
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <stdio.h>
#include <string.h>

#define BURST 64

int arqon_dpdk_shim_eal_init(int argc, char **argv) {
  int r = rte_eal_init(argc, argv);
  return r < 0 ? -rte_errno : r;
}

int arqon_dpdk_shim_eal_cleanup(void) { return rte_eal_cleanup(); }

const char *arqon_dpdk_shim_strerror(int err) { return rte_strerror(err < 0 ? -err : err); }

int arqon_dpdk_shim_port_by_name(const char *name, uint16_t *port) {
  return rte_eth_dev_get_port_by_name(name, port);
}

/* Creates the pool, configures one RX and one TX queue, starts the port. */
int arqon_dpdk_shim_port_start(uint16_t port, uint16_t nb_desc, unsigned nb_mbufs,
                               struct rte_mempool **pool_out) {
  char pool_name[RTE_MEMPOOL_NAMESIZE];
  snprintf(pool_name, sizeof pool_name, "arqon_pool_%u", port);
  struct rte_mempool *pool = rte_pktmbuf_pool_create(pool_name, nb_mbufs, 0, 0,
                                                     RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (!pool) return -rte_errno;
  struct rte_eth_conf conf;
  memset(&conf, 0, sizeof conf);
  int r = rte_eth_dev_configure(port, 1, 1, &conf);
  if (r < 0) return r;
  uint16_t rxd = nb_desc, txd = nb_desc;
  r = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
  if (r < 0) return r;
  r = rte_eth_rx_queue_setup(port, 0, rxd, rte_eth_dev_socket_id(port), NULL, pool);
  if (r < 0) return r;
  r = rte_eth_tx_queue_setup(port, 0, txd, rte_eth_dev_socket_id(port), NULL);
  if (r < 0) return r;
  r = rte_eth_dev_start(port);
  if (r < 0) return r;
  *pool_out = pool;
  return 0;
}

/* 1 when the link is up. */
int arqon_dpdk_shim_link_up(uint16_t port) {
  struct rte_eth_link link;
  memset(&link, 0, sizeof link);
  if (rte_eth_link_get_nowait(port, &link) < 0) return 0;
  return link.link_status == RTE_ETH_LINK_UP;
}

void arqon_dpdk_shim_port_stop(uint16_t port, struct rte_mempool *pool) {
  rte_eth_dev_stop(port);
  rte_eth_dev_close(port);
  if (pool) rte_mempool_free(pool);
}

/*
 * Sends up to 64 packed frames ([u32 len][bytes]) from `batch`, each prefixed with its
 * sequence number (first_seq, first_seq + 1, ...). Returns frames sent; *consumed gets
 * the bytes of `batch` they took. Frames larger than an mbuf stop the batch (-E2BIG if
 * first).
 */
int arqon_dpdk_shim_tx(uint16_t port, struct rte_mempool *pool, const uint8_t *batch,
                       uint32_t len, uint64_t first_seq, uint32_t *consumed) {
  struct rte_mbuf *m[BURST];
  uint32_t ends[BURST];
  uint32_t off = 0;
  int n = 0;
  /* Count the frames first so the mbufs come from the pool in one bulk call (without an
   * lcore cache, per-mbuf allocation costs a ring operation each). */
  int want = 0;
  for (uint32_t o = 0; want < BURST && o + 4 <= len; want++) {
    uint32_t fl;
    memcpy(&fl, batch + o, 4);
    if (o + 4 + fl > len) break;
    o += 4 + fl;
  }
  if (want == 0 || rte_pktmbuf_alloc_bulk(pool, m, (unsigned)want) != 0) {
    *consumed = 0;
    return 0;
  }
  while (n < want) {
    uint32_t fl;
    memcpy(&fl, batch + off, 4);
    if (off + 4 + fl > len) break;
    if (fl + 8 > RTE_MBUF_DEFAULT_DATAROOM) {
      if (n == 0) {
        rte_pktmbuf_free_bulk(m, (unsigned)want);
        *consumed = 0;
        return -E2BIG;
      }
      break;
    }
    struct rte_mbuf *b = m[n];
    uint8_t *p = (uint8_t *)rte_pktmbuf_append(b, (uint16_t)(fl + 8));
    uint64_t seq = first_seq + (uint64_t)n;
    memcpy(p, &seq, 8);
    memcpy(p + 8, batch + off + 4, fl);
    off += 4 + fl;
    ends[n] = off;
    n++;
  }
  if (n < want) rte_pktmbuf_free_bulk(m + n, (unsigned)(want - n));
  if (n == 0) {
    *consumed = 0;
    return 0;
  }
  uint16_t sent = rte_eth_tx_burst(port, 0, m, (uint16_t)n);
  if (sent < n) rte_pktmbuf_free_bulk(m + sent, (unsigned)(n - sent));
  *consumed = sent ? ends[sent - 1] : 0;
  return sent;
}

/*
 * Receives up to 64 packets into `out` packed as [u32 len][u64 seq][payload] (len counts
 * the sequence too), only as many as fit. Returns bytes written.
 */
int32_t arqon_dpdk_shim_rx(uint16_t port, uint8_t *out, uint32_t cap) {
  uint16_t want = (uint16_t)(cap / (4 + RTE_MBUF_DEFAULT_DATAROOM));
  if (want > BURST) want = BURST;
  if (want == 0) return -E2BIG;
  struct rte_mbuf *m[BURST];
  uint16_t got = rte_eth_rx_burst(port, 0, m, want);
  uint32_t off = 0;
  for (uint16_t i = 0; i < got; i++) {
    uint32_t pl = rte_pktmbuf_pkt_len(m[i]);
    memcpy(out + off, &pl, 4);
    /* Returns a pointer into the mbuf when the data is contiguous (no copy made). */
    const void *d = rte_pktmbuf_read(m[i], 0, pl, out + off + 4);
    if (d && d != out + off + 4) memcpy(out + off + 4, d, pl);
    off += 4 + pl;
  }
  if (got) rte_pktmbuf_free_bulk(m, got);
  return (int32_t)off;
}
