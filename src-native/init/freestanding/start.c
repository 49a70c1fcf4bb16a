/* The entry point, and what the kernel leaves on the stack for it: the kernel starts the program at
 * _start with the stack holding argc, argv[], NULL, envp[], NULL, then the auxiliary vector
 * (getauxval); the environment is read with getenv. There is nothing to set up before main: no thread pointer is needed (errno
 * is a plain variable), no constructors run, nothing is relocated (the binary is not
 * position-independent). */
#include "libc.h"

#include "arch.h"

char **environ;

char *getenv(const char *name) {
  size_t length = strlen(name);
  for (char **entry = environ; *entry != NULL; entry++) {
    if (strncmp(*entry, name, length) == 0 && (*entry)[length] == '=') return *entry + length + 1;
  }
  return NULL;
}

/* The auxiliary vector after envp's NULL: pairs of (type, value), ended by type 0 (AT_NULL). */
static unsigned long *auxv;

int main(int argc, char **argv);

unsigned long getauxval(unsigned long type) {
  for (unsigned long *entry = auxv; entry && entry[0] != 0; entry += 2) {
    if (entry[0] == type) return entry[1];
  }
  errno = ENOENT;
  return 0;
}

__attribute__((used, noreturn)) static void start_c(long *stack) {
  int argc = (int)stack[0];
  char **argv = (char **)(stack + 1);
  environ = argv + argc + 1;
  char **env = environ;
  while (*env) env++;
  auxv = (unsigned long *)(env + 1);
  exit(main(argc, argv));
}

__asm__(ARCH_START_ASSEMBLY("start_c"));
