/* The string and number helpers the init uses. The compiler may also emit calls to memcpy, memset,
 * memmove and memcmp for structure copies and initialisers, even with -ffreestanding. */
#include "libc.h"

void *memcpy(void *dest, const void *src, size_t n) {
  unsigned char *d = dest;
  const unsigned char *s = src;
  while (n-- > 0) *d++ = *s++;
  return dest;
}

void *memmove(void *dest, const void *src, size_t n) {
  unsigned char *d = dest;
  const unsigned char *s = src;
  if (d <= s || d >= s + n) return memcpy(dest, src, n);
  while (n-- > 0) d[n] = s[n];
  return dest;
}

void *memset(void *dest, int byte, size_t n) {
  unsigned char *d = dest;
  while (n-- > 0) *d++ = (unsigned char)byte;
  return dest;
}

int memcmp(const void *a, const void *b, size_t n) {
  const unsigned char *x = a, *y = b;
  for (; n > 0; n--, x++, y++) {
    if (*x != *y) return *x - *y;
  }
  return 0;
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

static int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
  return 36;
}

/* As C says: leading blanks, a sign, a 0x prefix for base 16 (or 0 meaning 8, 10 or 16 from the
 * prefix); ERANGE and LONG_MAX/LONG_MIN on overflow; *end at the first character not used. */
long strtol(const char *text, char **end, int base) {
  const char *s = text;
  while (*s == ' ' || (*s >= '\t' && *s <= '\r')) s++;
  bool negative = *s == '-';
  if (*s == '-' || *s == '+') s++;
  if ((base == 0 || base == 16) && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && digit_value(s[2]) < 16) {
    s += 2;
    base = 16;
  } else if (base == 0) {
    base = s[0] == '0' ? 8 : 10;
  }
  if (base < 2 || base > 36) {
    errno = EINVAL;
    if (end) *end = (char *)text;
    return 0;
  }
  /* Accumulated as a negative number, whose range includes LONG_MIN. */
  long value = 0;
  bool overflow = false;
  const char *first = s;
  for (int d; (d = digit_value(*s)) < base; s++) {
    if (value < (LONG_MIN + d) / base) overflow = true;
    if (!overflow) value = value * base - d;
  }
  if (end) *end = (char *)(s == first ? text : s);
  if (!overflow && !negative && value == LONG_MIN) overflow = true;
  if (overflow) {
    errno = ERANGE;
    return negative ? LONG_MIN : LONG_MAX;
  }
  return negative ? value : -value;
}
