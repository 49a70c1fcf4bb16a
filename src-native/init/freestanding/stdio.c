/* Formatted output to a descriptor, for the init's error lines (and --help on stdout). Unbuffered like stderr: a call
 * writes its text at once, in one write() when it fits in the buffer, so lines from the init and
 * its command do not interleave mid-line. Conversions: %s and %d, the ones the init uses (no
 * length modifiers, widths or precisions). */
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

static void put_int(struct output *out, int value) {
  char digits[12];
  size_t at = sizeof digits;
  /* The magnitude of INT_MIN does not fit in an int, but does in its unsigned form. */
  unsigned magnitude = value < 0 ? 0U - (unsigned)value : (unsigned)value;
  do {
    digits[--at] = (char)('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude > 0);
  if (value < 0) digits[--at] = '-';
  put(out, digits + at, sizeof digits - at);
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
    if (p[1] == 's') {
      const char *s = va_arg(rest, const char *);
      if (s == NULL) s = "(null)";
      put(&out, s, strlen(s));
    } else if (p[1] == 'd') {
      put_int(&out, va_arg(rest, int));
    } else {
      /* Not supported: written as it stands, so the mistake is visible. */
      put(&out, p, p[1] == '\0' ? 1 : 2);
    }
    if (p[1] != '\0') p++;
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
