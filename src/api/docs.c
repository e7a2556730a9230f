/* The published contracts: GET /api/openapi.json (the REST API, OpenAPI 3.1)
 * and GET /api/ws.schema.json (every /ws frame, JSON Schema 2020-12).
 *
 * They are the JSON files of schemas/api/, embedded at build time (cmake/
 * embed_api_docs.cmake), so the binary serves exactly the documents it was
 * built with and needs no file where it is installed. No token is needed:
 * they describe the interface, and hold nothing about chargers or users. */
#include "api/api_int.h"

#include <string.h>

bool fc_api__docs(fc_req_t *r, const char *path)
{
  if (strncmp(path, "/api/", 5) != 0) return false;
  for (const fc_api_doc_t *d = fc_api__doc_table; d->name; d++) {
    if (strcmp(path + 5, d->name) != 0) continue;
    if (r->method != FC_HTTP_GET)
      fc_api__error(r, 405, "method_not_allowed", "the documents are read with GET");
    else
      fc_api__respond(r, 200, "application/json", d->json, d->len);
    return true;
  }
  return false;
}
