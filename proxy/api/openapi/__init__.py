"""GET /openapi.json: the gateway's OpenAPI 3.1 document, built once from the tables of this package; no auth.

The document describes what the gateway really accepts and answers (request rules from
translators/openai_bedrock/params.py and proxy/auth/parse.py, response shapes from proxy/api/, proxy/admin/,
proxy/auth/ops.py and proxy/usage/reports.py). tests/unit/api/test_openapi.py keeps its paths and methods equal
to the app's routes; tests/e2e/test_openapi_fuzz.py fuzzes a running gateway against it with schemathesis.

One module per route family (chat, catalog, anthropic, bedrock, admin) holds its component schemas;
common.py the building blocks, paths.py the operations, document.py the assembled document.
"""

from proxy.api.openapi.common import CACHE_CONTROL
from proxy.api.openapi.document import DOCUMENT, openapi_endpoint

__all__ = ["CACHE_CONTROL", "DOCUMENT", "openapi_endpoint"]
