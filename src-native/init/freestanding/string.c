/* The string functions the init uses. The compiler may also emit calls to memcpy and memset for
 * structure copies and initialisers, even with -ffreestanding (and to memmove and memcmp, which
 * it does not here: the link would fail if it started to). */
#include "libc.h"

void *memcpy(void *dest, const void *src, size_t n) {
  unsigned char *d = dest;
  const unsigned char *s = src;
  while (n-- > 0) *d++ = *s++;
  return dest;
}

void *memset(void *dest, int byte, size_t n) {
  unsigned char *d = dest;
  while (n-- > 0) *d++ = (unsigned char)byte;
  return dest;
}

size_t strlen(const char *s) {
  const char *end = s;
  while (*end) end++;
  return (size_t)(end - s);
}

int strcmp(const char *a, const char *b) { return strncmp(a, b, (size_t)-1); }

int strncmp(const char *a, const char *b, size_t n) {
  for (; n > 0; n--, a++, b++) {
    if (*a != *b) return (unsigned char)*a - (unsigned char)*b;
    if (*a == '\0') return 0;
  }
  return 0;
}

char *strchr(const char *s, int c) {
  for (;; s++) {
    if (*s == (char)c) return (char *)s;
    if (*s == '\0') return NULL;
  }
}
