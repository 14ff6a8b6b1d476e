/* pf_security: CURVE encryption and ZAP authentication of a node's tcp
 * edges, and owner-only ipc socket files (docs/config.md, "Security").
 *
 * A graph names a certificate per host (or one for every host). A process
 * on host H is the CURVE server, with H's secret key, on every input socket
 * that accepts tcp peers, and a CURVE client, with H's key pair, on every
 * connection to such a socket (ipc ones included: CURVE is per socket). The
 * ZAP handler (CZMQ's zauth) admits only the public keys the graph lists; it
 * runs in the node's ZeroMQ context and is started before anything binds,
 * so no connection is ever accepted unauthenticated.
 *
 * Certificates are CZMQ zcert files: NAME holds the public key, NAME_secret
 * both keys (`physioflow keygen NAME` writes the pair). */
#ifndef PF_SECURITY_H
#define PF_SECURITY_H

/* What graph/ plans for one process. */
typedef struct {
    const char *endpoint;   /* a peer endpoint this process connects to */
    const char *server_key; /* the public key (Z85, 40 chars) of the host serving it */
} pf_sec_peer;

typedef struct pf_sec_plan {
    int curve;                 /* 0: plain (no tcp edges, or insecure = true) */
    const char *secret_cert;   /* this host's certificate, secret part */
    int n_allowed;
    const char **allowed;      /* public certificate files of admitted clients */
    int n_peers;
    pf_sec_peer *peers;        /* connections that must use CURVE, with the server key */
} pf_sec_plan;

typedef struct pf_security pf_security;

/* Load the keys, start the ZAP handler; owns the ZeroMQ context the caller
 * must create every socket in. plan NULL or !plan->curve: a plain context.
 * NULL (pf_err set, naming the file) on failure. */
pf_security *pf_security_create(const pf_sec_plan *plan);
void *pf_security_ctx(pf_security *s);
/* Bind sock to every endpoint; CURVE server when any of them is tcp and the
 * plan has CURVE. ipc socket files are made owner-only (0600) and refused in
 * a folder another user owns. */
int pf_security_bind(pf_security *s, void *sock, int n, const char *const *endpoints);
/* Connect sock, as a CURVE client when the plan lists the endpoint. */
int pf_security_connect(pf_security *s, void *sock, const char *endpoint);
/* Call regularly: reconnects CURVE connections whose handshake failed
 * (libzmq does not retry them), with a warning naming the endpoint. */
void pf_security_tick(pf_security *s);
/* Terminates the context: close every socket first. */
void pf_security_destroy(pf_security *s);

/* Public key (Z85) of a certificate file into key[41]; PF_OK or pf_err. */
int pf_security_public_key(const char *cert_path, char key[41]);
/* A new key pair: NAME (public) and NAME_secret (mode 0600); refuses to
 * overwrite either. */
int pf_security_keygen(const char *path);

#endif
