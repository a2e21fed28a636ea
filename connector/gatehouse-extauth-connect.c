/*
 * gatehouse-extauth-connect: the program each ejabberd extauth worker runs, to ask
 * `gatehouse serve` (extauth_socket) instead of starting a Gatehouse of its own.
 *
 *   extauth_program: "/usr/local/bin/gatehouse-extauth-connect /run/gatehouse/extauth.sock"
 *   (or 127.0.0.1:PORT / [::1]:PORT for extauth_port)
 *
 * Build: cc -O2 -o gatehouse-extauth-connect gatehouse-extauth-connect.c
 * (`npm run build` does this into dist/connector/ when a C compiler is present.)
 *
 * The same contract as bin/gatehouse-extauth-connect (Perl), in a process of a few hundred
 * kB instead of about 6 MB, with fewer system calls per query. It relays one query at a time,
 * in ejabberd's framing (2-byte big-endian length, then the query), and writes exactly one
 * answer for each, always in time:
 * - while serve cannot be reached, every query is answered "no" at once, and the next query
 *   tries to connect again: the program never exits because serve is down (ejabberd 23.01
 *   gives up on an extauth program that keeps exiting right after it starts);
 * - an answer that is not exactly 00 02 00 00 or 00 02 00 01, a connection that breaks, or no
 *   answer within --timeout seconds (default 25, under ejabberd's fixed 30 s) is a "no", and
 *   the connection is closed, so that a late answer can never be read for a later query;
 * - between queries serve has nothing to say: a connection that is readable then was closed
 *   (serve restarted) or misbehaves, and is replaced before the query is sent.
 *
 * On a Unix socket it first offers serve its stdin and stdout (the handoff, see
 * src/bridge/handoff.ts): one ejabberd frame, "gatehouse-handoff:1", carrying the two
 * descriptors. A serve that takes them answers 00 02 'F' 'D' and from then on reads the worker's
 * queries and writes its answers on the pipes itself; this program reads nothing more from
 * them and only waits, off the path of every query. When that connection ends (serve stopped or
 * restarted), it takes its pipes back: a query serve had read and not answered gets no answer
 * (ejabberd gives up on it after its 30 s and restarts the worker), and the program relays
 * again, offering the pipes anew after each query. A serve that answers the hello "no" (built
 * without the fdpass addon) is relayed to over the same connection, and offered nothing more.
 * --relay never offers them.
 *
 * It exits 0 when ejabberd closes its stdin, 2 on bad arguments.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const unsigned char NO[4] = {0, 2, 0, 0};
static const unsigned char YES[4] = {0, 2, 0, 1};
static const unsigned char HELLO[] = "\0\x13gatehouse-handoff:1";
static const unsigned char ACK[4] = {0, 2, 'F', 'D'};

/* Where serve listens, resolved once from the argument. */
static struct sockaddr_storage target;
static socklen_t target_len;
static int conn = -1;

static void usage(void) {
  fputs("usage: gatehouse-extauth-connect SOCKET_PATH|IPV4:PORT|[IPV6]:PORT [--timeout SECONDS] [--relay]\n", stderr);
  exit(2);
}

static int parse_port(const char *s) {
  char *end;
  long p;
  errno = 0;
  p = strtol(s, &end, 10);
  if (errno != 0 || *s == '\0' || *end != '\0' || p < 1 || p > 65535) return -1;
  return (int)p;
}

/* A bracketed IPv6 or dotted IPv4 address with a port is TCP; anything else is a socket path. */
static void parse_target(const char *arg) {
  memset(&target, 0, sizeof target);
  if (arg[0] == '[') {
    const char *close = strchr(arg, ']');
    char host[INET6_ADDRSTRLEN];
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&target;
    int port;
    if (close == NULL || close[1] != ':' || (size_t)(close - arg - 1) >= sizeof host) usage();
    memcpy(host, arg + 1, (size_t)(close - arg - 1));
    host[close - arg - 1] = '\0';
    port = parse_port(close + 2);
    if (port < 0 || inet_pton(AF_INET6, host, &a->sin6_addr) != 1) usage();
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((unsigned short)port);
    target_len = sizeof *a;
    return;
  }
  const char *colon = strrchr(arg, ':');
  if (colon != NULL && strchr(arg, '/') == NULL) {
    char host[INET_ADDRSTRLEN];
    struct sockaddr_in *a = (struct sockaddr_in *)&target;
    int port = parse_port(colon + 1);
    if ((size_t)(colon - arg) < sizeof host) {
      memcpy(host, arg, (size_t)(colon - arg));
      host[colon - arg] = '\0';
      if (port > 0 && inet_pton(AF_INET, host, &a->sin_addr) == 1) {
        a->sin_family = AF_INET;
        a->sin_port = htons((unsigned short)port);
        target_len = sizeof *a;
        return;
      }
    }
  }
  struct sockaddr_un *u = (struct sockaddr_un *)&target;
  if (strlen(arg) == 0 || strlen(arg) >= sizeof u->sun_path) usage();
  u->sun_family = AF_UNIX;
  strcpy(u->sun_path, arg);
  target_len = sizeof *u;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void drop(void) {
  if (conn >= 0) close(conn);
  conn = -1;
}

static int connect_serve(void) {
  int fd = socket(target.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (target.ss_family != AF_UNIX) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  while (connect(fd, (struct sockaddr *)&target, target_len) != 0) {
    if (errno == EINTR) continue;
    close(fd);
    return -1;
  }
  return fd;
}

/* True when fd has something to read (or was closed) within ms milliseconds (0: now). */
static int readable(int fd, int ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int r;
  do r = poll(&p, 1, ms);
  while (r < 0 && errno == EINTR);
  return r > 0;
}

/*
 * Read exactly n bytes. Returns 0 on success, -1 on end of file, error or (with a deadline,
 * deadline > 0) time running out.
 */
static int read_exact(int fd, unsigned char *buf, size_t n, double deadline) {
  size_t got = 0;
  while (got < n) {
    if (deadline > 0) {
      double left = deadline - now();
      if (left <= 0 || !readable(fd, (int)(left * 1000) + 1)) return -1;
    }
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

static int write_all(int fd, const unsigned char *buf, size_t n, int is_socket) {
  while (n > 0) {
    ssize_t w = is_socket ? send(fd, buf, n, MSG_NOSIGNAL) : write(fd, buf, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    buf += w;
    n -= (size_t)w;
  }
  return 0;
}

/* What poll() says of stdin once ejabberd has closed it: POLLHUP for a pipe with no writer left,
 * POLLRDHUP for a socket whose peer shut its side down. */
#define STDIN_GONE (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)

/* ejabberd has closed this program's stdin: its worker is gone. */
static int stdin_closed(int ms) {
  struct pollfd p = {.fd = 0, .events = POLLRDHUP};
  int r;
  do r = poll(&p, 1, ms);
  while (r < 0 && errno == EINTR);
  return r > 0 && (p.revents & STDIN_GONE) != 0;
}

/*
 * Waits until fd is readable (1) or stdin is closed (exits 0): while serve holds the pipes, the
 * only news is the end of the lifeline or of the worker.
 */
static void wait_serve_or_worker(int fd) {
  for (;;) {
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = 0, .events = POLLRDHUP}};
    int r = poll(p, 2, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 || (p[1].revents & STDIN_GONE) != 0) exit(0);
    if (p[0].revents != 0) return;
  }
}

/* serve may have set O_NONBLOCK on the pipes' shared file descriptions: this program blocks. */
static void blocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK) != 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

/*
 * Offers serve this program's stdin and stdout on a new connection. Returns 1 when serve took
 * them and has let go of them again (its end of the lifeline closed); 0 when it could not be
 * reached (conn < 0) or did not take them (conn kept for relaying, *refused set).
 */
static int handoff(int *refused) {
  int fds[2] = {0, 1};
  union {
    struct cmsghdr align;
    char space[CMSG_SPACE(sizeof fds)];
  } control;
  struct iovec iov = {.iov_base = (void *)HELLO, .iov_len = sizeof HELLO - 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.space, .msg_controllen = sizeof control.space};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  unsigned char reply[4];
  size_t got = 0;

  drop();
  conn = connect_serve();
  if (conn < 0) return 0;
  memset(&control, 0, sizeof control);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof fds);
  memcpy(CMSG_DATA(c), fds, sizeof fds);
  ssize_t w;
  do w = sendmsg(conn, &msg, MSG_NOSIGNAL);
  while (w < 0 && errno == EINTR);
  if (w != (ssize_t)(sizeof HELLO - 1)) {
    drop();
    return 0;
  }
  /*
   * No time limit on the reply: once the descriptors are sent, serve may be reading the worker's
   * queries, and this program must not read them too. A serve that hangs holds the worker's
   * queries until ejabberd gives up on them and closes stdin.
   */
  while (got < 4) {
    wait_serve_or_worker(conn);
    ssize_t r = read(conn, reply + got, 4 - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  if (got == 4 && memcmp(reply, ACK, 4) == 0) {
    /* The lifeline: nothing comes on it; it ends when serve lets go of the pipes. */
    wait_serve_or_worker(conn);
    drop();
    blocking(0);
    blocking(1);
    if (stdin_closed(0)) exit(0);
    return 1;
  }
  if (got < 4) {
    /* The connection ended before serve said anything: it holds nothing; offer again later. */
    drop();
    blocking(0);
    blocking(1);
    return 0;
  }
  *refused = 1;
  /* "no": a serve without the handoff, which read the hello as a query; the connection serves on. */
  if (memcmp(reply, NO, 4) != 0) drop();
  return 0;
}

int main(int argc, char **argv) {
  const char *arg = NULL;
  double timeout = 25;
  int refused = 0;
  /* Longest frame: 2 bytes of length, then at most 65535 bytes. */
  static unsigned char frame[2 + 65535];
  unsigned char reply[4];

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--timeout") == 0) {
      char *end;
      if (++i >= argc) usage();
      timeout = strtod(argv[i], &end);
      if (*argv[i] == '\0' || *end != '\0' || !(timeout > 0) || timeout > 86400) usage();
    } else if (strcmp(argv[i], "--relay") == 0) {
      refused = 1;
    } else if (arg == NULL) {
      arg = argv[i];
    } else {
      usage();
    }
  }
  if (arg == NULL) usage();
  parse_target(arg);
  /* A serve that went away must not kill the worker: its write fails, and the answer is no. */
  signal(SIGPIPE, SIG_IGN);

  /* Descriptors travel only over a Unix socket. */
  if (target.ss_family != AF_UNIX) refused = 1;

  for (;;) {
    /*
     * Offered before each query until serve has said "no": serve may have come back since the
     * last. When serve has let go of the pipes, the next query is relayed before they are
     * offered again, so that a serve that keeps letting go cannot keep this program busy.
     */
    if (!refused) handoff(&refused);
    if (read_exact(0, frame, 2, 0) != 0) return 0;
    size_t len = ((size_t)frame[0] << 8) | frame[1];
    if (read_exact(0, frame + 2, len, 0) != 0) return 0;
    const unsigned char *answer = NO;
    if (conn >= 0 && readable(conn, 0)) drop();
    if (conn < 0) conn = connect_serve();
    if (conn >= 0) {
      if (write_all(conn, frame, 2 + len, 1) == 0 && read_exact(conn, reply, 4, now() + timeout) == 0 &&
          (memcmp(reply, YES, 4) == 0 || memcmp(reply, NO, 4) == 0)) {
        answer = memcmp(reply, YES, 4) == 0 ? YES : NO;
      } else {
        drop();
      }
    }
    if (write_all(1, answer, 4, 0) != 0) return 0;
  }
}
