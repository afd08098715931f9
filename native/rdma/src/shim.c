/*
 * C shim over libibverbs for the arqon_rdma crate: one reliable-connected queue pair per
 * connection. Each side registers one memory region: a receive ring the peer writes
 * frames into with RDMA WRITE with immediate (the immediate carries the frame length),
 * followed by 16 bytes of "consumed" counters (bytes, records) the receiver writes back into the sender's
 * region (plain RDMA WRITE) so the sender knows how much ring space is free.
 *
 * Ring records: [u32 len][bytes] padded to 8; a record never wraps: when it does not fit
 * before the end, the sender skips to offset 0 and says so in bit 31 of the immediate
 * (the rest is the record's padded size), so the receiver never reads stale bytes.
 */
#include <infiniband/verbs.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define RECV_DEPTH 256
#define SEND_DEPTH 128

struct arqon_rdma_info {
  uint32_t qpn;
  uint32_t psn;
  uint32_t rkey;
  uint32_t ring_bytes;
  uint64_t addr;
  uint16_t lid;
  uint8_t gid[16];
  uint8_t port;
  uint8_t gid_index;
};

struct arqon_rdma {
  struct ibv_context *ctx;
  struct ibv_pd *pd;
  struct ibv_cq *cq;
  struct ibv_qp *qp;
  struct ibv_mr *mr;     /* ring + consumed word (what the peer writes into) */
  struct ibv_mr *send_mr; /* staging buffer for outgoing frames */
  uint8_t *region;
  uint8_t *send_buf;
  uint32_t ring_bytes;
  uint8_t port;
  uint8_t gid_index;
  struct arqon_rdma_info remote;
  uint64_t tx_head;    /* bytes written into the peer's ring (free-running) */
  uint64_t rx_tail;    /* bytes consumed from our ring (free-running) */
  uint64_t tx_records; /* records written into the peer's ring */
  uint64_t rx_records; /* records consumed from our ring */
  uint32_t imms[2 * RECV_DEPTH]; /* announced records, oldest first: bit 31 = skip to 0 */
  uint32_t imm_head, imm_tail;
  uint32_t unsignaled;
  uint32_t outstanding;
};

static uint64_t record_bytes(uint32_t len) { return ((uint64_t)len + 4 + 7) & ~(uint64_t)7; }

int arqon_rdma_shim_device_count(void) {
  int n = 0;
  struct ibv_device **list = ibv_get_device_list(&n);
  if (list) ibv_free_device_list(list);
  return list ? n : 0;
}

static int post_recvs(struct arqon_rdma *r, int n) {
  for (int i = 0; i < n; i++) {
    struct ibv_recv_wr wr, *bad;
    memset(&wr, 0, sizeof wr);
    wr.wr_id = 1;
    wr.num_sge = 0; /* WRITE with immediate: data lands via RDMA, the WR carries the imm */
    int e = ibv_post_recv(r->qp, &wr, &bad);
    if (e) return -e;
  }
  return 0;
}

void arqon_rdma_shim_close(struct arqon_rdma *r) {
  if (!r) return;
  if (r->qp) ibv_destroy_qp(r->qp);
  if (r->mr) ibv_dereg_mr(r->mr);
  if (r->send_mr) ibv_dereg_mr(r->send_mr);
  if (r->cq) ibv_destroy_cq(r->cq);
  if (r->pd) ibv_dealloc_pd(r->pd);
  if (r->ctx) ibv_close_device(r->ctx);
  free(r->region);
  free(r->send_buf);
  free(r);
}

/* Opens `dev_name` (NULL: the first device), sets up PD, CQ, RC QP (state INIT) and the
 * registered ring. Returns 0, -ENODEV when there is no RDMA device, or -errno. */
int arqon_rdma_shim_open(const char *dev_name, uint8_t port, uint32_t ring_bytes, uint8_t gid_index,
                         struct arqon_rdma **out) {
  int n = 0;
  struct ibv_device **list = ibv_get_device_list(&n);
  if (!list || n == 0) {
    if (list) ibv_free_device_list(list);
    return -ENODEV;
  }
  struct ibv_device *dev = NULL;
  for (int i = 0; i < n; i++)
    if (!dev_name || strcmp(ibv_get_device_name(list[i]), dev_name) == 0) {
      dev = list[i];
      break;
    }
  if (!dev) {
    ibv_free_device_list(list);
    return -ENODEV;
  }
  struct arqon_rdma *r = calloc(1, sizeof *r);
  if (!r) return -ENOMEM;
  r->ring_bytes = ring_bytes;
  r->port = port;
  r->gid_index = gid_index;
  r->ctx = ibv_open_device(dev);
  ibv_free_device_list(list);
  int err = ENOMEM;
  if (!r->ctx) goto fail;
  if (!(r->pd = ibv_alloc_pd(r->ctx))) goto fail;
  if (!(r->cq = ibv_create_cq(r->ctx, RECV_DEPTH + SEND_DEPTH, NULL, NULL, 0))) goto fail;
  if (posix_memalign((void **)&r->region, 4096, ring_bytes + 16)) goto fail;
  memset(r->region, 0, ring_bytes + 16);
  if (posix_memalign((void **)&r->send_buf, 4096, ring_bytes + 16)) goto fail;
  r->mr = ibv_reg_mr(r->pd, r->region, ring_bytes + 16,
                     IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
  if (!r->mr) goto fail;
  r->send_mr = ibv_reg_mr(r->pd, r->send_buf, ring_bytes + 16, IBV_ACCESS_LOCAL_WRITE);
  if (!r->send_mr) goto fail;
  struct ibv_qp_init_attr qa;
  memset(&qa, 0, sizeof qa);
  qa.send_cq = r->cq;
  qa.recv_cq = r->cq;
  qa.qp_type = IBV_QPT_RC;
  qa.cap.max_send_wr = SEND_DEPTH;
  qa.cap.max_recv_wr = RECV_DEPTH;
  qa.cap.max_send_sge = 1;
  qa.cap.max_recv_sge = 1;
  if (!(r->qp = ibv_create_qp(r->pd, &qa))) goto fail;
  struct ibv_qp_attr a;
  memset(&a, 0, sizeof a);
  a.qp_state = IBV_QPS_INIT;
  a.pkey_index = 0;
  a.port_num = port;
  a.qp_access_flags = IBV_ACCESS_REMOTE_WRITE;
  if ((err = ibv_modify_qp(r->qp, &a,
                           IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS)))
    goto fail;
  if ((err = -post_recvs(r, RECV_DEPTH))) goto fail;
  *out = r;
  return 0;
fail:
  arqon_rdma_shim_close(r);
  return -(err ? err : EIO);
}

/* What the peer needs to connect to us (exchanged out of band). */
int arqon_rdma_shim_local_info(struct arqon_rdma *r, struct arqon_rdma_info *info) {
  struct ibv_port_attr pa;
  if (ibv_query_port(r->ctx, r->port, &pa)) return -errno;
  union ibv_gid gid;
  memset(&gid, 0, sizeof gid);
  if (ibv_query_gid(r->ctx, r->port, r->gid_index, &gid)) return -errno;
  memset(info, 0, sizeof *info);
  info->qpn = r->qp->qp_num;
  info->psn = r->qp->qp_num & 0xffffff;
  info->rkey = r->mr->rkey;
  info->ring_bytes = r->ring_bytes;
  info->addr = (uint64_t)(uintptr_t)r->region;
  info->lid = pa.lid;
  memcpy(info->gid, gid.raw, 16);
  info->port = r->port;
  info->gid_index = r->gid_index;
  return 0;
}

/* Moves the QP to RTR and RTS against the peer's info. */
int arqon_rdma_shim_connect(struct arqon_rdma *r, const struct arqon_rdma_info *remote) {
  if (remote->ring_bytes != r->ring_bytes) return -EINVAL; /* send staging mirrors the peer */
  r->remote = *remote;
  struct ibv_qp_attr a;
  memset(&a, 0, sizeof a);
  a.qp_state = IBV_QPS_RTR;
  a.path_mtu = IBV_MTU_1024;
  a.dest_qp_num = remote->qpn;
  a.rq_psn = remote->psn;
  a.max_dest_rd_atomic = 1;
  a.min_rnr_timer = 12;
  a.ah_attr.port_num = r->port;
  a.ah_attr.dlid = remote->lid;
  int zero_gid = 1;
  for (int i = 0; i < 16; i++) zero_gid &= remote->gid[i] == 0;
  if (!zero_gid) { /* RoCE and routed IB need the GRH */
    a.ah_attr.is_global = 1;
    memcpy(a.ah_attr.grh.dgid.raw, remote->gid, 16);
    a.ah_attr.grh.sgid_index = r->gid_index;
    a.ah_attr.grh.hop_limit = 1;
  }
  int e = ibv_modify_qp(r->qp, &a,
                        IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
                            IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER);
  if (e) return -e;
  memset(&a, 0, sizeof a);
  a.qp_state = IBV_QPS_RTS;
  a.timeout = 14;
  a.retry_cnt = 7;
  a.rnr_retry = 7;
  a.sq_psn = r->qp->qp_num & 0xffffff;
  a.max_rd_atomic = 1;
  e = ibv_modify_qp(r->qp, &a,
                    IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
                        IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
  return -e;
}

static int post_write(struct arqon_rdma *r, uint64_t local_off, uint32_t len, uint64_t remote_addr,
                      int with_imm, uint32_t imm) {
  struct ibv_sge sge = {.addr = (uintptr_t)(r->send_buf + local_off), .length = len,
                        .lkey = r->send_mr->lkey};
  struct ibv_send_wr wr, *bad;
  memset(&wr, 0, sizeof wr);
  wr.wr_id = 2;
  wr.sg_list = &sge;
  wr.num_sge = 1;
  wr.opcode = with_imm ? IBV_WR_RDMA_WRITE_WITH_IMM : IBV_WR_RDMA_WRITE;
  wr.imm_data = htonl(imm);
  /* Signal one in 32 so the send queue drains without a completion per frame. */
  if (++r->unsignaled >= 32 || r->outstanding + 1 >= SEND_DEPTH) {
    wr.send_flags = IBV_SEND_SIGNALED;
    r->unsignaled = 0;
  }
  int e = ibv_post_send(r->qp, &wr, &bad);
  if (e) return -e;
  r->outstanding++;
  return 0;
}

/* Polls completions: send completions free the queue; receive completions (WRITE with
 * immediate) announce `imm` bytes of new records. Returns records announced, or -errno. */
int arqon_rdma_shim_poll(struct arqon_rdma *r) {
  struct ibv_wc wc[32];
  int got = ibv_poll_cq(r->cq, 32, wc);
  if (got < 0) return -EIO;
  int records = 0;
  for (int i = 0; i < got; i++) {
    if (wc[i].status != IBV_WC_SUCCESS) return -EIO;
    if (wc[i].opcode == IBV_WC_RECV_RDMA_WITH_IMM) {
      r->imms[r->imm_head++ % (2 * RECV_DEPTH)] = ntohl(wc[i].imm_data);
      records++;
      post_recvs(r, 1);
    } else {
      r->outstanding = 0; /* a signaled completion retires every earlier unsignaled WR */
    }
  }
  return records;
}

/* Writes packed frames ([u32 len][bytes]) into the peer's ring; returns bytes consumed. */
int32_t arqon_rdma_shim_send(struct arqon_rdma *r, const uint8_t *batch, uint32_t len) {
  arqon_rdma_shim_poll(r);
  /* The peer's consumed bytes and records, written back into our region. */
  volatile uint64_t *consumed = (volatile uint64_t *)(r->region + r->ring_bytes);
  volatile uint64_t *consumed_records = consumed + 1;
  uint64_t cap = r->remote.ring_bytes;
  uint32_t off = 0;
  while (off + 4 <= len && r->outstanding + 2 < SEND_DEPTH) {
    uint32_t fl;
    memcpy(&fl, batch + off, 4);
    if (off + 4 + fl > len) break;
    uint64_t rec = record_bytes(fl);
    if (rec > cap / 2) return off ? (int32_t)off : -E2BIG;
    uint64_t pos = r->tx_head % cap;
    uint64_t skip = pos + rec > cap ? cap - pos : 0;
    if (r->tx_head + skip + rec - *consumed > cap) break; /* peer's ring is full */
    /* Every record needs a posted receive (and a slot in the peer's imm FIFO). */
    if (r->tx_records - *consumed_records >= RECV_DEPTH) break;
    r->tx_head += skip;
    pos = r->tx_head % cap;
    memcpy(r->send_buf + pos, batch + off, 4 + fl);
    int e = post_write(r, pos, (uint32_t)(4 + fl), r->remote.addr + pos, 1,
                       (uint32_t)rec | (skip ? 0x80000000u : 0));
    if (e) return e;
    r->tx_head += rec;
    r->tx_records++;
    off += 4 + fl;
  }
  return (int32_t)off;
}

/* Copies announced records into `out` (packed) and tells the peer what was consumed. */
int32_t arqon_rdma_shim_recv(struct arqon_rdma *r, uint8_t *out, uint32_t cap) {
  int p = arqon_rdma_shim_poll(r);
  if (p < 0) return p;
  uint32_t w = 0;
  uint64_t ring = r->ring_bytes;
  while (r->imm_tail != r->imm_head) {
    uint32_t imm = r->imms[r->imm_tail % (2 * RECV_DEPTH)];
    uint64_t tail = r->rx_tail;
    if (imm & 0x80000000u) tail += ring - tail % ring; /* the sender skipped to 0 */
    uint64_t pos = tail % ring;
    uint32_t fl;
    memcpy(&fl, r->region + pos, 4);
    if (w + 4 + fl > cap) break;
    memcpy(out + w, r->region + pos, 4 + fl);
    w += 4 + fl;
    r->rx_tail = tail + (imm & 0x7fffffffu);
    r->rx_records++;
    r->imm_tail++;
  }
  if (w > 0) {
    /* Publish our consumed position into the sender's region (its ring_bytes offset). */
    memcpy(r->send_buf + r->ring_bytes, &r->rx_tail, 8);
    memcpy(r->send_buf + r->ring_bytes + 8, &r->rx_records, 8);
    int e = post_write(r, r->ring_bytes, 16, r->remote.addr + r->remote.ring_bytes, 0, 0);
    if (e) return e;
  }
  return (int32_t)w;
}
