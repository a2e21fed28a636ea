/*
 * The floor of any process between ejabberd and its auth script: a relay with no policy at
 * all. It starts the script as its child and, in lockstep, copies each ejabberd frame (2-byte
 * length, then the query, see DESIGN.md) from its stdin to the script and the script's 4-byte
 * answer back, with blocking reads and writes and nothing else: no validation, no throttle, no
 * log, no event loop. Whatever a relay in the path costs beyond this is its own work; what this
 * costs is the extra process hop, two more wake-ups per login.
 *
 *   relay SCRIPT [ARG...]
 *
 * Benchmark only (bench/ejabberd.ts): it trusts the script to answer each query with 4 bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* Reads exactly n bytes; returns 0 at end of input or on error. */
static int read_full(int fd, unsigned char *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t k = read(fd, buf + got, n - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return 0;
    got += (size_t)k;
  }
  return 1;
}

static int write_full(int fd, const unsigned char *buf, size_t n) {
  size_t put = 0;
  while (put < n) {
    ssize_t k = write(fd, buf + put, n - put);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return 0;
    put += (size_t)k;
  }
  return 1;
}

int main(int argc, char **argv) {
  int to[2], from[2];
  unsigned char buf[2 + 65535];
  if (argc < 2) {
    fputs("usage: relay SCRIPT [ARG...]\n", stderr);
    return 2;
  }
  if (pipe(to) != 0 || pipe(from) != 0) return 1;
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid == 0) {
    dup2(to[0], 0);
    dup2(from[1], 1);
    close(to[0]), close(to[1]), close(from[0]), close(from[1]);
    execvp(argv[1], argv + 1);
    _exit(127);
  }
  close(to[0]), close(from[1]);
  for (;;) {
    if (!read_full(0, buf, 2)) break;
    size_t len = ((size_t)buf[0] << 8) | buf[1];
    if (!read_full(0, buf + 2, len) || !write_full(to[1], buf, 2 + len)) break;
    if (!read_full(from[0], buf, 4) || !write_full(1, buf, 4)) break;
  }
  close(to[1]);
  waitpid(pid, NULL, 0);
  return 0;
}
