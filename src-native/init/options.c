#include "options.h"

#include "../protocol.h"

/* What --version prints. build.sh defines both for every build it makes; a compile without it
 * (by hand) still says what it is. */
#ifndef PIDNS_INIT_VERSION
#define PIDNS_INIT_VERSION "unknown"
#endif
#ifndef PIDNS_INIT_BUILD_NAME
#define PIDNS_INIT_BUILD_NAME "unnamed build"
#endif
#if defined(__x86_64__)
#define PIDNS_INIT_ARCH "x86_64"
#elif defined(__aarch64__)
#define PIDNS_INIT_ARCH "aarch64"
#elif defined(__i386__)
#define PIDNS_INIT_ARCH "i386"
#elif defined(__arm__)
#define PIDNS_INIT_ARCH "arm"
#else
#define PIDNS_INIT_ARCH "another architecture"
#endif

static const char version_text[] = "pidns-init " PIDNS_INIT_VERSION " (" PIDNS_INIT_BUILD_NAME ", " PIDNS_INIT_ARCH ")\n";

static const char usage_text[] =
    "usage: pidns-init [OPTIONS] [--] CMD [ARGS...]\n"
    "Runs CMD as the child of an init: signals are passed to it, orphans reaped, and its exit status\n"
    "(128+N for signal N) becomes the init's. As pid 1 of a namespace (a container's entrypoint) the\n"
    "init ends every other process when CMD ends; elsewhere it is a child subreaper and ends its\n"
    "descendants.\n"
    "  -g, --signal-group        signal CMD's process group, not only CMD\n"
    "  -e, --success-exit CODE   exit 0 when CMD's status is CODE (0-255; repeatable; e.g. 143)\n"
    "  -p, --parent-death-signal SIGNAL\n"
    "                            the init gets SIGNAL when its parent dies (passed on to CMD)\n"
    "  -s, --subreaper           accepted: the init is a subreaper whenever it is not pid 1\n"
    "  -v, --verbose             say on stderr what the init does\n"
    "  -w, --wait-all            when CMD ends, wait for every descendant to exit instead of ending\n"
    "                            them; signals go on to them meanwhile; the status is still CMD's\n"
    "      --grace-ms MS         when CMD ends, SIGTERM the others and wait up to MS before SIGKILL\n"
    "      --foreground          give CMD the terminal on stdin as its foreground process group\n"
    "      --terminal            CMD leads a session with the terminal on stdin as its own\n"
    "      --no-die-with-parent  keep running when the control channel closes\n"
    "      --control-fd N, --uid UID, --gid GID, --groups-denied, --argv0 NAME, --pause\n"
    "                            used by the pidns library\n"
    "      --version             print the version and which build this is, and exit\n"
    "  -h, --help                this text\n";

void usage_error(const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs("pidns-init: ", stderr);
  vfprintf(stderr, format, args);
  fputs("; see pidns-init --help\n", stderr);
  va_end(args);
  exit(PIDNS_EXIT_USAGE);
}

/* A number from 0 to max written in decimal digits and nothing else (strtol would also take
 * blanks, a sign and an empty string). Returns false for any other text or a larger number. */
static bool parse_decimal(const char *text, unsigned long max, unsigned long *value) {
  if (*text == '\0') return false;
  unsigned long n = 0;
  for (; *text != '\0'; text++) {
    if (*text < '0' || *text > '9') return false;
    unsigned long digit = (unsigned long)(*text - '0');
    if (digit > max || n > (max - digit) / 10) return false;
    n = n * 10 + digit;
  }
  *value = n;
  return true;
}

static int parse_count(const char *option, const char *text) {
  unsigned long value;
  if (!parse_decimal(text, INT_MAX, &value)) usage_error("%s: not a count: %s", option, text);
  return (int)value;
}

/* A uid or gid: 0 to 2^32 - 2 (2^32 - 1 is the kernel's "no id"). */
static long parse_id(const char *option, const char *text) {
  unsigned long value;
  if (!parse_decimal(text, 0xfffffffeUL, &value)) usage_error("%s: not an id: %s", option, text);
  return (long)value;
}

/* The kernel's numbers, the same on x86-64 and arm64 (and every architecture but alpha, mips and
 * sparc, where the init is built against their C library and its numbers). */
static const char *const signal_names[] = {
    [SIGHUP] = "SIGHUP",   [SIGINT] = "SIGINT",       [SIGQUIT] = "SIGQUIT", [SIGILL] = "SIGILL",
    [SIGTRAP] = "SIGTRAP", [SIGABRT] = "SIGABRT",     [SIGBUS] = "SIGBUS",   [SIGFPE] = "SIGFPE",
    [SIGKILL] = "SIGKILL", [SIGUSR1] = "SIGUSR1",     [SIGSEGV] = "SIGSEGV", [SIGUSR2] = "SIGUSR2",
    [SIGPIPE] = "SIGPIPE", [SIGALRM] = "SIGALRM",     [SIGTERM] = "SIGTERM", [SIGCHLD] = "SIGCHLD",
    [SIGCONT] = "SIGCONT", [SIGSTOP] = "SIGSTOP",     [SIGTSTP] = "SIGTSTP", [SIGTTIN] = "SIGTTIN",
    [SIGTTOU] = "SIGTTOU", [SIGURG] = "SIGURG",       [SIGXCPU] = "SIGXCPU", [SIGXFSZ] = "SIGXFSZ",
    [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF", [SIGWINCH] = "SIGWINCH", [SIGIO] = "SIGIO",
    [SIGPWR] = "SIGPWR",   [SIGSYS] = "SIGSYS",
};

const char *signal_name(int sig) {
  if (sig <= 0 || (size_t)sig >= sizeof signal_names / sizeof signal_names[0]) return NULL;
  return signal_names[sig];
}

/* A signal by number (1 to 64) or by name, with or without "SIG" (SIGKILL, KILL). */
static int parse_signal(const char *option, const char *text) {
  unsigned long number;
  if (parse_decimal(text, NSIG - 1, &number) && number > 0) return (int)number;
  const char *bare = strncmp(text, "SIG", 3) == 0 ? text + 3 : text;
  for (int sig = 1; (size_t)sig < sizeof signal_names / sizeof signal_names[0]; sig++) {
    if (signal_names[sig] != NULL && strcmp(signal_names[sig] + 3, bare) == 0) return sig;
  }
  usage_error("%s: not a signal: %s", option, text);
}

/* The value of an option: the rest of a short option's word (-e143), else the next word. */
static const char *option_value(const char *option, const char *attached, int argc, char **argv, int *i) {
  if (attached != NULL && *attached != '\0') return attached;
  if (*i + 1 >= argc) usage_error("%s needs a value", option);
  return argv[++*i];
}

static void add_success_code(struct options *opt, const char *option, const char *text) {
  unsigned long code;
  if (!parse_decimal(text, 255, &code)) usage_error("%s: not an exit code (0 to 255): %s", option, text);
  opt->success_codes[code / 8] |= (unsigned char)(1u << (code % 8));
}

static _Noreturn void print_usage(void) {
  fputs(usage_text, stdout);
  exit(0);
}

/* One line: "pidns-init 0.1.0 (nolibc build, x86_64)". */
static _Noreturn void print_version(void) {
  fputs(version_text, stdout);
  exit(0);
}

/* One word of short options (-gv, -e 143, -e143). */
static void parse_short(struct options *opt, int argc, char **argv, int *i) {
  for (const char *flag = argv[*i] + 1; *flag != '\0'; flag++) {
    char option[3] = {'-', *flag, '\0'};
    switch (*flag) {
      case 'g': opt->signal_group = true; break;
      case 's': break;
      case 'v': opt->verbose = true; break;
      case 'w': opt->wait_all = true; break;
      case 'h': print_usage();
      case 'e': add_success_code(opt, option, option_value(option, flag + 1, argc, argv, i)); return;
      case 'p': opt->parent_death_signal = parse_signal(option, option_value(option, flag + 1, argc, argv, i)); return;
      default: usage_error("unknown option %s", option);
    }
  }
}

struct options parse_options(int argc, char **argv) {
  struct options opt = {.control_fd = -1, .die_with_parent = true, .uid = -1, .gid = -1};
  int i = 1;
  for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--") == 0) {
      i++;
      break;
    }
    if (arg[1] != '-')
      parse_short(&opt, argc, argv, &i);
    else if (strcmp(arg, "--control-fd") == 0)
      opt.control_fd = parse_count(arg, option_value(arg, NULL, argc, argv, &i));
    else if (strcmp(arg, "--grace-ms") == 0)
      opt.grace_ms = parse_count(arg, option_value(arg, NULL, argc, argv, &i));
    else if (strcmp(arg, "--signal-group") == 0)
      opt.signal_group = true;
    else if (strcmp(arg, "--success-exit") == 0)
      add_success_code(&opt, arg, option_value(arg, NULL, argc, argv, &i));
    else if (strcmp(arg, "--parent-death-signal") == 0)
      opt.parent_death_signal = parse_signal(arg, option_value(arg, NULL, argc, argv, &i));
    else if (strcmp(arg, "--subreaper") == 0)
      ;
    else if (strcmp(arg, "--verbose") == 0)
      opt.verbose = true;
    else if (strcmp(arg, "--wait-all") == 0)
      opt.wait_all = true;
    else if (strcmp(arg, "--help") == 0)
      print_usage();
    else if (strcmp(arg, "--version") == 0)
      print_version();
    else if (strcmp(arg, "--foreground") == 0)
      opt.foreground = true;
    else if (strcmp(arg, "--terminal") == 0)
      opt.terminal = true;
    else if (strcmp(arg, "--no-die-with-parent") == 0)
      opt.die_with_parent = false;
    else if (strcmp(arg, "--pause") == 0)
      opt.pause = true;
    else if (strcmp(arg, "--uid") == 0)
      opt.uid = parse_id(arg, option_value(arg, NULL, argc, argv, &i));
    else if (strcmp(arg, "--gid") == 0)
      opt.gid = parse_id(arg, option_value(arg, NULL, argc, argv, &i));
    else if (strcmp(arg, "--groups-denied") == 0)
      opt.groups_denied = true;
    else if (strcmp(arg, "--argv0") == 0)
      opt.argv0 = option_value(arg, NULL, argc, argv, &i);
    else
      usage_error("unknown option %s", arg);
  }
  opt.command = i < argc ? &argv[i] : NULL;
  if (opt.pause && opt.command != NULL) usage_error("--pause takes no command, got %s", argv[i]);
  if (!opt.pause && opt.command == NULL) usage_error("missing command");
  /* The init points its own stdin and stdout at /dev/null, which would cut a channel there. */
  if (opt.control_fd >= 0 && opt.control_fd <= STDERR_FILENO)
    usage_error("--control-fd must be 3 or more, got %d", opt.control_fd);
  return opt;
}
