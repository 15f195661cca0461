#include "smpp/smpp_tls.h"

#include <stdio.h>

#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

static void
ssl_err(char *err, size_t errsz, const char *what, const char *arg)
{
    char ossl[256] = "";
    unsigned long e = ERR_peek_last_error();

    if (e)
        ERR_error_string_n(e, ossl, sizeof(ossl));
    ERR_clear_error();
    snprintf(err, errsz, "%s%s%s%s%s", what, arg ? " " : "", arg ? arg : "", ossl[0] ? ": " : "",
             ossl);
}

static SSL_CTX *
base_ctx(const SSL_METHOD *m)
{
    SSL_CTX *ctx = SSL_CTX_new(m);

    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* libevent 2.1 cannot tell a peer that closes without close_notify from
     * an error under OpenSSL 3; SMPP's command_length detects truncation,
     * so treat it as EOF. */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return ctx;
}

SSL_CTX *
smpp_tls_client_ctx(const struct smpp_tls_client_cfg *cfg, char *err, size_t errsz)
{
    SSL_CTX *ctx = base_ctx(TLS_client_method());

    if (!ctx) {
        ssl_err(err, errsz, "cannot create TLS context", NULL);
        return NULL;
    }
    if (cfg->verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if (cfg->ca_file) {
            if (SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1) {
                ssl_err(err, errsz, "cannot load CA file", cfg->ca_file);
                SSL_CTX_free(ctx);
                return NULL;
            }
        } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            ssl_err(err, errsz, "cannot load the system trust store", NULL);
            SSL_CTX_free(ctx);
            return NULL;
        }
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    if (cfg->cert_file) {
        if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1) {
            ssl_err(err, errsz, "cannot load client certificate", cfg->cert_file);
            SSL_CTX_free(ctx);
            return NULL;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file ? cfg->key_file : cfg->cert_file,
                                        SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
            ssl_err(err, errsz, "cannot load client key", cfg->key_file);
            SSL_CTX_free(ctx);
            return NULL;
        }
    }
    return ctx;
}

SSL_CTX *
smpp_tls_server_ctx(const struct smpp_tls_server_cfg *cfg, char *err, size_t errsz)
{
    SSL_CTX *ctx;

    if (!cfg->cert_file || !cfg->key_file) {
        snprintf(err, errsz, "a TLS listener needs a certificate and a key");
        return NULL;
    }
    ctx = base_ctx(TLS_server_method());
    if (!ctx) {
        ssl_err(err, errsz, "cannot create TLS context", NULL);
        return NULL;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1) {
        ssl_err(err, errsz, "cannot load certificate", cfg->cert_file);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        ssl_err(err, errsz, "cannot load key", cfg->key_file);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (cfg->verify_client) {
        if (!cfg->ca_file || SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1) {
            ssl_err(err, errsz, "client verification needs a CA file", cfg->ca_file);
            SSL_CTX_free(ctx);
            return NULL;
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    return ctx;
}

SSL *
smpp_tls_client_ssl(SSL_CTX *ctx, const char *host)
{
    SSL *ssl = SSL_new(ctx);
    unsigned char b[16];

    if (!ssl || !host || !*host)
        return ssl;
    if (inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1) {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
    } else {
        SSL_set_tlsext_host_name(ssl, host);
        SSL_set1_host(ssl, host);
    }
    return ssl;
}
