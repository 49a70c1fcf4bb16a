/* The entry point: the kernel starts the program at _start with the stack holding argc, argv[],
 * NULL, envp[], NULL. There is nothing to set up before main: no thread pointer is needed (errno
 * is a plain variable), no constructors run, nothing is relocated (the binary is not
 * position-independent). */
#include "libc.h"

#include "arch.h"

char **environ;

int main(int argc, char **argv);

__attribute__((used, noreturn)) static void start_c(long *stack) {
  int argc = (int)stack[0];
  char **argv = (char **)(stack + 1);
  environ = argv + argc + 1;
  exit(main(argc, argv));
}

__asm__(ARCH_START_ASSEMBLY("start_c"));
