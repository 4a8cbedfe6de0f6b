/*
 * The host of weft's small executables, the CNI plugin (build/weft-cni)
 * and the lab's port server (build/weft-port-server): QuickJS (quickjs-ng,
 * scripts/quickjs.sh) running one program's bundle, compiled to bytecode
 * at build time (scripts/build.ts links it in as weft_program), with one
 * global object, weftSys, of the libc calls those programs make
 * (src/sys/qjs-host.ts says what each one takes and returns). Nothing
 * else: no module loader, no std or os module, no event loop (the port
 * server polls its sockets itself). The program ends the process with
 * weftSys.exit().
 *
 * Each call returns what libc returns, or minus errno when it failed, so
 * the script decides what is an error. Buffers are Uint8Arrays, paths are
 * strings (UTF-8 here).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quickjs.h"

extern const uint32_t weft_program_size;
extern const uint8_t weft_program[];

/* The command line, for weftSys.argv(). */
static int main_argc;
static char **main_argv;
extern char **environ;

/* libc's result, or -errno when it failed. */
static JSValue result(JSContext *ctx, int64_t rc)
{
    return JS_NewInt64(ctx, rc < 0 ? -(int64_t)errno : rc);
}

static int int_arg(JSContext *ctx, JSValueConst v, int32_t *out)
{
    return JS_ToInt32(ctx, out, v);
}

#define INT(i, name)                                      \
    int32_t name;                                         \
    if (int_arg(ctx, argv[i], &name)) return JS_EXCEPTION

/* Taken after every number is converted: a conversion can run the caller's code, which could detach the buffer. */
#define BYTES(i, name, size)                              \
    size_t size;                                          \
    uint8_t *name = JS_GetUint8Array(ctx, &size, argv[i]); \
    if (!name && size == 0 && JS_HasException(ctx)) return JS_EXCEPTION

/* A path argument as TextEncoder's UTF-8 (to_utf8), NUL-terminated; free() it. */
#define PATH(i, name)                                     \
    char *name = to_utf8(ctx, argv[i], NULL);             \
    if (!name) return JS_EXCEPTION

/*
 * `v` as UTF-8 as TextEncoder makes it, NUL-terminated, in memory of its
 * own (free() it); its length in *plen. QuickJS's own UTF-8 keeps a lone
 * surrogate as its three bytes; asked for CESU-8, every surrogate is
 * three bytes ED A0..BF xx, so a pair is joined here into one four-byte
 * character and a lone one becomes U+FFFD (never longer than the input).
 */
static char *to_utf8(JSContext *ctx, JSValueConst v, size_t *plen)
{
    size_t len;
    const char *s = JS_ToCStringLen2(ctx, &len, v, true);
    if (!s) return NULL;
    const uint8_t *in = (const uint8_t *)s;
    uint8_t *out = malloc(len + 1);
    if (!out) {
        JS_FreeCString(ctx, s);
        JS_ThrowOutOfMemory(ctx);
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (in[i] == 0xED && i + 2 < len && in[i + 1] >= 0xA0) {
            uint32_t hi = 0xD000 | ((uint32_t)(in[i + 1] & 0x3F) << 6) | (in[i + 2] & 0x3F);
            if (hi < 0xDC00 && i + 5 < len && in[i + 3] == 0xED && in[i + 4] >= 0xB0) {
                uint32_t lo = 0xD000 | ((uint32_t)(in[i + 4] & 0x3F) << 6) | (in[i + 5] & 0x3F);
                uint32_t c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                out[o++] = (uint8_t)(0xF0 | (c >> 18));
                out[o++] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
                out[o++] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
                out[o++] = (uint8_t)(0x80 | (c & 0x3F));
                i += 6;
            } else {
                out[o++] = 0xEF;
                out[o++] = 0xBF;
                out[o++] = 0xBD;
                i += 3;
            }
        } else {
            out[o++] = in[i++];
        }
    }
    out[o] = 0;
    JS_FreeCString(ctx, s);
    if (plen) *plen = o;
    return (char *)out;
}

static JSValue sys_encode_utf8(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    size_t len;
    char *s = to_utf8(ctx, argv[0], &len);
    if (!s) return JS_EXCEPTION;
    JSValue r = JS_NewUint8ArrayCopy(ctx, (const uint8_t *)s, len);
    free(s);
    return r;
}

static JSValue sys_socket(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    INT(0, domain); INT(1, type); INT(2, protocol);
    return result(ctx, socket(domain, type, protocol));
}

static JSValue sys_send(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    INT(0, fd); BYTES(1, buf, len);
    return result(ctx, send(fd, buf, len, 0));
}

static JSValue sys_recv(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    INT(0, fd); BYTES(1, buf, len);
    return result(ctx, recv(fd, buf, len, 0));
}

static JSValue sys_connect(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    INT(0, fd); INT(2, len); BYTES(1, addr, size);
    if ((size_t)len > size) return JS_ThrowRangeError(ctx, "connect: address length past its buffer");
    return result(ctx, connect(fd, (const struct sockaddr *)addr, (socklen_t)len));
}

static JSValue sys_setsockopt(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    INT(0, fd); INT(1, level); INT(2, name); BYTES(3, value, len);
    return result(ctx, setsockopt(fd, level, name, value, (socklen_t)len));
}

static JSValue sys_setns(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    INT(0, fd); INT(1, nstype);
    return result(ctx, setns(fd, nstype));
}

static JSValue sys_flock(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    INT(0, fd); INT(1, op);
    return result(ctx, flock(fd, op));
}

static JSValue sys_open(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    PATH(0, path); INT(1, flags); INT(2, mode);
    int64_t rc = open(path, flags, (mode_t)mode);
    JSValue r = result(ctx, rc);
    free(path);
    return r;
}

static JSValue sys_read(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    INT(0, fd); BYTES(1, buf, len);
    return result(ctx, read(fd, buf, len));
}

static JSValue sys_write(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    INT(0, fd); BYTES(1, buf, len);
    return result(ctx, write(fd, buf, len));
}

static JSValue sys_pwrite(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    INT(0, fd);
    int64_t offset;
    if (JS_ToInt64(ctx, &offset, argv[2])) return JS_EXCEPTION;
    BYTES(1, buf, len);
    return result(ctx, pwrite(fd, buf, len, (off_t)offset));
}

static JSValue sys_rename(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    PATH(0, from);
    char *to = to_utf8(ctx, argv[1], NULL);
    if (!to) {
        free(from);
        return JS_EXCEPTION;
    }
    JSValue r = result(ctx, rename(from, to));
    free(from);
    free(to);
    return r;
}

static JSValue sys_unlink(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    PATH(0, path);
    JSValue r = result(ctx, unlink(path));
    free(path);
    return r;
}

static JSValue sys_mkdir(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    PATH(0, path); INT(1, mode);
    JSValue r = result(ctx, mkdir(path, (mode_t)mode));
    free(path);
    return r;
}

static JSValue sys_access(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    PATH(0, path); INT(1, mode);
    JSValue r = result(ctx, access(path, mode));
    free(path);
    return r;
}

static JSValue sys_statx(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    INT(0, dirfd); PATH(1, path); INT(2, flags); INT(3, mask);
    size_t len;
    uint8_t *buf = JS_GetUint8Array(ctx, &len, argv[4]);
    if (!buf || len < sizeof(struct statx)) {
        free(path);
        return JS_ThrowRangeError(ctx, "statx: the buffer must hold a struct statx");
    }
    JSValue r = result(ctx, statx(dirfd, path, flags, (unsigned)mask, (struct statx *)buf));
    free(path);
    return r;
}

static JSValue sys_ioctl(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    INT(0, fd); INT(1, request);
    return result(ctx, ioctl(fd, (unsigned long)(uint32_t)request, 0));
}

static JSValue sys_close(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    INT(0, fd);
    return result(ctx, close(fd));
}

static JSValue sys_getpid(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    return JS_NewInt32(ctx, getpid());
}

static JSValue sys_random(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    BYTES(0, buf, len);
    size_t done = 0;
    while (done < len) {
        ssize_t n = getrandom(buf + done, len - done, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return result(ctx, -1);
        }
        done += (size_t)n;
    }
    return JS_NewInt64(ctx, (int64_t)done);
}

static JSValue sys_exit(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    INT(0, code);
    _exit(code);
}

/*
 * The length of the well-formed UTF-8 character at in[0..n), or 0 when
 * none starts there; *bad is then how many bytes one U+FFFD replaces (the
 * standard's "maximal subpart").
 */
static size_t utf8_char(const uint8_t *in, size_t n, size_t *bad)
{
    uint8_t b = in[0];
    *bad = 1;
    if (b < 0x80) return 1;
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) need = 1;
    else if (b >= 0xE0 && b <= 0xEF) {
        need = 2;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
    } else return 0;
    for (size_t k = 1; k <= need; k++) {
        if (k >= n || in[k] < lo || in[k] > hi) {
            *bad = k;
            return 0;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return need + 1;
}

/*
 * Bytes as text: UTF-8 with U+FFFD for what is not, as TextDecoder (which
 * also drops a leading byte-order mark: `drop_bom`); or latin1, one
 * character per byte.
 */
static JSValue new_text(JSContext *ctx, const uint8_t *in, size_t len, int latin1, int drop_bom)
{
    size_t start = drop_bom && !latin1 && len >= 3 && in[0] == 0xEF && in[1] == 0xBB && in[2] == 0xBF ? 3 : 0;
    /* At most three bytes out for each byte in: U+FFFD for one bad byte, two for a latin1 one. */
    uint8_t stack[1024] = {0};
    size_t cap = (len - start) * 3;
    uint8_t *out = cap <= sizeof stack ? stack : calloc(cap, 1);
    if (!out) return JS_ThrowOutOfMemory(ctx);
    size_t o = 0;
    for (size_t i = start; i < len;) {
        if (latin1) {
            uint8_t b = in[i++];
            if (b < 0x80) out[o++] = b;
            else {
                out[o++] = (uint8_t)(0xC0 | (b >> 6));
                out[o++] = (uint8_t)(0x80 | (b & 0x3F));
            }
            continue;
        }
        size_t bad;
        size_t n = utf8_char(in + i, len - i, &bad);
        if (n > 0) {
            memcpy(out + o, in + i, n);
            o += n;
            i += n;
        } else {
            out[o++] = 0xEF;
            out[o++] = 0xBF;
            out[o++] = 0xBD;
            i += bad;
        }
    }
    JSValue r = JS_NewStringLen(ctx, (const char *)out, o);
    if (out != stack) free(out);
    return r;
}

static JSValue sys_decode(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    BYTES(0, in, len);
    return new_text(ctx, in, len, JS_ToBool(ctx, argv[1]), 1);
}

/*
 * The environment, its values decoded as TextDecoder would (what is not
 * UTF-8 as U+FFFD, but a byte-order mark kept). Of two equal names the
 * first wins, as getenv(3) finds it.
 */
static JSValue sys_environ(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    JSValue obj = JS_NewObject(ctx);
    if (JS_IsException(obj)) return obj;
    for (char **e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq || eq == *e) continue;
        JSAtom atom = JS_NewAtomLen(ctx, *e, (size_t)(eq - *e));
        if (atom == JS_ATOM_NULL) {
            JS_FreeValue(ctx, obj);
            return JS_EXCEPTION;
        }
        int has = JS_HasProperty(ctx, obj, atom);
        if (has == 0 && JS_DefinePropertyValue(ctx, obj, atom, new_text(ctx, (const uint8_t *)eq + 1, strlen(eq + 1), 0, 0), JS_PROP_C_W_E) < 0) has = -1;
        JS_FreeAtom(ctx, atom);
        if (has < 0) {
            JS_FreeValue(ctx, obj);
            return JS_EXCEPTION;
        }
    }
    return obj;
}

static JSValue sys_bind(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    INT(0, fd); BYTES(1, addr, size);
    return result(ctx, bind(fd, (const struct sockaddr *)addr, (socklen_t)size));
}

static JSValue sys_listen(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    INT(0, fd); INT(1, backlog);
    return result(ctx, listen(fd, backlog));
}

/* accept4(2); the peer's address goes into `addr` (a struct sockaddr_storage's room). */
static JSValue sys_accept4(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    INT(0, fd); INT(2, flags); BYTES(1, addr, size);
    socklen_t len = (socklen_t)size;
    return result(ctx, accept4(fd, (struct sockaddr *)addr, &len, flags));
}

/* recvfrom(2); the sender's address goes into `addr`. */
static JSValue sys_recvfrom(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    INT(0, fd); BYTES(1, buf, len); BYTES(2, addr, size);
    socklen_t alen = (socklen_t)size;
    return result(ctx, recvfrom(fd, buf, len, 0, (struct sockaddr *)addr, &alen));
}

static JSValue sys_sendto(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    INT(0, fd); BYTES(1, buf, len); BYTES(2, addr, size);
    return result(ctx, sendto(fd, buf, len, 0, (const struct sockaddr *)addr, (socklen_t)size));
}

static JSValue sys_shutdown(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    INT(0, fd); INT(1, how);
    return result(ctx, shutdown(fd, how));
}

/* poll(2) over `fds`, an array of struct pollfd (8 bytes each). */
static JSValue sys_poll(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    INT(1, timeout); BYTES(0, fds, size);
    return result(ctx, poll((struct pollfd *)fds, size / sizeof(struct pollfd), timeout));
}

/* CLOCK_MONOTONIC in milliseconds. */
static JSValue sys_now(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return JS_NewFloat64(ctx, (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6);
}

/* The command line, the program's name first. */
static JSValue sys_argv(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    JSValue arr = JS_NewArray(ctx);
    if (JS_IsException(arr)) return arr;
    for (int i = 0; i < main_argc; i++) {
        if (JS_SetPropertyUint32(ctx, arr, (uint32_t)i, new_text(ctx, (const uint8_t *)main_argv[i], strlen(main_argv[i]), 0, 0)) < 0) {
            JS_FreeValue(ctx, arr);
            return JS_EXCEPTION;
        }
    }
    return arr;
}

/* The exit status each signal ends the process with (exitOnSignal). */
static volatile sig_atomic_t exit_codes[NSIG];

static void exit_on_signal(int sig)
{
    _exit(exit_codes[sig]);
}

/* Signal argv[0]'s disposition from now on: `handler`, or SIG_IGN. */
static JSValue set_signal(JSContext *ctx, JSValueConst *argv, void (*handler)(int))
{
    INT(0, sig);
    if (sig <= 0 || sig >= NSIG) return JS_ThrowRangeError(ctx, "no signal %d", sig);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    return result(ctx, sigaction(sig, &sa, NULL));
}

/* From now on, signal `sig` ends the process at once with status `code` (as a server's clean stop on SIGTERM). */
static JSValue sys_exit_on_signal(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    INT(0, sig); INT(1, code);
    if (sig > 0 && sig < NSIG) exit_codes[sig] = code;
    return set_signal(ctx, argv, exit_on_signal);
}

/* From now on, signal `sig` is ignored (a server's SIGPIPE: a write to a peer that reset is then an EPIPE error). */
static JSValue sys_ignore_signal(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv)
{
    return set_signal(ctx, argv, SIG_IGN);
}

static const JSCFunctionListEntry sys_funcs[] = {
    JS_CFUNC_DEF("socket", 3, sys_socket),
    JS_CFUNC_DEF("send", 2, sys_send),
    JS_CFUNC_DEF("recv", 2, sys_recv),
    JS_CFUNC_DEF("connect", 3, sys_connect),
    JS_CFUNC_DEF("setsockopt", 4, sys_setsockopt),
    JS_CFUNC_DEF("setns", 2, sys_setns),
    JS_CFUNC_DEF("flock", 2, sys_flock),
    JS_CFUNC_DEF("open", 3, sys_open),
    JS_CFUNC_DEF("read", 2, sys_read),
    JS_CFUNC_DEF("write", 2, sys_write),
    JS_CFUNC_DEF("pwrite", 3, sys_pwrite),
    JS_CFUNC_DEF("rename", 2, sys_rename),
    JS_CFUNC_DEF("unlink", 1, sys_unlink),
    JS_CFUNC_DEF("mkdir", 2, sys_mkdir),
    JS_CFUNC_DEF("access", 2, sys_access),
    JS_CFUNC_DEF("statx", 5, sys_statx),
    JS_CFUNC_DEF("ioctl", 2, sys_ioctl),
    JS_CFUNC_DEF("close", 1, sys_close),
    JS_CFUNC_DEF("getpid", 0, sys_getpid),
    JS_CFUNC_DEF("environ", 0, sys_environ),
    JS_CFUNC_DEF("random", 1, sys_random),
    JS_CFUNC_DEF("exit", 1, sys_exit),
    JS_CFUNC_DEF("encodeUtf8", 1, sys_encode_utf8),
    JS_CFUNC_DEF("decode", 2, sys_decode),
    JS_CFUNC_DEF("bind", 2, sys_bind),
    JS_CFUNC_DEF("listen", 2, sys_listen),
    JS_CFUNC_DEF("accept4", 3, sys_accept4),
    JS_CFUNC_DEF("recvfrom", 3, sys_recvfrom),
    JS_CFUNC_DEF("sendto", 3, sys_sendto),
    JS_CFUNC_DEF("shutdown", 2, sys_shutdown),
    JS_CFUNC_DEF("poll", 2, sys_poll),
    JS_CFUNC_DEF("now", 0, sys_now),
    JS_CFUNC_DEF("argv", 0, sys_argv),
    JS_CFUNC_DEF("exitOnSignal", 2, sys_exit_on_signal),
    JS_CFUNC_DEF("ignoreSignal", 1, sys_ignore_signal),
};

#ifdef WEFT_CNI_PLUGIN
/* `s` as a JSON string's contents in ASCII, so the JSON is valid whatever bytes `s` holds (one not ASCII as U+FFFD). */
static void put_json_string(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else if (*p >= 0x7F) fputs("\\ufffd", f);
        else fputc(*p, f);
    }
}
#endif

/*
 * What the script threw past its own handling (a bug in weft, such as an
 * error while its modules load): on stderr, exit status 1. The CNI plugin
 * (built with WEFT_CNI_PLUGIN) also answers on stdout the CNI error its
 * main.ts gives an internal error (code 100), so the runtime shows it.
 */
static int fail(JSContext *ctx)
{
    JSValue exc = JS_GetException(ctx);
    const char *msg = JS_ToCString(ctx, exc);
    if (!msg) msg = "uncaught exception";
    fprintf(stderr, "weft: %s\n", msg);
#ifdef WEFT_CNI_PLUGIN
    fputs("{\"cniVersion\":\"1.1.0\",\"code\":100,\"msg\":\"the weft plugin hit an internal error (a bug in weft, not a problem with the input)\",\"details\":\"please report it with this: ", stdout);
    put_json_string(stdout, msg);
    fputs("\"}", stdout);
    fflush(stdout);
#endif
    return 1;
}

int main(int argc, char **argv)
{
    main_argc = argc;
    main_argv = argv;
    JSRuntime *rt = JS_NewRuntime();
    if (!rt) return 1;
    JSContext *ctx = JS_NewContext(rt);
    if (!ctx) return 1;
    JSValue global = JS_GetGlobalObject(ctx);
    JSValue sys = JS_NewObject(ctx);
    JS_SetPropertyFunctionList(ctx, sys, sys_funcs, sizeof sys_funcs / sizeof sys_funcs[0]);
    JS_SetPropertyStr(ctx, global, "weftSys", sys);
    JS_FreeValue(ctx, global);
    JSValue fn = JS_ReadObject(ctx, weft_program, weft_program_size, JS_READ_OBJ_BYTECODE);
    if (JS_IsException(fn)) return fail(ctx);
    JSValue r = JS_EvalFunction(ctx, fn);
    if (JS_IsException(r)) return fail(ctx);
    /* Promise jobs, should the script leave any (there are no timers or I/O events to wait for). */
    for (JSContext *job; JS_ExecutePendingJob(rt, &job) != 0;)
        if (JS_HasException(ctx)) return fail(ctx);
    /* The script exits by itself; reaching here means it did not. */
    fprintf(stderr, "weft: the program ended without exiting\n");
    return 1;
}
