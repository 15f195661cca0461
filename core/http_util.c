#include "core/http_util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>

long
http_elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (long)(t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

void
http_send_json(struct evhttp_request *req, int status, const char *json)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    struct evbuffer *b = evbuffer_new();

    if (!b)
        abort();
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evbuffer_add(b, json, strlen(json));
    evbuffer_add(b, "\n", 1);
    evhttp_send_reply(req, status, NULL, b);
    evbuffer_free(b);
}

void
http_send_error(struct evhttp_request *req, int status, const char *code, const char *message)
{
    struct json_object *root = json_object_new_object(), *err = json_object_new_object();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);

    json_object_object_add(err, "code", json_object_new_string(code));
    json_object_object_add(err, "message", json_object_new_string(message));
    json_object_object_add(root, "error", err);
    if (status == 503)
        evhttp_add_header(h, "Retry-After", "1");
    if (status == 401)
        evhttp_add_header(h, "WWW-Authenticate", "Bearer");
    http_send_json(req, status, json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(root);
}

const char *
http_bearer(struct evhttp_request *req, char *buf, size_t bufsz)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    size_t n;

    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    n = strlen(h);
    while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= bufsz)
        return NULL;
    memcpy(buf, h, n);
    buf[n] = '\0';
    return buf;
}

void
http_conn_closed(struct evhttp_request **req, bool *detached)
{
    if (!*req)
        return;
    if (evhttp_request_get_connection(*req) == NULL)
        *detached = true;
    else
        *req = NULL;
}
