// child.h - runs a piece of a test in a forked child process under a seccomp
// filter (libseccomp), for what cannot be undone in the test's own process: a
// filter cannot be removed, and a child can exhaust its descriptors or threads
// without harming the test runner.
//
// The child's stdout comes back as text; the function's return value is its
// exit code. The child never returns into the test framework: it _exits.
#ifndef FAIO_TESTS_FALLBACK_CHILD_H_
#define FAIO_TESTS_FALLBACK_CHILD_H_

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace faio_test {

struct ChildResult {
  int exit_code = -1;
  std::string out;
};

// A system call made to fail with err in the child.
struct Denied {
  const char* syscall;
  int err;
};

// InChild runs fn in a child in which the `denied` system calls fail with their
// error (the other calls are allowed).
template <typename Fn>
ChildResult InChild(const std::vector<Denied>& denied, Fn fn) {
  int p[2];
  if (pipe(p) != 0) return {};
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    dup2(p[1], 1);
    close(p[1]);
    if (!denied.empty()) {
      scmp_filter_ctx f = seccomp_init(SCMP_ACT_ALLOW);
      for (const Denied& d : denied) {
        int nr = seccomp_syscall_resolve_name(d.syscall);
        if (nr == __NR_SCMP_ERROR || seccomp_rule_add(f, SCMP_ACT_ERRNO(d.err), nr, 0) != 0) {
          printf("cannot filter %s\n", d.syscall);
          fflush(stdout);
          _exit(97);
        }
      }
      if (seccomp_load(f) != 0) {
        printf("seccomp_load failed\n");
        fflush(stdout);
        _exit(98);
      }
    }
    int rc = fn();
    fflush(stdout);
    _exit(rc);
  }
  close(p[1]);
  ChildResult r;
  if (pid < 0) {
    close(p[0]);
    r.out = std::string("fork failed: ") + strerror(errno);
    return r;
  }
  char buf[512];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0) r.out.append(buf, static_cast<size_t>(n));
  close(p[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

// InChild with every one of `denied` failing with the same error.
template <typename Fn>
ChildResult InChild(const std::vector<const char*>& denied, int err, Fn fn) {
  std::vector<Denied> d;
  for (const char* name : denied) d.push_back({name, err});
  return InChild(d, fn);
}

}  // namespace faio_test

#endif  // FAIO_TESTS_FALLBACK_CHILD_H_
