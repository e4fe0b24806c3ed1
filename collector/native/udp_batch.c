/*
 * udp_batch: UDP sockets read in batches (recvmmsg), for the collector's receive thread.
 *
 * Why: node:dgram hands every datagram to JavaScript on its own (a 64 KiB allocation, one
 * recvmsg, a callback into JS with a fresh Buffer, address string and rinfo object). At
 * 50k-80k datagrams/s that was about 4-11 us of CPU per datagram, the largest single item
 * of the collector's CPU per record (bench/RESULTS.md, "Ingestion"). Here one call waits
 * for any of the sockets to be readable (poll), takes up to a batch of datagrams per
 * socket per system call (recvmmsg) and lays them out in the caller's buffer in the very
 * record layout of the shared ring (collector/src/service/receiver/datagram-ring.ts), so
 * JavaScript only checks the sender and copies each record on.
 *
 * Only Node-API (ABI-stable) is used, so the module built once works on any Node >= 18;
 * the headers come from the npm package node-api-headers (collector/native/build.mjs).
 *
 * Exports:
 *   open(family 4|6, address bytes (Uint8Array 16, network order), port, receiveBufferBytes)
 *       -> [fd, boundPort, receiveBufferBytes as the kernel reports it]
 *       Throws an Error whose `code` is the errno name (EADDRINUSE, EACCES, ...).
 *   receive(fds Int32Array, out Uint8Array, timeoutMs, stats Float64Array(2), gatherUs)
 *       -> bytes used
 *       Waits up to timeoutMs for data (0: do not wait); once there is some, lets more
 *       gather for gatherUs microseconds (0: not at all), then reads what is queued until
 *       `out` cannot take another batch. Why gather: at tens of thousands of datagrams per
 *       second, reading as soon as one is there means a wake-up and a few system calls for
 *       every one or two datagrams; a millisecond's wait (a few hundred KiB of socket
 *       buffer at most) turns that into one wake-up per batch. Records from byte 0 of `out`, each at a multiple
 *       of 8:
 *         +0  int32   payload length
 *         +4  int32   sender port | family (4 or 6) << 16
 *         +8  16 B    sender address, network order (IPv4 in the first 4 bytes)
 *         +24 float64 received at, ms since the epoch (whole ms, like Date.now())
 *         +32 payload, padded to a multiple of 8
 *       stats[0] += datagrams truncated (cannot happen: every slot holds 65536 bytes, more
 *       than the largest UDP payload), stats[1] += receive errors other than "nothing
 *       queued" (ICMP errors reported on the socket, for instance; the socket stays open).
 *   close(fd)
 *   SLOT_BYTES: bytes `out` needs per datagram of a batch; BATCH: datagrams per call per
 *   socket at most. `out` must hold at least SLOT_BYTES bytes.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RECORD_HEADER_BYTES 32
/* Largest UDP payload (65507 over IPv4, 65527 over IPv6) fits with room to spare. */
#define PAYLOAD_MAX 65536
#define SLOT_BYTES (RECORD_HEADER_BYTES + PAYLOAD_MAX)
#define BATCH 64
#define MAX_FDS 64

#define CHECK(call)                                                        \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error(env, "EINVAL", "udp_batch: " #call " failed");     \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

static napi_value throw_errno(napi_env env, int err, const char *what, const char *detail) {
  const char *name = strerrorname_np(err);
  char message[256];
  snprintf(message, sizeof message, "%s %s %s%s%s", what, name ? name : "EUNKNOWN", strerror(err), detail ? " " : "", detail ? detail : "");
  napi_throw_error(env, name ? name : "EUNKNOWN", message);
  return NULL;
}

static int get_uint8_array(napi_env env, napi_value value, uint8_t **data, size_t *length) {
  napi_typedarray_type type;
  void *base;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &type, length, &base, &buffer, &offset) != napi_ok) return 0;
  if (type != napi_uint8_array) return 0;
  *data = base;
  return 1;
}

/* The call's arguments into argv; exactly `expected` of them, else a TypeError naming `usage`. */
static int get_args(napi_env env, napi_callback_info info, size_t expected, napi_value *argv, const char *usage) {
  size_t argc = expected;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != expected) {
    napi_throw_type_error(env, NULL, usage);
    return 0;
  }
  return 1;
}

static napi_value Open(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv, "open(family, address, port, receiveBufferBytes)")) return NULL;
  int32_t family, port, wanted;
  uint8_t *address;
  size_t address_length;
  CHECK(napi_get_value_int32(env, argv[0], &family));
  if (!get_uint8_array(env, argv[1], &address, &address_length) || address_length != 16) {
    napi_throw_type_error(env, NULL, "address must be a Uint8Array of 16 bytes");
    return NULL;
  }
  CHECK(napi_get_value_int32(env, argv[2], &port));
  CHECK(napi_get_value_int32(env, argv[3], &wanted));
  if ((family != 4 && family != 6) || port < 0 || port > 65535 || wanted < 0) {
    napi_throw_range_error(env, NULL, "open: family must be 4 or 6, port 0..65535, receiveBufferBytes >= 0");
    return NULL;
  }

  struct sockaddr_storage storage;
  socklen_t storage_length;
  memset(&storage, 0, sizeof storage);
  if (family == 4) {
    struct sockaddr_in *sin = (struct sockaddr_in *)&storage;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    memcpy(&sin->sin_addr, address, 4);
    storage_length = sizeof *sin;
  } else {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&storage;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    memcpy(&sin6->sin6_addr, address, 16);
    storage_length = sizeof *sin6;
  }
  char where[INET6_ADDRSTRLEN + 16];
  char text[INET6_ADDRSTRLEN];
  inet_ntop(family == 4 ? AF_INET : AF_INET6, address, text, sizeof text);
  snprintf(where, sizeof where, family == 4 ? "%s:%d" : "[%s]:%d", text, port);

  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket", where);
  if (family == 6) {
    /* v6-only, as the node:dgram listeners: 0.0.0.0:P and [::]:P are two sockets. */
    int one = 1;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) {
      int err = errno;
      close(fd);
      return throw_errno(env, err, "setsockopt IPV6_V6ONLY", where);
    }
  }
  if (bind(fd, (struct sockaddr *)&storage, storage_length) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind", where);
  }
  /*
   * The receive buffer as large as asked: SO_RCVBUFFORCE passes net.core.rmem_max where the
   * process may (CAP_NET_ADMIN, e.g. root); otherwise SO_RCVBUF, which the kernel caps.
   */
  if (wanted > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &wanted, sizeof wanted) != 0) {
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &wanted, sizeof wanted);
  }
  int got = 0;
  socklen_t got_length = sizeof got;
  (void)getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &got_length);

  struct sockaddr_storage bound;
  socklen_t bound_length = sizeof bound;
  if (getsockname(fd, (struct sockaddr *)&bound, &bound_length) != 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "getsockname", where);
  }
  int bound_port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port : ((struct sockaddr_in6 *)&bound)->sin6_port);

  napi_value result, v;
  CHECK(napi_create_array_with_length(env, 3, &result));
  CHECK(napi_create_int32(env, fd, &v));
  CHECK(napi_set_element(env, result, 0, v));
  CHECK(napi_create_int32(env, bound_port, &v));
  CHECK(napi_set_element(env, result, 1, v));
  CHECK(napi_create_int32(env, got, &v));
  CHECK(napi_set_element(env, result, 2, v));
  return result;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)(ts.tv_nsec / 1000000);
}

/*
 * Read what is queued on `fd` into out[*used..length): batches of up to BATCH datagrams,
 * each received straight into its own SLOT_BYTES slot of `out`, then moved down so that
 * the records lie one after the other. Returns 0, or -1 on EBADF/ENOTSOCK (a bug: the
 * caller throws).
 */
static int drain(int fd, uint8_t *out, size_t length, size_t *used, double *stats, int *bad_errno) {
  struct mmsghdr messages[BATCH];
  struct iovec vectors[BATCH];
  struct sockaddr_storage senders[BATCH];
  for (;;) {
    size_t room = length - *used;
    int slots = (int)(room / SLOT_BYTES);
    if (slots <= 0) return 0;
    if (slots > BATCH) slots = BATCH;
    /*
     * *used is a multiple of 8 (records are padded to 8) and so is SLOT_BYTES: every slot,
     * and every record moved down, starts 8-aligned. A record never overruns the next
     * slot's payload: 32 + at most PAYLOAD_MAX bytes from at or below its own slot.
     */
    size_t base = *used;
    for (int i = 0; i < slots; i++) {
      vectors[i].iov_base = out + base + (size_t)i * SLOT_BYTES + RECORD_HEADER_BYTES;
      vectors[i].iov_len = PAYLOAD_MAX;
      memset(&messages[i].msg_hdr, 0, sizeof messages[i].msg_hdr);
      messages[i].msg_hdr.msg_iov = &vectors[i];
      messages[i].msg_hdr.msg_iovlen = 1;
      messages[i].msg_hdr.msg_name = &senders[i];
      messages[i].msg_hdr.msg_namelen = sizeof senders[i];
      messages[i].msg_len = 0;
    }
    int n = recvmmsg(fd, messages, (unsigned)slots, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      if (errno == EBADF || errno == ENOTSOCK || errno == EFAULT || errno == EINVAL) {
        *bad_errno = errno;
        return -1;
      }
      /* A pending socket error (ICMP port unreachable and the like): counted, go on. */
      stats[1] += 1;
      return 0;
    }
    double at = now_ms();
    size_t write = base;
    for (int i = 0; i < n; i++) {
      uint8_t *slot = out + base + (size_t)i * SLOT_BYTES;
      size_t payload = messages[i].msg_len;
      if (messages[i].msg_hdr.msg_flags & MSG_TRUNC) {
        stats[0] += 1;
        continue;
      }
      int32_t meta;
      uint8_t address[16];
      memset(address, 0, sizeof address);
      if (senders[i].ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&senders[i];
        memcpy(address, &sin->sin_addr, 4);
        meta = (int32_t)ntohs(sin->sin_port) | (4 << 16);
      } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&senders[i];
        memcpy(address, &sin6->sin6_addr, 16);
        meta = (int32_t)ntohs(sin6->sin6_port) | (6 << 16);
      }
      uint8_t *record = out + write;
      if (record != slot) memmove(record + RECORD_HEADER_BYTES, slot + RECORD_HEADER_BYTES, payload);
      int32_t length32 = (int32_t)payload;
      memcpy(record, &length32, 4);
      memcpy(record + 4, &meta, 4);
      memcpy(record + 8, address, 16);
      memcpy(record + 24, &at, 8);
      write += RECORD_HEADER_BYTES + ((payload + 7) & ~(size_t)7);
    }
    *used = write;
    if (n < slots) return 0; /* the queue is empty */
  }
}

static napi_value Receive(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv, "receive(fds, out, timeoutMs, stats, gatherUs)")) return NULL;
  napi_typedarray_type type;
  size_t nfds, out_length, stats_length, offset;
  void *fds_data, *out_data, *stats_data;
  napi_value ab;
  CHECK(napi_get_typedarray_info(env, argv[0], &type, &nfds, &fds_data, &ab, &offset));
  if (type != napi_int32_array || nfds == 0 || nfds > MAX_FDS) {
    napi_throw_type_error(env, NULL, "fds must be an Int32Array of 1..64 descriptors");
    return NULL;
  }
  CHECK(napi_get_typedarray_info(env, argv[1], &type, &out_length, &out_data, &ab, &offset));
  if (type != napi_uint8_array || out_length < SLOT_BYTES || ((uintptr_t)out_data & 7) != 0) {
    napi_throw_type_error(env, NULL, "out must be an 8-aligned Uint8Array of at least SLOT_BYTES bytes");
    return NULL;
  }
  int32_t timeout;
  CHECK(napi_get_value_int32(env, argv[2], &timeout));
  CHECK(napi_get_typedarray_info(env, argv[3], &type, &stats_length, &stats_data, &ab, &offset));
  if (type != napi_float64_array || stats_length < 2) {
    napi_throw_type_error(env, NULL, "stats must be a Float64Array of 2");
    return NULL;
  }
  int32_t gather_us;
  CHECK(napi_get_value_int32(env, argv[4], &gather_us));
  if (gather_us < 0 || gather_us > 1000000) {
    napi_throw_range_error(env, NULL, "gatherUs must be 0..1000000");
    return NULL;
  }
  const int32_t *fds = fds_data;
  double *stats = stats_data;

  struct pollfd polls[MAX_FDS];
  for (size_t i = 0; i < nfds; i++) {
    polls[i].fd = fds[i];
    polls[i].events = POLLIN;
    polls[i].revents = 0;
  }
  int ready = poll(polls, (nfds_t)nfds, timeout < 0 ? 0 : timeout);
  if (ready < 0) {
    if (errno == EINTR) ready = 0;
    else return throw_errno(env, errno, "poll", NULL);
  }
  size_t used = 0;
  if (ready > 0 && gather_us > 0) {
    struct timespec pause = {gather_us / 1000000, (long)(gather_us % 1000000) * 1000};
    while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
    }
    /* Sockets that had nothing when poll() returned may have some now. */
    for (size_t i = 0; i < nfds; i++) polls[i].revents |= POLLIN;
  }
  if (ready > 0) {
    for (size_t i = 0; i < nfds; i++) {
      if (polls[i].revents & POLLNVAL) return throw_errno(env, EBADF, "receive", NULL);
      if (!(polls[i].revents & (POLLIN | POLLERR))) continue;
      int bad = 0;
      if (drain(fds[i], out_data, out_length, &used, stats, &bad) < 0) return throw_errno(env, bad, "recvmmsg", NULL);
    }
  }
  napi_value result;
  CHECK(napi_create_double(env, (double)used, &result));
  return result;
}

static napi_value Close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv, "close(fd)")) return NULL;
  int32_t fd;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "close(fd): fd must be a number");
    return NULL;
  }
  if (close(fd) != 0 && errno != EINTR) return throw_errno(env, errno, "close", NULL);
  return NULL;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_property_descriptor properties[5];
  napi_value slot_bytes, batch;
  if (napi_create_int32(env, SLOT_BYTES, &slot_bytes) != napi_ok) return NULL;
  if (napi_create_int32(env, BATCH, &batch) != napi_ok) return NULL;
  properties[0] = (napi_property_descriptor){"open", NULL, Open, NULL, NULL, NULL, napi_enumerable, NULL};
  properties[1] = (napi_property_descriptor){"receive", NULL, Receive, NULL, NULL, NULL, napi_enumerable, NULL};
  properties[2] = (napi_property_descriptor){"close", NULL, Close, NULL, NULL, NULL, napi_enumerable, NULL};
  properties[3] = (napi_property_descriptor){"SLOT_BYTES", NULL, NULL, NULL, NULL, slot_bytes, napi_enumerable, NULL};
  properties[4] = (napi_property_descriptor){"BATCH", NULL, NULL, NULL, NULL, batch, napi_enumerable, NULL};
  if (napi_define_properties(env, exports, 5, properties) != napi_ok) return NULL;
  return exports;
}
