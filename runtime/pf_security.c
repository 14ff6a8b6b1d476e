#include "pf_security.h"

#include "pf_error.h"
#include "pf_log.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct pf_security {
    const pf_sec_plan *plan;
    void *ctx;
    int czmq;          /* ctx is CZMQ's (zsys): the ZAP handler must share it */
    zactor_t *auth;
    zcert_t *cert;     /* this host's key pair */
    int n_mon;         /* CURVE connections watched for failed handshakes */
    struct { void *sock, *pair; char *endpoint; uint64_t failures; } mon[256];
};

/* A readable, well-formed certificate file; NULL + pf_err naming the file. */
static zcert_t *load_cert(const char *path, int secret)
{
    char file[1024];
    snprintf(file, sizeof file, "%s%s", path, secret ? "_secret" : "");
    int fd = open(file, O_RDONLY);
    if (fd < 0) {
        pf_err(PF_EIO, "certificate '%s': cannot read: %s", file, strerror(errno));
        return NULL;
    }
    struct stat st;
    fstat(fd, &st);
    close(fd);
    /* like ssh: a secret others can read is no secret */
    if (secret && (st.st_mode & 077)) {
        pf_err(PF_EINVAL, "secret key '%s' is readable by others (mode %04o): chmod 600 it", file, (unsigned)(st.st_mode & 07777));
        return NULL;
    }
    /* zcert_load prefers NAME_secret; a public-only load must not pick it up */
    zcert_t *c = NULL;
    if (secret) c = zcert_load(path);
    else {
        char *text = NULL, head[4096];
        FILE *f = fopen(file, "r");
        size_t len = f ? fread(head, 1, sizeof head - 1, f) : 0;
        head[len] = 0;
        if (f) fclose(f);
        /* spare the user CZMQ's parser chatter on files that cannot be certificates */
        zconfig_t *cfg = strstr(head, "public-key") ? zconfig_load(file) : NULL;
        if (cfg) text = zconfig_get(cfg, "/curve/public-key", NULL);
        byte pub[32], none[32] = {0};
        if (text && strlen(text) == 40 && zmq_z85_decode(pub, text)) c = zcert_new_from(pub, none);
        zconfig_destroy(&cfg);
    }
    if (!c) {
        pf_err(PF_EFORMAT, "certificate '%s': not a CZMQ certificate (no 40-character curve public-key)", file);
        return NULL;
    }
    if (secret && !strcmp(zcert_secret_txt(c), "0000000000000000000000000000000000000000")) {
        zcert_destroy(&c);
        pf_err(PF_EFORMAT, "certificate '%s': has no secret-key", file);
        return NULL;
    }
    return c;
}

int pf_security_public_key(const char *cert_path, char key[41])
{
    zcert_t *c = load_cert(cert_path, 0);
    if (!c) return PF_EIO;
    snprintf(key, 41, "%s", zcert_public_txt(c));
    zcert_destroy(&c);
    return PF_OK;
}

pf_security *pf_security_create(const pf_sec_plan *plan)
{
    pf_security *s = calloc(1, sizeof *s);
    if (!s) { pf_err(PF_ENOMEM, "out of memory"); return NULL; }
    s->plan = plan;
    if (!plan || !plan->curve) {
        s->ctx = zmq_ctx_new();
        if (!s->ctx) { pf_err(PF_EIO, "zmq_ctx_new: %s", zmq_strerror(zmq_errno())); free(s); return NULL; }
        return s;
    }
    if (!zsys_has_curve()) { pf_err(PF_EINVAL, "this libzmq has no CURVE support"); free(s); return NULL; }
    s->cert = load_cert(plan->secret_cert, 1);
    if (!s->cert) { free(s); return NULL; }
    zcertstore_t *store = zcertstore_new(NULL); /* in memory: exactly the graph's keys */
    for (int i = 0; i < plan->n_allowed; i++) {
        zcert_t *c = load_cert(plan->allowed[i], 0);
        if (!c) { zcertstore_destroy(&store); zcert_destroy(&s->cert); free(s); return NULL; }
        zcertstore_insert(store, &c);
    }
    /* Our node and launcher install their own SIGINT/SIGTERM handling. */
    zsys_handler_set(NULL);
    s->ctx = zsys_init();
    s->czmq = 1;
    /* zauth owns the store from here; the actor is up (ZAP bound) when zactor_new returns */
    s->auth = zactor_new(zauth, store);
    if (!s->auth || !s->ctx) { pf_err(PF_EIO, "cannot start the ZAP handler"); pf_security_destroy(s); return NULL; }
    if (getenv("PF_ZAP_VERBOSE")) { zstr_sendx(s->auth, "VERBOSE", NULL); zsock_wait(s->auth); }
    return s;
}

void *pf_security_ctx(pf_security *s) { return s->ctx; }

static int ipc_dir_ok(const char *ep)
{
    const char *path = ep + 6;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        struct stat st;
        if (!stat(dir, &st) && st.st_uid != geteuid())
            return pf_err(PF_EINVAL, "ipc folder %s belongs to uid %u, not to us: refusing to put sockets there", dir, (unsigned)st.st_uid);
    }
    return PF_OK;
}

int pf_security_bind(pf_security *s, void *sock, int n, const char *const *endpoints)
{
    int tcp = 0;
    for (int i = 0; i < n; i++) tcp |= !strncmp(endpoints[i], "tcp://", 6);
    if (tcp && s->plan && s->plan->curve) {
        int one = 1;
        zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one);
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, zcert_secret_key(s->cert), 32);
    }
    for (int i = 0; i < n; i++) {
        int ipc = !strncmp(endpoints[i], "ipc://", 6);
        if (ipc && ipc_dir_ok(endpoints[i])) return PF_EINVAL;
        /* owner-only from birth: no window in which another user can connect */
        mode_t old = ipc ? umask(077) : 0;
        int rc = zmq_bind(sock, endpoints[i]);
        int err = zmq_errno();
        if (ipc) umask(old);
        if (rc) return pf_err(PF_EIO, "cannot bind %s: %s", endpoints[i], zmq_strerror(err));
        if (ipc && chmod(endpoints[i] + 6, 0600))
            return pf_err(PF_EIO, "ipc socket %s: chmod 600: %s", endpoints[i] + 6, strerror(errno));
    }
    return PF_OK;
}

int pf_security_connect(pf_security *s, void *sock, const char *endpoint)
{
    const char *key = NULL;
    for (int i = 0; s->plan && s->plan->curve && i < s->plan->n_peers; i++)
        if (!strcmp(s->plan->peers[i].endpoint, endpoint)) key = s->plan->peers[i].server_key;
    if (key) {
        zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, key, 40);
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, zcert_public_key(s->cert), 32);
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, zcert_secret_key(s->cert), 32);
        /* Not ZMQ_IMMEDIATE: with it, libzmq 4.3 discards a pipe's unread
         * messages when the peer disconnects (an end-of-stream ack read just
         * after the peer exited would be lost). CURVE sends nothing before the
         * server proved its key anyway. */
        /* libzmq 4.3 never retries a connection whose handshake failed (an
         * impostor on the port, a peer with other keys): watch and reconnect */
        if (s->n_mon < (int)(sizeof s->mon / sizeof s->mon[0])) {
            char inproc[64];
            snprintf(inproc, sizeof inproc, "inproc://pf-sec-mon-%d", s->n_mon);
            int ev = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
            void *pair = zmq_socket(s->ctx, ZMQ_PAIR);
            if (pair && !zmq_socket_monitor(sock, inproc, ev) && !zmq_connect(pair, inproc)) {
                s->mon[s->n_mon].sock = sock;
                s->mon[s->n_mon].pair = pair;
                s->mon[s->n_mon++].endpoint = strdup(endpoint);
            } else if (pair) zmq_close(pair);
        }
    } else if (!strncmp(endpoint, "tcp://", 6) && s->plan && s->plan->curve) {
        return pf_err(PF_EINVAL, "no server key planned for %s: refusing a plain tcp connection", endpoint);
    }
    if (zmq_connect(sock, endpoint)) return pf_err(PF_EIO, "cannot connect %s: %s", endpoint, zmq_strerror(zmq_errno()));
    return PF_OK;
}

void pf_security_tick(pf_security *s)
{
    for (int i = 0; s && i < s->n_mon; i++) {
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, s->mon[i].pair, ZMQ_DONTWAIT) < 0) { zmq_msg_close(&ev); continue; }
        zmq_msg_init(&addr);
        zmq_msg_recv(&addr, s->mon[i].pair, 0);
        uint16_t event = 0;
        uint32_t value = 0;
        if (zmq_msg_size(&ev) >= 6) { memcpy(&event, zmq_msg_data(&ev), 2); memcpy(&value, (char *)zmq_msg_data(&ev) + 2, 4); }
        zmq_msg_close(&ev);
        zmq_msg_close(&addr);
        uint64_t f = ++s->mon[i].failures;
        if (f <= 3 || f % 100 == 0)
            pf_warn("CURVE handshake with %s failed (%s, #%llu): the peer is not the host the graph names, or has other keys; retrying",
                    s->mon[i].endpoint, event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? "our key was refused" : "protocol error",
                    (unsigned long long)f);
        zmq_disconnect(s->mon[i].sock, s->mon[i].endpoint);
        zmq_connect(s->mon[i].sock, s->mon[i].endpoint);
    }
}

void pf_security_destroy(pf_security *s)
{
    if (!s) return;
    for (int i = 0; i < s->n_mon; i++) {
        int zero = 0;
        zmq_setsockopt(s->mon[i].pair, ZMQ_LINGER, &zero, sizeof zero);
        zmq_close(s->mon[i].pair);
        free(s->mon[i].endpoint);
    }
    if (s->czmq) {
        zactor_destroy(&s->auth);
        zsys_shutdown();
    } else if (s->ctx) {
        zmq_ctx_term(s->ctx);
    }
    zcert_destroy(&s->cert);
    free(s);
}

int pf_security_keygen(const char *path)
{
    char secret[1024];
    snprintf(secret, sizeof secret, "%s_secret", path);
    if (!access(path, F_OK) || !access(secret, F_OK))
        return pf_err(PF_EINVAL, "%s or %s exists already: refusing to overwrite a key", path, secret);
    zcert_t *c = zcert_new();
    if (!c) return pf_err(PF_EIO, "cannot generate a key pair (libsodium)");
    zcert_set_meta(c, "created-by", "physioflow keygen");
    /* the secret file is written owner-only from the start */
    mode_t old = umask(077);
    int rc = zcert_save_secret(c, secret);
    umask(old);
    if (rc == 0) rc = zcert_save_public(c, path);
    zcert_destroy(&c);
    if (rc) return pf_err(PF_EIO, "cannot write %s / %s: %s", path, secret, strerror(errno));
    return PF_OK;
}
