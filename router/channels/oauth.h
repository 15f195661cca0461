/*
 * OAuth 2.0 access tokens from a Google service-account key, for the RCS
 * connector (RBM takes "Authorization: Bearer ACCESS_TOKEN", and an access
 * token lives an hour: a token pasted into the config stops working after
 * that). The key file is the JSON a Google Cloud console exports
 * (client_email, private_key as PEM, token_uri); tokens come from the JWT
 * bearer grant (RFC 7523): a JWT signed RS256 with the key, POSTed to
 * token_uri.
 *
 * oauth_new() asks for the first token at once and each next one before
 * the current expires (5 min before, or half its life when shorter); a
 * failed request is retried with backoff (1 s doubling to 60 s) while the
 * token in hand stays in use until it expires. Everything runs from the
 * event loop through core/curlev: nothing blocks.
 */
#ifndef ROUTER_CHANNELS_OAUTH_H
#define ROUTER_CHANNELS_OAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>

struct event_base;
struct curlev;

#define OAUTH_RBM_SCOPE "https://www.googleapis.com/auth/rcsbusinessmessaging"

struct oauth_sa_file {
    char *client_email;
    char *token_uri;
    EVP_PKEY *key;              /* RSA private key */
};

/* Read and check a service-account key file. 0, or -1 with the reason in
 * err (what to fix). Free with oauth_sa_file_free() either way. */
int oauth_sa_file_load(const char *path, struct oauth_sa_file *out, char *err, size_t errsz);
void oauth_sa_file_free(struct oauth_sa_file *f);

/* The grant's assertion: header.claims.signature, base64url, RS256 over
 * the first two; iss the client email, aud token_uri, lifetime_s from now.
 * malloc'd; NULL if signing failed. */
char *oauth_sa_jwt(const struct oauth_sa_file *f, const char *scope, time_t now,
                   unsigned lifetime_s);

/*
 * A token endpoint's answer (HTTP code and body, NULL for none): 0 with
 * *token (malloc'd: no spaces or line breaks, at most 4 KiB) and
 * *expires_in (1 s to a day), or -1 with why ("http_400", "bad_answer")
 * and detail (the endpoint's "error: error_description", for the log).
 */
int oauth_parse_answer(long code, const char *body, char **token, long long *expires_in,
                       char *why, size_t whysz, char *detail, size_t detailsz);

struct oauth;

/* name labels the log lines; sa is taken over (its strings and key). ca_file
 * and verify apply to token_uri. Never NULL. */
struct oauth *oauth_new(struct event_base *base, struct curlev *curl, const char *name,
                        struct oauth_sa_file *sa, const char *scope, const char *ca_file,
                        bool verify);
/* "Authorization: Bearer TOKEN" while a token is valid, else NULL. */
const char *oauth_header(struct oauth *o);
/* The provider refused the token (401): drop it and ask for a new one now
 * (at most once every 5 s). */
void oauth_invalidate(struct oauth *o);
/* Tokens obtained so far (tests, metrics). */
unsigned long oauth_tokens(const struct oauth *o);
void oauth_free(struct oauth *o);

#endif
