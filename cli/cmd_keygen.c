/* physioflow keygen CERT...: a CURVE key pair per name, as CZMQ certificate
 * files: CERT (public, to copy to every host of the graph) and CERT_secret
 * (owner-only, stays on the host it belongs to). docs/config.md, "Security". */
#include "pf_error.h"
#include "pf_security.h"

#include <stdio.h>
#include <string.h>

int pf_cmd_keygen(int argc, char **argv)
{
    if (argc < 3 || !strcmp(argv[2], "-h") || !strcmp(argv[2], "--help")) {
        fprintf(argc < 3 ? stderr : stdout, "usage: physioflow keygen CERT...\n"
                "  writes CERT (public key) and CERT_secret (secret key, mode 0600) for each name;\n"
                "  name CERT in the graph's 'cert' or in a host's entry\n");
        return argc < 3 ? 2 : 0;
    }
    for (int i = 2; i < argc; i++) {
        if (pf_security_keygen(argv[i])) { fprintf(stderr, "physioflow keygen: %s\n", pf_errmsg()); return 1; }
        char key[41];
        if (pf_security_public_key(argv[i], key)) { fprintf(stderr, "physioflow keygen: %s\n", pf_errmsg()); return 1; }
        printf("%s: public key %s (secret in %s_secret)\n", argv[i], key, argv[i]);
    }
    return 0;
}
