/*
 * TLS contexts for SMPP sessions (OpenSSL 3, TLS >= 1.2).
 *
 * Client contexts verify the server's certificate and host name by default;
 * server contexts may require client certificates. Contexts are
 * reference-counted by OpenSSL: free with SSL_CTX_free().
 */
#ifndef SMPP_TLS_H
#define SMPP_TLS_H

#include <stdbool.h>
#include <openssl/ssl.h>

struct smpp_tls_client_cfg {
    const char *ca_file;     /* NULL: the system's trust store */
    const char *cert_file;   /* optional client certificate */
    const char *key_file;
    bool verify;             /* default true; false only for lab use */
};

struct smpp_tls_server_cfg {
    const char *cert_file;   /* required */
    const char *key_file;    /* required */
    const char *ca_file;     /* to verify client certificates */
    bool verify_client;      /* require a client certificate signed by ca_file */
};

/* NULL on error, with the reason in err (size errsz). */
SSL_CTX *smpp_tls_client_ctx(const struct smpp_tls_client_cfg *cfg, char *err, size_t errsz);
SSL_CTX *smpp_tls_server_ctx(const struct smpp_tls_server_cfg *cfg, char *err, size_t errsz);

/* A client connection on ctx that checks the peer's certificate against
 * host (an IP literal: its IP SANs; a name: its DNS names, and sent as
 * SNI). host NULL or "": no name check. NULL when out of memory. */
SSL *smpp_tls_client_ssl(SSL_CTX *ctx, const char *host);

#endif
