#!/usr/bin/env python3
"""Write the Lambda event payloads in events/ (and events/manifest.json) for
GET /v1/organizations/{organizationId}/mdm/windows/enterprise/enrollment-tokens/.

Standard library only; output is deterministic (ids, times and tokens are fixed here).
Each event copies the shape of a real source (API Gateway REST v1, HTTP API v2, ALB,
Lambda Function URL) as found in shared/reference-events/; when that folder is beside
the repository, the script compares every event's field names with its reference and
fails on any difference not listed in ALLOWED_DIFFERENCES.

Usage: python3 scripts/make_events.py
"""

import base64
import datetime
import json
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "events"
REFERENCES = ROOT.parent / "shared" / "reference-events"

# Local-development HS256 tokens (not secrets).
LIST_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJodHRwczovL2F1dGgubG9jYWwudGVzdC8iLCJhdWQiOiJtZG0tYXBpIiwic3ViIjoiZGV2LWFkbWluQGxvY2FsLnRlc3QiLCJpYXQiOjE3OTYzMTEwNzQsImV4cCI6NDA4NjMxMTA3NCwicGVybWlzc2lvbnMiOnsiNjVmMWEwYzBmZmVlMDAwMDAwMDAwMDAxIjpbIm1kbS53aW5kb3dzLmVucm9sbG1lbnRUb2tlbi5saXN0Il19fQ.6_RjuRrrwA_7-5Mi9YQHnSgchR-mrYsXkWFTCxfJbB8"  # grants mdm.windows.enrollmentToken.list in 65f1a0c0ffee000000000001, valid until 2099
FORBIDDEN_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJodHRwczovL2F1dGgubG9jYWwudGVzdC8iLCJhdWQiOiJtZG0tYXBpIiwic3ViIjoiZGV2LWFkbWluQGxvY2FsLnRlc3QiLCJpYXQiOjE3OTYzMTEwNzQsImV4cCI6NDA4NjMxMTA3NCwicGVybWlzc2lvbnMiOnsiNjVmMWEwYzBmZmVlMDAwMDAwMDAwMDAxIjpbIm1kbS53aW5kb3dzLmVucm9sbG1lbnRUb2tlbi5nZXQiXX19.nkBf0N-uN5GfXeN2D6J_MRTKty49JWnkkLoCoYHUK7c"  # valid, grants only mdm.windows.enrollmentToken.get
EXPIRED_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJodHRwczovL2F1dGgubG9jYWwudGVzdC8iLCJhdWQiOiJtZG0tYXBpIiwic3ViIjoiZGV2LWFkbWluQGxvY2FsLnRlc3QiLCJpYXQiOjE3OTYzMTEwNzYsImV4cCI6MTc5NjMwMzg3NiwicGVybWlzc2lvbnMiOnsiNjVmMWEwYzBmZmVlMDAwMDAwMDAwMDAxIjpbIm1kbS53aW5kb3dzLmVucm9sbG1lbnRUb2tlbi5saXN0Il19fQ.USPM2Zr6zbDofYyZzBVccxEMwrrDaE6H66Pf1p3WVIY"
INVALID_TOKEN = LIST_TOKEN[:-4] + "AAAA"  # signature tampered

DEMO_SLUG = "demo"
DEMO_ID = "65f1a0c0ffee000000000001"
ROUTE = "/v1/organizations/{organizationId}/mdm/windows/enterprise/enrollment-tokens"

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
REST_API_ID = "k3x9q2w7tb"
REST_RESOURCE_ID = "p4m8zq"
HTTP_API_ID = "r7d2hz5c1n"
FUNCTION_URL_ID = "abcdefg"
TARGET_GROUP_ARN = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
    "targetgroup/enrollment-tokens/6d0ecf831eec9f09"
)
SOURCE_IP = "203.0.113.10"
USER_AGENT = "curl/8.5.0"
BASE_EPOCH_MS = 1717243200000  # 2024-06-01T12:00:00Z; event n is n seconds later

# Fixed request ids, one per event file.
REQUEST_IDS = {
    "apigw-rest-list.json": "d238e3b6-0793-45c5-b396-f84958ea1dcf",
    "apigw-rest-lowercase-auth.json": "b86b7826-4494-4145-b07f-bba10237e350",
    "apigw-rest-base-path.json": "d0899923-e2e7-4ae6-b3f3-97e2f742b924",
    "apigw-rest-console-test.json": "4d534a87-09ea-4161-9259-27487b9faed3",
    "apigw-rest-duplicate-query.json": "8772308b-12a7-4425-9e0b-2e0e20c5f07a",
    "apigw-http-list.json": "63cea5c6-1a51-4c4f-bb0e-2f37a77a9c4f",
    "apigw-http-stage-in-path.json": "9ca0b2fa-f414-444d-9cec-c786e35edc44",
    "apigw-http-duplicate-query.json": "0019b3de-9715-4d9f-b683-0251b3c1327b",
    "apigw-http-encoded-query.json": "15f63b1e-6157-4d13-8c49-f4f7a6a13e9f",
    "alb-list.json": "bbd3b98e-ddb9-4cdf-bda9-1bd5b12665ae",
    "alb-multi-value.json": "9acd7639-310e-4995-8d29-9fdc32ce0ef7",
    "function-url-list.json": "b8138e9b-937b-426b-bf5d-38aa9dfb4993",
    "error-no-auth.json": "16b9c2ac-317e-4c30-a444-a62b42e6e11d",
    "error-invalid-token.json": "1f8fe5dd-1cd8-47bb-9cfb-28b8790e5238",
    "error-expired-token.json": "3c9b2ea3-b805-4604-b0a7-a2039cf50d95",
    "error-forbidden.json": "85879634-ad4e-48ab-b9e6-b168d49fecb5",
    "error-unknown-organization.json": "e885b868-ede9-49ed-b17d-98b05b532455",
    "error-bad-parameter.json": "be20bf9c-2cb0-43ac-b589-96771c27b3f1",
    "error-bad-organization.json": "e7eb0728-423b-463d-b337-313e5cfe9746",
    "error-method-not-allowed.json": "abb74255-dba2-4a80-bd89-0932329a2dc0",
}
ORDER = list(REQUEST_IDS)


def route_path(organization, trailing_slash=False):
    path = ROUTE.replace("{organizationId}", organization)
    return path + "/" if trailing_slash else path


def epoch_ms(name):
    return BASE_EPOCH_MS + 1000 * ORDER.index(name)


def clf_time(name):
    """API Gateway's request time format: 01/Jun/2024:12:00:00 +0000."""
    moment = datetime.datetime.fromtimestamp(epoch_ms(name) / 1000, tz=datetime.timezone.utc)
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    return "%02d/%s/%04d:%02d:%02d:%02d +0000" % (
        moment.day, months[moment.month - 1], moment.year, moment.hour, moment.minute, moment.second)


def trace_id(name):
    return "Root=1-%08x-%s" % (epoch_ms(name) // 1000, uuid.UUID(REQUEST_IDS[name]).hex[:24])


def extended_request_id(name):
    return base64.b64encode(uuid.UUID(REQUEST_IDS[name]).bytes[:10]).decode()


def query_pairs(query):
    return [tuple(item.split("=", 1)) for item in query.split("&")] if query else []


def single_map(pairs):
    """Last value wins, as API Gateway REST and ALB fill queryStringParameters/headers."""
    result = {}
    for key, value in pairs:
        result[key] = value
    return result or None


def multi_map(pairs):
    result = {}
    for key, value in pairs:
        result.setdefault(key, []).append(value)
    return result or None


def v2_query_map(pairs, decode=True):
    """HTTP API v2: decoded values, duplicates joined with commas."""
    from urllib.parse import unquote_plus
    result = {}
    for key, value in pairs:
        key, value = (unquote_plus(key), unquote_plus(value)) if decode else (key, value)
        result[key] = result[key] + "," + value if key in result else value
    return result


# --- API Gateway REST API (payload 1.0) ---------------------------------------------------

def rest_event(name, *, organization=DEMO_SLUG, query="", auth=("Authorization", "Bearer " + LIST_TOKEN),
               trailing_slash=True, stage="prod", method="GET", path=None, path_parameters="default",
               domain_name=None, request_context_path=None, query_maps=None):
    request_id = REQUEST_IDS[name]
    domain_name = domain_name or "%s.execute-api.%s.amazonaws.com" % (REST_API_ID, REGION)
    path = path or route_path(organization, trailing_slash)
    headers = [("Accept", "application/json")]
    if auth:
        headers.append(auth)
    headers += [
        ("Host", domain_name),
        ("User-Agent", USER_AGENT),
        ("X-Amzn-Trace-Id", trace_id(name)),
        ("X-Forwarded-For", SOURCE_IP),
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Proto", "https"),
    ]
    pairs = query_pairs(query)
    single_query, multi_query = query_maps if query_maps else (single_map(pairs), multi_map(pairs))
    if path_parameters == "default":
        path_parameters = {"organizationId": organization}
    return {
        "body": None,
        "headers": dict(headers),
        "httpMethod": method,
        "isBase64Encoded": False,
        "multiValueHeaders": {key: [value] for key, value in headers},
        "multiValueQueryStringParameters": multi_query,
        "path": path,
        "pathParameters": path_parameters,
        "queryStringParameters": single_query,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": REST_API_ID,
            "domainName": domain_name,
            "domainPrefix": domain_name.split(".")[0],
            "extendedRequestId": extended_request_id(name),
            "httpMethod": method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "apiKey": None,
                "apiKeyId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": SOURCE_IP,
                "user": None,
                "userAgent": USER_AGENT,
                "userArn": None,
            },
            "path": request_context_path or "/%s%s" % (stage, path),
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": clf_time(name),
            "requestTimeEpoch": epoch_ms(name),
            "resourceId": REST_RESOURCE_ID,
            "resourcePath": ROUTE,
            "stage": stage,
        },
        "resource": ROUTE,
        "stageVariables": None,
        "version": "1.0",
    }


def rest_console_event(name, *, query):
    """The console's "Test" button: stage test-invoke-stage, test-invoke identity, no version."""
    event = rest_event(name, query=query, stage="test-invoke-stage", trailing_slash=False)
    del event["version"]
    path = route_path(DEMO_SLUG)
    # The console sends only the headers typed into the test form.
    auth = {"Authorization": "Bearer " + LIST_TOKEN}
    event["headers"] = dict(auth)
    event["multiValueHeaders"] = {key: [value] for key, value in auth.items()}
    context = event["requestContext"]
    context.update({
        "domainName": "testPrefix.testDomainName",
        "domainPrefix": "testPrefix",
        "path": path,
    })
    context["identity"].update({
        "accessKey": "ASIAEXAMPLEKEY000000",
        "accountId": ACCOUNT_ID,
        "apiKey": "test-invoke-api-key",
        "apiKeyId": "test-invoke-api-key-id",
        "caller": "AROAEXAMPLEROLE00000:console-user",
        "sourceIp": "test-invoke-source-ip",
        "user": "AROAEXAMPLEROLE00000:console-user",
        "userAgent": "aws-internal/3 aws-sdk-java/1.12.154 Linux/5.4.156-94.273.amzn2int.x86_64 "
                     "OpenJDK_64-Bit_Server_VM/25.322-b06 java/1.8.0_322 vendor/Oracle_Corporation "
                     "cfg/retry-mode/standard",
        "userArn": "arn:aws:sts::123456789012:assumed-role/Admin/console-user",
    })
    return event


# --- API Gateway HTTP API (payload 2.0) and Lambda Function URLs --------------------------

def v2_headers(name, host, auth, extra=()):
    headers = [("accept", "application/json")]
    if auth:
        headers.append(auth)
    headers += [
        ("content-length", "0"),
        ("host", host),
        ("user-agent", USER_AGENT),
        ("x-amzn-trace-id", trace_id(name)),
        ("x-forwarded-for", SOURCE_IP),
        ("x-forwarded-port", "443"),
        ("x-forwarded-proto", "https"),
    ]
    headers += list(extra)
    return dict(headers)


def http_event(name, *, organization=DEMO_SLUG, raw_query="", auth=("authorization", "Bearer " + LIST_TOKEN),
               stage="$default", route_key="GET " + ROUTE, method="GET", trailing_slash=False,
               path_parameters="default", query_parameters=None):
    host = "%s.execute-api.%s.amazonaws.com" % (HTTP_API_ID, REGION)
    raw_path = route_path(organization, trailing_slash)
    if stage != "$default":
        raw_path = "/%s%s" % (stage, raw_path)  # a named stage stays in rawPath
    if path_parameters == "default":
        path_parameters = {"organizationId": organization}
    if query_parameters is None:
        query_parameters = v2_query_map(query_pairs(raw_query))
    event = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": v2_headers(name, host, auth),
        "queryStringParameters": query_parameters or None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": HTTP_API_ID,
            "domainName": host,
            "domainPrefix": HTTP_API_ID,
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": SOURCE_IP,
                "userAgent": USER_AGENT,
            },
            "requestId": REQUEST_IDS[name],
            "routeKey": route_key,
            "stage": stage,
            "time": clf_time(name),
            "timeEpoch": epoch_ms(name),
        },
        "body": None,
        "pathParameters": path_parameters,
        "isBase64Encoded": False,
        "stageVariables": None,
    }
    if path_parameters is None:
        del event["pathParameters"]
    return event


def function_url_event(name, *, raw_path, raw_query):
    host = "%s.lambda-url.%s.on.aws" % (FUNCTION_URL_ID, REGION)
    headers = v2_headers(name, host, ("authorization", "Bearer " + LIST_TOKEN), extra=[
        ("x-amzn-tls-cipher-suite", "ECDHE-RSA-AES128-GCM-SHA256"),
        ("x-amzn-tls-version", "TLSv1.2"),
    ])
    del headers["content-length"]
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "queryStringParameters": v2_query_map(query_pairs(raw_query)),
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": FUNCTION_URL_ID,
            "domainName": host,
            "domainPrefix": FUNCTION_URL_ID,
            "http": {
                "method": "GET",
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": SOURCE_IP,
                "userAgent": USER_AGENT,
            },
            "requestId": REQUEST_IDS[name],
            "routeKey": "$default",
            "stage": "$default",
            "time": clf_time(name),
            "timeEpoch": epoch_ms(name),
        },
        "isBase64Encoded": False,
    }


# --- Application Load Balancer ------------------------------------------------------------

def alb_headers(name, auth):
    return [
        ("accept", "application/json"),
        auth,
        ("host", "enrollment-tokens-846800462.us-east-1.elb.amazonaws.com"),
        ("user-agent", USER_AGENT),
        ("x-amzn-trace-id", trace_id(name)),
        ("x-forwarded-for", SOURCE_IP),
        ("x-forwarded-port", "443"),
        ("x-forwarded-proto", "https"),
    ]


def alb_event(name, *, query, multi_value=False, trailing_slash=True):
    """ALB passes query keys and values as sent (still percent-encoded)."""
    headers = alb_headers(name, ("authorization", "Bearer " + LIST_TOKEN))
    pairs = query_pairs(query)
    event = {
        "requestContext": {"elb": {"targetGroupArn": TARGET_GROUP_ARN}},
        "httpMethod": "GET",
        "path": route_path(DEMO_SLUG, trailing_slash),
    }
    if multi_value:
        event["multiValueQueryStringParameters"] = multi_map(pairs) or {}
        event["multiValueHeaders"] = {key: [value] for key, value in headers}
    else:
        event["queryStringParameters"] = single_map(pairs) or {}
        event["headers"] = dict(headers)
    event["isBase64Encoded"] = False
    event["body"] = ""
    return event


# --- The events ---------------------------------------------------------------------------

def ok(name, source, description, same_as, event):
    return event, {"file": name, "source": source, "description": description,
                   "status": 200, "sameAs": same_as}


def err(name, source, description, status, code, event, parameter=None):
    entry = {"file": name, "source": source, "description": description,
             "status": status, "code": code}
    if parameter is not None:
        entry["parameter"] = parameter
    return event, entry


def build():
    n = lambda i: ORDER[i]  # noqa: E731
    return [
        ok(n(0), "apigw-rest", "REST API v1 proxy event, stage prod, path parameter, trailing slash, sort and limit",
           "limit=2&sort=displayName:asc",
           rest_event(n(0), query="limit=2&sort=displayName:asc")),
        ok(n(1), "apigw-rest", "REST API v1 with lowercase 'authorization' header and 'bearer' scheme, page 2",
           "page=2&limit=3",
           rest_event(n(1), query="page=2&limit=3", auth=("authorization", "bearer " + LIST_TOKEN))),
        ok(n(2), "apigw-rest", "REST API v1 behind custom domain api.example.com with base path tokens-api, "
           "no path parameters (organization parsed from the path)", "limit=1",
           rest_event(n(2), query="limit=1", trailing_slash=False,
                      path="/tokens-api" + route_path(DEMO_SLUG), path_parameters=None,
                      domain_name="api.example.com",
                      request_context_path="/tokens-api" + route_path(DEMO_SLUG))),
        ok(n(3), "apigw-rest", "REST API console 'Test' invocation (stage test-invoke-stage) with show-deleted",
           "show-deleted=true&limit=2&sort=state:desc",
           rest_console_event(n(3), query="show-deleted=true&limit=2&sort=state:desc")),
        err(n(4), "apigw-rest", "REST API v1 with page given twice (multiValueQueryStringParameters page: 1, 2)",
            400, 2001,
            rest_event(n(4), query="page=1&page=2"), parameter="page"),
        ok(n(5), "apigw-http", "HTTP API v2, $default stage, GET route with path parameter, sort by createdAt",
           "limit=2&sort=createdAt:asc",
           http_event(n(5), raw_query="limit=2&sort=createdAt:asc")),
        ok(n(6), "apigw-http", "HTTP API v2 on named stage prod: stage kept in rawPath, $default route, "
           "no path parameters", "limit=2",
           http_event(n(6), raw_query="limit=2", stage="prod", route_key="$default", path_parameters=None)),
        err(n(7), "apigw-http", "HTTP API v2 with limit given twice (queryStringParameters joins them: '2,3')",
            400, 2001,
            http_event(n(7), raw_query="limit=2&limit=3"), parameter="limit"),
        ok(n(8), "apigw-http", "HTTP API v2 with percent-encoded colon in rawQueryString (decoded in the map)",
           "sort=displayName:desc&limit=2",
           http_event(n(8), raw_query="sort=displayName%3Adesc&limit=2")),
        ok(n(9), "alb", "ALB target group event, single-value maps, trailing slash, query values left encoded",
           "sort=displayName:desc&limit=2",
           alb_event(n(9), query="sort=displayName%3Adesc&limit=2")),
        ok(n(10), "alb", "ALB with multi-value headers enabled (multi-value maps only), show-deleted=1",
           "page=1&limit=2&show-deleted=1",
           alb_event(n(10), query="page=1&limit=2&show-deleted=1", multi_value=True, trailing_slash=False)),
        ok(n(11), "function-url", "Lambda Function URL event, organization given by id, trailing slash, "
           "no path parameters", "limit=2",
           function_url_event(n(11), raw_path=route_path(DEMO_ID, True), raw_query="limit=2")),
        err(n(12), "apigw-http", "HTTP API v2 without an Authorization header", 401, 4002,
            http_event(n(12), raw_query="limit=2", auth=None)),
        err(n(13), "apigw-http", "HTTP API v2 with a list token whose signature was tampered with", 401, 4004,
            http_event(n(13), raw_query="limit=2", auth=("authorization", "Bearer " + INVALID_TOKEN))),
        err(n(14), "apigw-rest", "REST API v1 with an expired token", 401, 4004,
            rest_event(n(14), auth=("Authorization", "Bearer " + EXPIRED_TOKEN))),
        err(n(15), "apigw-http", "HTTP API v2 with a token lacking mdm.windows.enrollmentToken.list", 403, 4003,
            http_event(n(15), raw_query="limit=2", auth=("authorization", "Bearer " + FORBIDDEN_TOKEN))),
        err(n(16), "apigw-http", "HTTP API v2 for unknown organization slug no-such-org", 404, 3001,
            http_event(n(16), organization="no-such-org", raw_query="limit=2")),
        err(n(17), "apigw-rest", "REST API v1 with mdm-user that is not a 24-character hex id", 400, 2001,
            rest_event(n(17), query="mdm-user=not-an-id"), parameter="mdm-user"),
        err(n(18), "apigw-http", "HTTP API v2 with invalid organization reference a_b", 400, 2001,
            http_event(n(18), organization="a_b"), parameter="organizationId"),
        err(n(19), "apigw-http", "HTTP API v2 POST on an ANY route (method not allowed)", 405, 2002,
            http_event(n(19), method="POST", route_key="ANY " + ROUTE)),
    ]


# --- Shape check against the reference payloads ------------------------------------------

# Maps whose keys are data (header names, parameters), not shape.
DATA_MAPS = {"headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters",
             "pathParameters", "stageVariables", "claims", "scopes"}

REFERENCE_FILES = {
    "apigw-rest": ["apigw_proxy_request.json", "example-apigw-sam-rest-request.json",
                   "example-apigw-console-test-request.json"],
    "apigw-rest-console": ["example-apigw-console-test-request.json"],
    "apigw-http": ["apigw_v2_proxy_request.json", "apigw_v2_proxy_request_with_stage_in_path.json"],
    "alb": ["alb_request.json"],
    "alb-multi": ["alb_multi_value_request_encoded_query_parameters.json"],
    "function-url": ["lambda_function_url_request.json"],
}

# Differences chosen on purpose: (shape, "+"/"-", field path) or (file, "+"/"-", field path).
ALLOWED_DIFFERENCES = {
    # No cookies are sent by API clients; no API Gateway authorizer is configured (the service
    # checks the bearer token itself), so HTTP API sends no requestContext.authorizer.
    ("apigw-http", "-", "cookies"),
    ("apigw-http", "-", "requestContext.authorizer"),
    ("apigw-http", "-", "requestContext.authorizer.jwt"),
    ("apigw-http", "-", "requestContext.authorizer.jwt.claims"),
    ("apigw-http", "-", "requestContext.authorizer.jwt.scopes"),
    # $default route on a named stage: no path parameters.
    ("apigw-http-stage-in-path.json", "-", "pathParameters"),
    # Multi-value mode: ALB sends only the multi-value maps.
    ("alb-multi", "-", "headers"),
    ("alb-multi", "-", "queryStringParameters"),
    # Function URLs send queryStringParameters whenever there is a query string.
    ("function-url", "+", "queryStringParameters"),
    ("function-url", "-", "cookies"),
}


def shape(value, prefix=""):
    fields = set()
    if isinstance(value, dict):
        for key, child in value.items():
            path = prefix + key
            fields.add(path)
            if key not in DATA_MAPS:
                fields |= shape(child, path + ".")
    return fields


def shape_kind(name, entry):
    if name == "apigw-rest-console-test.json":
        return "apigw-rest-console"
    if name == "alb-multi-value.json":
        return "alb-multi"
    return entry["source"]


def check_shapes(events):
    if not REFERENCES.is_dir():
        print("note: %s not found, shape check skipped" % REFERENCES)
        return True
    reference_shapes = {}
    for kind, files in REFERENCE_FILES.items():
        fields = set()
        for file in files:
            fields |= shape(json.loads((REFERENCES / file).read_text()))
        reference_shapes[kind] = fields
    good = True
    for event, entry in events:
        name = entry["file"]
        kind = shape_kind(name, entry)
        expected, actual = reference_shapes[kind], shape(event)
        for sign, fields in (("+", actual - expected), ("-", expected - actual)):
            for field in sorted(fields):
                if (kind, sign, field) in ALLOWED_DIFFERENCES or (name, sign, field) in ALLOWED_DIFFERENCES:
                    continue
                print("shape: %s (%s) %s%s" % (name, kind, sign, field))
                good = False
    return good


def main():
    events = build()
    assert [entry["file"] for _, entry in events] == ORDER
    EVENTS.mkdir(exist_ok=True)
    for event, entry in events:
        (EVENTS / entry["file"]).write_text(json.dumps(event, indent=2) + "\n")
    manifest = [entry for _, entry in events]
    (EVENTS / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for path in sorted(EVENTS.glob("*.json")):
        json.loads(path.read_text())
    if not check_shapes(events):
        print("shape check failed", file=sys.stderr)
        return 1
    print("wrote %d events and manifest.json to %s" % (len(events), EVENTS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
