/*
 * fdpass: the one system call Node has no API for, recvmsg(2) with SCM_RIGHTS, so that
 * `gatehouse serve` can take the two pipes of an ejabberd extauth worker from
 * gatehouse-extauth-connect (the connector's "handoff") and answer the worker on them directly,
 * with no relaying process in between (src/bridge/handoff.ts).
 *
 * One function, non-blocking, never waits:
 *
 *   recv(fd, maxBytes, peek) -> null                      nothing to read yet (EAGAIN)
 *                            -> { bytes: Buffer, fds: number[], truncated: boolean }
 *
 * bytes.length 0 is the end of the stream. With peek (MSG_PEEK) no control buffer is given, so
 * no descriptor is ever installed by a peek. Descriptors are received close-on-exec
 * (MSG_CMSG_CLOEXEC): a script process spawned later must not inherit a worker's pipes.
 * `truncated` means the sender sent more descriptors than fit (MSG_CTRUNC); those that arrived
 * are in `fds` and the caller closes them. Errors other than EAGAIN/EINTR throw an Error whose
 * `code` is the errno name.
 *
 * Built with N-API (ABI-stable across Node versions) by scripts/build-connector.mjs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* Room for more than the two expected descriptors, so that extra ones are seen and closed. */
#define MAX_FDS 8
#define MAX_BYTES 256

static napi_value throw_errno(napi_env env, int err) {
  const char *name = err == EBADF ? "EBADF" : err == ENOTSOCK ? "ENOTSOCK" : err == EINVAL ? "EINVAL" : err == ECONNRESET ? "ECONNRESET" : "EIO";
  napi_throw_error(env, name, strerror(err));
  return NULL;
}

static napi_value recv_fds(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t fd = -1, max = 0;
  bool peek = false;
  napi_value out, bytes, fds, flag;
  unsigned char buf[MAX_BYTES];
  union {
    struct cmsghdr align;
    char space[CMSG_SPACE(sizeof(int) * MAX_FDS)];
  } control;
  struct iovec iov;
  struct msghdr msg;
  ssize_t n;
  uint32_t count = 0;
  void *data;

  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_value_int32(env, argv[1], &max) != napi_ok || napi_get_value_bool(env, argv[2], &peek) != napi_ok || fd < 0 || max < 1 ||
      max > MAX_BYTES) {
    napi_throw_type_error(env, "EINVAL", "recv(fd, maxBytes 1..256, peek)");
    return NULL;
  }
  memset(&msg, 0, sizeof msg);
  iov.iov_base = buf;
  iov.iov_len = (size_t)max;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (!peek) {
    msg.msg_control = control.space;
    msg.msg_controllen = sizeof control.space;
  }
  do n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC | (peek ? MSG_PEEK : 0));
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    napi_value nothing;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      napi_get_null(env, &nothing);
      return nothing;
    }
    return throw_errno(env, errno);
  }

  napi_create_object(env, &out);
  napi_create_buffer_copy(env, (size_t)n, buf, &data, &bytes);
  napi_set_named_property(env, out, "bytes", bytes);
  napi_create_array(env, &fds);
  if (!peek) {
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < k; i++) {
        int got;
        napi_value v;
        memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
        napi_create_int32(env, got, &v);
        napi_set_element(env, fds, count++, v);
      }
    }
  }
  napi_set_named_property(env, out, "fds", fds);
  napi_get_boolean(env, (msg.msg_flags & MSG_CTRUNC) != 0, &flag);
  napi_set_named_property(env, out, "truncated", flag);
  return out;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  napi_create_function(env, "recv", NAPI_AUTO_LENGTH, recv_fds, NULL, &fn);
  napi_set_named_property(env, exports, "recv", fn);
  return exports;
}
