/*
 * The system call instruction of each architecture the freestanding init supports, and its entry
 * point. The kernel returns -errno in the result register on failure, -4095..-1.
 *
 * x86-64: number in rax, arguments in rdi rsi rdx r10 r8 r9; `syscall` clobbers rcx and r11.
 * At _start, rsp points at argc, then argv[], NULL, envp[], NULL.
 * arm64: number in x8, arguments in x0..x5, result in x0; `svc #0`. sp points at argc as above.
 */
#ifndef PIDNS_FREESTANDING_ARCH_H
#define PIDNS_FREESTANDING_ARCH_H

#if defined(__x86_64__)

static inline long arch_syscall6(long number, long a1, long a2, long a3, long a4, long a5, long a6) {
  register long r10 __asm__("r10") = a4;
  register long r8 __asm__("r8") = a5;
  register long r9 __asm__("r9") = a6;
  long result;
  __asm__ volatile("syscall"
                   : "=a"(result)
                   : "a"(number), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return result;
}

/* The ABI wants rsp 16-byte aligned at a call; the frame pointer is zeroed to end backtraces. */
#define ARCH_START_ASSEMBLY(c_entry) \
  ".text\n.global _start\n.type _start,@function\n_start:\n" \
  "  xor %ebp, %ebp\n  mov %rsp, %rdi\n  and $-16, %rsp\n  call " c_entry "\n  hlt\n"

#elif defined(__aarch64__)

static inline long arch_syscall6(long number, long a1, long a2, long a3, long a4, long a5, long a6) {
  register long x8 __asm__("x8") = number;
  register long x0 __asm__("x0") = a1;
  register long x1 __asm__("x1") = a2;
  register long x2 __asm__("x2") = a3;
  register long x3 __asm__("x3") = a4;
  register long x4 __asm__("x4") = a5;
  register long x5 __asm__("x5") = a6;
  __asm__ volatile("svc #0"
                   : "+r"(x0)
                   : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                   : "memory", "cc");
  return x0;
}

#define ARCH_START_ASSEMBLY(c_entry) \
  ".text\n.global _start\n.type _start,%function\n_start:\n" \
  "  mov x29, #0\n  mov x30, #0\n  mov x0, sp\n  and sp, x0, #-16\n  bl " c_entry "\n  brk #0\n"

#else
#error "the freestanding init supports x86-64 and arm64; build.sh uses the C library elsewhere"
#endif

#endif
