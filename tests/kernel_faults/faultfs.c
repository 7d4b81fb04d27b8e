/*
 * faultfs.c - a small FUSE file system (libfuse3) that injects faults, for the
 * kernel fault tests of faio (tests/kernel_faults).
 *
 * It passes every operation through to a backing directory, except when one of
 * its rules matches: then it may sleep, shorten a read, or fail the operation
 * with an errno, so a program sees real kernel errors on real system calls
 * (read, write, fsync/fdatasync, close) of files under the mount point.
 *
 *   faio_faultfs [--rule RULE]... [--direct-io] [--writeback] [--threaded]
 *                BACKING MOUNTPOINT
 *
 * RULE is a space-separated list of key=value fields:
 *   op=read|write|fsync|flush   the operation (fsync matches fdatasync too;
 *                               flush is FUSE's FLUSH, sent on close)
 *   err=EIO|ENOSPC|EFBIG|EDQUOT|N   fail with this errno (default 0: no error)
 *   skip=N       let the first N matching operations through untouched
 *   times=N      fire at most N times (default: no limit)
 *   from=OFF     match only reads/writes that reach beyond byte OFF of the file
 *   short=N      a matching read returns at most N bytes (no error)
 *   delay=MS     sleep MS milliseconds before answering
 *   hold=MS      hold the operation until a "release" command (or MS
 *                milliseconds pass), then answer; needs --threaded, since a
 *                single-threaded loop cannot read the release while it holds
 *   path=TEXT    match only files whose path contains TEXT
 * Rules are tried in the order given; the first one that matches an operation
 * and is not spent (fired its times) takes it: it lets it through while its
 * skip lasts, else fires.
 *
 * Control at run time: the virtual file MOUNTPOINT/.faultfs. Writing to it
 * runs commands, one per line: "rule RULE" adds a rule, "clear" drops all
 * rules, "reset" zeroes the counters, "release" lets every operation held
 * now go on. Reading it gives the counters and how many operations are held:
 *   ops read=R write=W fsync=F flush=L held=H
 *   rule I fired=N <the rule as given>
 *
 * --direct-io opens every file with FUSE's direct_io (no page cache: each read
 * and write reaches the file system with its own offset and size);
 * --writeback asks for the kernel's write-back cache (writes land in the page
 * cache and reach the file system on write-back: a failing write then shows up
 * at fsync, the "fsyncgate" case).
 *
 * It runs in the foreground, single-threaded by default (operations are
 * answered one at a time); --threaded answers them on several threads, so that
 * a held or delayed operation does not stop the others (counts and skips stay
 * exact: rules are matched under a lock). It ends, unmounting, on SIGTERM or
 * SIGINT or when the mount is removed. Exit status: 0, or 2 for bad arguments,
 * 1 when FUSE fails (no /dev/fuse, mount refused).
 */
#define FUSE_USE_VERSION 35
#define _GNU_SOURCE

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

enum op_kind { OP_READ, OP_WRITE, OP_FSYNC, OP_FLUSH, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"read", "write", "fsync", "flush"};

#define MAX_RULES 32
#define CONTROL_PATH "/.faultfs"
#define CONTROL_FH UINT64_MAX

struct rule {
  enum op_kind op;
  int err;
  long long skip;
  long long times; /* -1: no limit */
  long long from;  /* -1: any range */
  long long shorten; /* -1: no shortening */
  long long delay_ms;
  long long hold_ms;
  char path[128];
  char text[256];
  long long seen;
  long long fired;
};

static struct {
  char backing[PATH_MAX];
  int direct_io;
  int writeback;
  int threaded;
  /* Everything below is under mu. */
  struct rule rules[MAX_RULES];
  int nrules;
  long long ops[OP_COUNT];
  long long held;         /* operations being held now */
  unsigned long release;  /* bumped by each "release" */
} g;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t released = PTHREAD_COND_INITIALIZER;

/* ---- rules ------------------------------------------------------------------- */

static int parse_errno(const char *v, int *out) {
  static const struct {
    const char *name;
    int value;
  } names[] = {{"EIO", EIO},       {"ENOSPC", ENOSPC}, {"EFBIG", EFBIG},
               {"EDQUOT", EDQUOT}, {"EROFS", EROFS},   {"EINTR", EINTR}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (strcmp(v, names[i].name) == 0) {
      *out = names[i].value;
      return 0;
    }
  }
  char *end = NULL;
  long n = strtol(v, &end, 10);
  if (end == v || *end != '\0' || n < 0 || n > 4095) return -1;
  *out = (int)n;
  return 0;
}

static int parse_count(const char *v, long long *out) {
  char *end = NULL;
  long long n = strtoll(v, &end, 10);
  if (end == v || *end != '\0' || n < 0) return -1;
  *out = n;
  return 0;
}

/* parse_rule fills *r from text; returns 0, or -1 with a message in why. */
static int parse_rule(const char *text, struct rule *r, char *why, size_t why_size) {
  memset(r, 0, sizeof *r);
  r->op = OP_COUNT;
  r->times = -1;
  r->from = -1;
  r->shorten = -1;
  snprintf(r->text, sizeof r->text, "%s", text);
  char buf[256];
  snprintf(buf, sizeof buf, "%s", text);
  char *save = NULL;
  for (char *tok = strtok_r(buf, " \t\r\n", &save); tok != NULL;
       tok = strtok_r(NULL, " \t\r\n", &save)) {
    char *eq = strchr(tok, '=');
    if (eq == NULL) {
      snprintf(why, why_size, "field '%s' is not key=value", tok);
      return -1;
    }
    *eq = '\0';
    const char *k = tok;
    const char *v = eq + 1;
    int bad = 0;
    if (strcmp(k, "op") == 0) {
      r->op = OP_COUNT;
      for (int i = 0; i < OP_COUNT; i++) {
        if (strcmp(v, op_names[i]) == 0) r->op = (enum op_kind)i;
      }
      bad = r->op == OP_COUNT;
    } else if (strcmp(k, "err") == 0) {
      bad = parse_errno(v, &r->err);
    } else if (strcmp(k, "skip") == 0) {
      bad = parse_count(v, &r->skip);
    } else if (strcmp(k, "times") == 0) {
      bad = parse_count(v, &r->times);
    } else if (strcmp(k, "from") == 0) {
      bad = parse_count(v, &r->from);
    } else if (strcmp(k, "short") == 0) {
      bad = parse_count(v, &r->shorten);
    } else if (strcmp(k, "delay") == 0) {
      bad = parse_count(v, &r->delay_ms);
    } else if (strcmp(k, "hold") == 0) {
      bad = parse_count(v, &r->hold_ms);
    } else if (strcmp(k, "path") == 0) {
      bad = strlen(v) >= sizeof r->path;
      if (!bad) snprintf(r->path, sizeof r->path, "%s", v);
    } else {
      snprintf(why, why_size, "unknown field '%s'", k);
      return -1;
    }
    if (bad) {
      snprintf(why, why_size, "bad value '%s' for '%s'", v, k);
      return -1;
    }
  }
  if (r->op == OP_COUNT) {
    snprintf(why, why_size, "rule '%s' has no op=", text);
    return -1;
  }
  return 0;
}

/* Under mu. */
static int add_rule(const char *text, char *why, size_t why_size) {
  if (g.nrules == MAX_RULES) {
    snprintf(why, why_size, "more than %d rules", MAX_RULES);
    return -1;
  }
  if (parse_rule(text, &g.rules[g.nrules], why, why_size) != 0) return -1;
  g.nrules++;
  return 0;
}

/* hold blocks until the next "release" or ms milliseconds (under mu). */
static void hold(long long ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += (time_t)(ms / 1000);
  until.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  unsigned long gen = g.release;
  g.held++;
  while (g.release == gen) {
    if (pthread_cond_timedwait(&released, &mu, &until) == ETIMEDOUT) break;
  }
  g.held--;
}

/* apply counts an operation and applies the first matching rule. Returns 0 to
 * go on (with *limit lowered for a short read), or a negative errno. */
static int apply(enum op_kind op, const char *path, off_t off, size_t size, size_t *limit) {
  pthread_mutex_lock(&mu);
  g.ops[op]++;
  for (int i = 0; i < g.nrules; i++) {
    struct rule *r = &g.rules[i];
    if (r->op != op) continue;
    if (r->path[0] != '\0' && strstr(path, r->path) == NULL) continue;
    if (r->from >= 0 && (op == OP_READ || op == OP_WRITE) &&
        (long long)off + (long long)size <= r->from) {
      continue;
    }
    if (r->times >= 0 && r->fired >= r->times) continue; /* spent */
    r->seen++;
    if (r->seen <= r->skip) break;
    r->fired++;
    long long delay_ms = r->delay_ms;
    long long hold_ms = r->hold_ms;
    long long shorten = r->shorten;
    int err = r->err;
    if (hold_ms > 0) hold(hold_ms);
    pthread_mutex_unlock(&mu);
    if (delay_ms > 0) {
      struct timespec ts = {(time_t)(delay_ms / 1000), (long)(delay_ms % 1000) * 1000000L};
      while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
      }
    }
    if (shorten >= 0 && limit != NULL && *limit > (size_t)shorten) {
      *limit = (size_t)shorten;
    }
    return -err;
  }
  pthread_mutex_unlock(&mu);
  return 0;
}

/* ---- the control file ------------------------------------------------------------ */

static int control_status(char *out, size_t size) {
  pthread_mutex_lock(&mu);
  int n = snprintf(out, size, "ops read=%lld write=%lld fsync=%lld flush=%lld held=%lld\n",
                   g.ops[OP_READ], g.ops[OP_WRITE], g.ops[OP_FSYNC], g.ops[OP_FLUSH], g.held);
  for (int i = 0; i < g.nrules && n >= 0 && (size_t)n < size; i++) {
    n += snprintf(out + n, size - (size_t)n, "rule %d fired=%lld %s\n", i, g.rules[i].fired,
                  g.rules[i].text);
  }
  pthread_mutex_unlock(&mu);
  return n < 0 ? 0 : (int)((size_t)n < size ? (size_t)n : size - 1);
}

static int control_command(const char *buf, size_t size) {
  char text[1024];
  if (size >= sizeof text) return -E2BIG;
  memcpy(text, buf, size);
  text[size] = '\0';
  char *save = NULL;
  int result = (int)size;
  pthread_mutex_lock(&mu);
  for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
    char why[160];
    if (strcmp(line, "release") == 0) {
      g.release++;
      pthread_cond_broadcast(&released);
    } else if (strcmp(line, "clear") == 0) {
      g.nrules = 0;
    } else if (strcmp(line, "reset") == 0) {
      memset(g.ops, 0, sizeof g.ops);
      for (int i = 0; i < g.nrules; i++) g.rules[i].seen = g.rules[i].fired = 0;
    } else if (strncmp(line, "rule ", 5) == 0) {
      if (add_rule(line + 5, why, sizeof why) != 0) {
        fprintf(stderr, "faultfs: %s\n", why);
        result = -EINVAL;
        break;
      }
    } else {
      fprintf(stderr, "faultfs: unknown command '%s'\n", line);
      result = -EINVAL;
      break;
    }
  }
  pthread_mutex_unlock(&mu);
  return result;
}

/* ---- pass-through operations ------------------------------------------------------ */

static int backing_path(const char *path, char *out) {
  int n = snprintf(out, PATH_MAX, "%s%s", g.backing, path);
  return n < 0 || n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

#define BACKING(var, path)            \
  char var[PATH_MAX];                 \
  do {                                \
    int e_ = backing_path(path, var); \
    if (e_ != 0) return e_;           \
  } while (0)

static void *ff_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
  cfg->use_ino = 0;
  cfg->entry_timeout = 0;
  cfg->attr_timeout = 0;
  cfg->negative_timeout = 0;
  cfg->direct_io = g.direct_io;
  cfg->kernel_cache = 0;
  if (g.writeback) {
    if (conn->capable & FUSE_CAP_WRITEBACK_CACHE) {
      conn->want |= FUSE_CAP_WRITEBACK_CACHE;
    } else {
      fprintf(stderr, "faultfs: the kernel offers no write-back cache\n");
    }
  } else {
    conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
  }
  return NULL;
}

static int ff_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  if (strcmp(path, CONTROL_PATH) == 0) {
    memset(st, 0, sizeof *st);
    st->st_mode = S_IFREG | 0600;
    st->st_nlink = 1;
    st->st_uid = getuid();
    st->st_gid = getgid();
    return 0;
  }
  if (fi != NULL && fi->fh != CONTROL_FH) return fstat((int)fi->fh, st) == 0 ? 0 : -errno;
  BACKING(p, path);
  return lstat(p, st) == 0 ? 0 : -errno;
}

static int ff_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags) {
  (void)off;
  (void)fi;
  (void)flags;
  BACKING(p, path);
  DIR *d = opendir(p);
  if (d == NULL) return -errno;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (fill(buf, e->d_name, NULL, 0, (enum fuse_fill_dir_flags)0) != 0) break;
  }
  closedir(d);
  return 0;
}

static int ff_mkdir(const char *path, mode_t mode) {
  BACKING(p, path);
  return mkdir(p, mode) == 0 ? 0 : -errno;
}

static int ff_rmdir(const char *path) {
  BACKING(p, path);
  return rmdir(p) == 0 ? 0 : -errno;
}

static int ff_unlink(const char *path) {
  BACKING(p, path);
  return unlink(p) == 0 ? 0 : -errno;
}

static int ff_rename(const char *from, const char *to, unsigned int flags) {
  if (flags != 0) return -EINVAL;
  BACKING(a, from);
  BACKING(b, to);
  return rename(a, b) == 0 ? 0 : -errno;
}

static int ff_chmod(const char *path, mode_t mode, struct fuse_file_info *fi) {
  if (fi != NULL && fi->fh != CONTROL_FH) return fchmod((int)fi->fh, mode) == 0 ? 0 : -errno;
  BACKING(p, path);
  return chmod(p, mode) == 0 ? 0 : -errno;
}

static int ff_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
  if (strcmp(path, CONTROL_PATH) == 0) return 0;
  if (fi != NULL && fi->fh != CONTROL_FH) return ftruncate((int)fi->fh, size) == 0 ? 0 : -errno;
  BACKING(p, path);
  return truncate(p, size) == 0 ? 0 : -errno;
}

static int ff_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi) {
  if (strcmp(path, CONTROL_PATH) == 0) return 0;
  if (fi != NULL && fi->fh != CONTROL_FH) return futimens((int)fi->fh, tv) == 0 ? 0 : -errno;
  BACKING(p, path);
  return utimensat(AT_FDCWD, p, tv, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
}

static int backing_flags(int flags) {
  /* The backing file is read and written with plain pread/pwrite. */
  return (flags & ~(O_DIRECT | O_NOCTTY)) | O_CLOEXEC;
}

static int ff_create(const char *path, mode_t mode, struct fuse_file_info *fi) {
  BACKING(p, path);
  int fd = open(p, backing_flags(fi->flags) | O_CREAT, mode);
  if (fd < 0) return -errno;
  fi->fh = (uint64_t)fd;
  return 0;
}

static int ff_open(const char *path, struct fuse_file_info *fi) {
  if (strcmp(path, CONTROL_PATH) == 0) {
    fi->fh = CONTROL_FH;
    fi->direct_io = 1;
    fi->nonseekable = 0;
    return 0;
  }
  BACKING(p, path);
  int fd = open(p, backing_flags(fi->flags));
  if (fd < 0) return -errno;
  fi->fh = (uint64_t)fd;
  return 0;
}

static int ff_read(const char *path, char *buf, size_t size, off_t off,
                   struct fuse_file_info *fi) {
  if (fi->fh == CONTROL_FH) {
    char status[8192];
    int n = control_status(status, sizeof status);
    if (off >= n) return 0;
    size_t k = (size_t)(n - off) < size ? (size_t)(n - off) : size;
    memcpy(buf, status + off, k);
    return (int)k;
  }
  size_t limit = size;
  int e = apply(OP_READ, path, off, size, &limit);
  if (e != 0) return e;
  size_t done = 0;
  while (done < limit) {
    ssize_t n = pread((int)fi->fh, buf + done, limit - done, off + (off_t)done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return done > 0 ? (int)done : -errno;
    }
    if (n == 0) break;
    done += (size_t)n;
  }
  return (int)done;
}

static int ff_write(const char *path, const char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi) {
  if (fi->fh == CONTROL_FH) return control_command(buf, size);
  int e = apply(OP_WRITE, path, off, size, NULL);
  if (e != 0) return e;
  size_t done = 0;
  while (done < size) {
    ssize_t n = pwrite((int)fi->fh, buf + done, size - done, off + (off_t)done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return done > 0 ? (int)done : -errno;
    }
    done += (size_t)n;
  }
  return (int)done;
}

static int ff_statfs(const char *path, struct statvfs *st) {
  (void)path;
  return statvfs(g.backing, st) == 0 ? 0 : -errno;
}

static int ff_flush(const char *path, struct fuse_file_info *fi) {
  if (fi->fh == CONTROL_FH) return 0;
  return apply(OP_FLUSH, path, 0, 0, NULL);
}

static int ff_release(const char *path, struct fuse_file_info *fi) {
  (void)path;
  if (fi->fh != CONTROL_FH) close((int)fi->fh);
  return 0;
}

static int ff_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
  if (fi->fh == CONTROL_FH) return 0;
  int e = apply(OP_FSYNC, path, 0, 0, NULL);
  if (e != 0) return e;
  int r = datasync ? fdatasync((int)fi->fh) : fsync((int)fi->fh);
  return r == 0 ? 0 : -errno;
}

static const struct fuse_operations ops = {
    .getattr = ff_getattr,
    .mkdir = ff_mkdir,
    .unlink = ff_unlink,
    .rmdir = ff_rmdir,
    .rename = ff_rename,
    .chmod = ff_chmod,
    .truncate = ff_truncate,
    .open = ff_open,
    .read = ff_read,
    .write = ff_write,
    .statfs = ff_statfs,
    .flush = ff_flush,
    .release = ff_release,
    .fsync = ff_fsync,
    .readdir = ff_readdir,
    .init = ff_init,
    .create = ff_create,
    .utimens = ff_utimens,
};

static void usage(void) {
  fprintf(stderr,
          "usage: faio_faultfs [--rule RULE]... [--direct-io] [--writeback] [--threaded]\n"
          "                    BACKING MOUNTPOINT\n"
          "  RULE: op=read|write|fsync|flush [err=EIO|ENOSPC|EFBIG|EDQUOT|N] [skip=N]\n"
          "        [times=N] [from=OFF] [short=N] [delay=MS] [hold=MS] [path=TEXT]\n");
}

int main(int argc, char **argv) {
  const char *backing = NULL;
  const char *mountpoint = NULL;
  for (int i = 1; i < argc; i++) {
    char why[160];
    if (strcmp(argv[i], "--rule") == 0 && i + 1 < argc) {
      if (add_rule(argv[++i], why, sizeof why) != 0) {
        fprintf(stderr, "faio_faultfs: %s\n", why);
        return 2;
      }
    } else if (strcmp(argv[i], "--direct-io") == 0) {
      g.direct_io = 1;
    } else if (strcmp(argv[i], "--writeback") == 0) {
      g.writeback = 1;
    } else if (strcmp(argv[i], "--threaded") == 0) {
      g.threaded = 1;
    } else if (argv[i][0] == '-') {
      usage();
      return 2;
    } else if (backing == NULL) {
      backing = argv[i];
    } else if (mountpoint == NULL) {
      mountpoint = argv[i];
    } else {
      usage();
      return 2;
    }
  }
  if (backing == NULL || mountpoint == NULL) {
    usage();
    return 2;
  }
  if (g.direct_io && g.writeback) {
    fprintf(stderr, "faio_faultfs: --direct-io and --writeback exclude each other\n");
    return 2;
  }
  if (realpath(backing, g.backing) == NULL) {
    fprintf(stderr, "faio_faultfs: backing directory %s: %s\n", backing, strerror(errno));
    return 2;
  }
  char *fargv[] = {argv[0], (char *)"-f", (char *)"-o",
                   (char *)"fsname=faio_faultfs,subtype=faultfs", (char *)mountpoint,
                   (char *)"-s", NULL};
  int fargc = g.threaded ? 5 : 6; /* -s: one thread */
  return fuse_main(fargc, fargv, &ops, NULL) == 0 ? 0 : 1;
}
