/* execv and execvp. execvp searches PATH as POSIX describes it and glibc does: a name with a slash
 * is run as it is; otherwise each PATH entry in turn (an empty one is the current folder), a file
 * that exists but is no executable program is run by /bin/sh (musl leaves this step out),
 * and when nothing could be run the error is EACCES if some candidate was refused, else ENOENT. */
#include "libc.h"

/* What the C libraries search when PATH is not set. */
static const char default_path[] = "/bin:/usr/bin";
enum { PATH_MAX_BYTES = 4096 };

int execv(const char *path, char *const argv[]) { return execve(path, argv, environ); }

static const char *environment_value(const char *name) {
  size_t length = strlen(name);
  for (char **entry = environ; entry != NULL && *entry != NULL; entry++) {
    if (strncmp(*entry, name, length) == 0 && (*entry)[length] == '=') return *entry + length + 1;
  }
  return NULL;
}

/* A file without a #! line that the kernel will not run (ENOEXEC) is a shell script by POSIX. */
static void exec_as_script(const char *path, char *const argv[]) {
  size_t argc = 0;
  while (argv[argc] != NULL) argc++;
  char *shell_argv[argc + 2];
  shell_argv[0] = "sh";
  shell_argv[1] = (char *)path;
  for (size_t i = 1; i <= argc; i++) shell_argv[i + 1] = argv[i];
  execve("/bin/sh", shell_argv, environ);
}

static void try_exec(const char *path, char *const argv[]) {
  execve(path, argv, environ);
  if (errno == ENOEXEC) {
    exec_as_script(path, argv);
    errno = ENOEXEC;
  }
}

int execvp(const char *file, char *const argv[]) {
  if (file[0] == '\0') {
    errno = ENOENT;
    return -1;
  }
  if (strchr(file, '/') != NULL) {
    try_exec(file, argv);
    return -1;
  }
  size_t file_length = strlen(file);
  const char *search = environment_value("PATH");
  if (search == NULL) search = default_path;
  bool refused = false;
  for (const char *entry = search;; entry++) {
    const char *end = strchr(entry, ':');
    if (end == NULL) end = entry + strlen(entry);
    size_t dir_length = (size_t)(end - entry);
    char path[PATH_MAX_BYTES];
    if (dir_length + 1 + file_length + 1 <= sizeof path) {
      memcpy(path, entry, dir_length);
      size_t at = dir_length;
      if (at > 0) path[at++] = '/';
      memcpy(path + at, file, file_length + 1);
      try_exec(path, argv);
      /* These say this candidate is not it; anything else ends the search, as it would for a
       * path. */
      switch (errno) {
        case EACCES: refused = true; break;
        case ENOENT:
        case ENOTDIR:
        case ENODEV:
        case ETIMEDOUT:
        case ESTALE: break;
        default: return -1;
      }
    }
    if (*end == '\0') break;
    entry = end;
  }
  errno = refused ? EACCES : ENOENT;
  return -1;
}
