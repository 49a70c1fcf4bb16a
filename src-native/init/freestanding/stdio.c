/* Formatted output to a descriptor, for the init's error lines. Unbuffered like stderr: a call
 * writes its text at once, in one write() when it fits in the buffer, so lines from the init and
 * its command do not interleave mid-line. Conversions: %s %c %d %i %u %x with the length
 * modifiers l, ll and z, and %%; no widths or precisions (the init uses none). */
#include "libc.h"

static FILE standard_output = {.fd = STDOUT_FILENO};
static FILE standard_error = {.fd = STDERR_FILENO};
FILE *const stdout = &standard_output;
FILE *const stderr = &standard_error;

struct output {
  int fd;
  size_t used;
  int total;
  bool failed;
  char buf[256];
};

static void flush(struct output *out) {
  size_t done = 0;
  while (done < out->used && !out->failed) {
    ssize_t n = write(out->fd, out->buf + done, out->used - done);
    if (n > 0)
      done += (size_t)n;
    else if (n == 0 || errno != EINTR)
      out->failed = true;
  }
  out->used = 0;
}

static void put(struct output *out, const char *text, size_t length) {
  out->total += (int)length;
  while (length > 0) {
    if (out->used == sizeof out->buf) flush(out);
    size_t room = sizeof out->buf - out->used;
    size_t part = length < room ? length : room;
    memcpy(out->buf + out->used, text, part);
    out->used += part;
    text += part;
    length -= part;
  }
}

static void put_number(struct output *out, unsigned long long magnitude, bool negative, unsigned base) {
  char digits[24];
  size_t at = sizeof digits;
  do {
    digits[--at] = "0123456789abcdef"[magnitude % base];
    magnitude /= base;
  } while (magnitude > 0);
  if (negative) digits[--at] = '-';
  put(out, digits + at, sizeof digits - at);
}

enum length { LENGTH_INT, LENGTH_LONG, LENGTH_LONG_LONG, LENGTH_SIZE };

static long long signed_argument(va_list *args, enum length length) {
  switch (length) {
    case LENGTH_LONG: return va_arg(*args, long);
    case LENGTH_LONG_LONG: return va_arg(*args, long long);
    case LENGTH_SIZE: return va_arg(*args, ssize_t);
    default: return va_arg(*args, int);
  }
}

static unsigned long long unsigned_argument(va_list *args, enum length length) {
  switch (length) {
    case LENGTH_LONG: return va_arg(*args, unsigned long);
    case LENGTH_LONG_LONG: return va_arg(*args, unsigned long long);
    case LENGTH_SIZE: return va_arg(*args, size_t);
    default: return va_arg(*args, unsigned int);
  }
}

int vfprintf(FILE *stream, const char *format, va_list args) {
  struct output out = {.fd = stream->fd};
  va_list rest;
  va_copy(rest, args);
  for (const char *p = format; *p != '\0'; p++) {
    if (*p != '%') {
      const char *literal = p;
      while (p[1] != '\0' && p[1] != '%') p++;
      put(&out, literal, (size_t)(p - literal + 1));
      continue;
    }
    const char *conversion = p++;
    enum length length = LENGTH_INT;
    if (*p == 'z') {
      length = LENGTH_SIZE;
      p++;
    } else if (*p == 'l') {
      length = LENGTH_LONG;
      if (*++p == 'l') {
        length = LENGTH_LONG_LONG;
        p++;
      }
    }
    switch (*p) {
      case '%': put(&out, "%", 1); break;
      case 'c': {
        char c = (char)va_arg(rest, int);
        put(&out, &c, 1);
        break;
      }
      case 's': {
        const char *s = va_arg(rest, const char *);
        if (s == NULL) s = "(null)";
        put(&out, s, strlen(s));
        break;
      }
      case 'd':
      case 'i': {
        long long value = signed_argument(&rest, length);
        /* The magnitude of LLONG_MIN does not fit in a long long, but does in its unsigned form. */
        unsigned long long magnitude = value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value;
        put_number(&out, magnitude, value < 0, 10);
        break;
      }
      case 'u': put_number(&out, unsigned_argument(&rest, length), false, 10); break;
      case 'x': put_number(&out, unsigned_argument(&rest, length), false, 16); break;
      default:
        /* Not supported: shown as written, so the mistake is visible. */
        put(&out, conversion, (size_t)(p - conversion + (*p != '\0')));
        if (*p == '\0') p--;
    }
  }
  va_end(rest);
  flush(&out);
  return out.failed ? -1 : out.total;
}

int fprintf(FILE *stream, const char *format, ...) {
  va_list args;
  va_start(args, format);
  int written = vfprintf(stream, format, args);
  va_end(args);
  return written;
}

int fputs(const char *s, FILE *stream) { return fprintf(stream, "%s", s) < 0 ? -1 : 1; }
