/**
 * Every `SUS_ERR_*` code the platform answers or exits with: its HTTP status and what it means. This is the one
 * catalogue: `docs/errors.md` is generated from it (`npm run docs:build`), problem bodies link to its entries, and
 * tests/services/common/error-codes.test.ts fails when a code used in services/ is missing here or the document
 * is stale. Add a code here before throwing it.
 */
export interface ErrorCodeEntry {
  /** HTTP status of the answer; null where it is no HTTP answer's (start-up, command line). */
  readonly status: number | null;
  /** Where the code appears. */
  readonly surface: 'API' | 'ingest' | 'start-up' | 'CLI';
  /** What went wrong and what to do about it. */
  readonly meaning: string;
}

export const ERROR_CODES = {
  // ---- requests the API cannot take as they are ---------------------------------------------------------------
  SUS_ERR_VALIDATION: {
    status: 400,
    surface: 'API',
    meaning:
      'A path, query or body value is outside its grammar (identifier alphabet, length, control characters, ' +
      'line breaks, range, date). `errors` names every field (`params.id`, `querystring.department`, `body.name`).',
  },
  SUS_ERR_BAD_REQUEST: {
    status: 400,
    surface: 'API',
    meaning: 'The request is malformed at the HTTP level (bad URL encoding, invalid header bytes, broken framing).',
  },
  SUS_ERR_MALFORMED_BODY: {
    status: 400,
    surface: 'API',
    meaning: 'The body cannot be parsed as its Content-Type says (invalid JSON, an empty JSON body).',
  },
  SUS_ERR_INVALID_VALUE: {
    status: 400,
    surface: 'API',
    meaning:
      'The registry refused a value of the request (text encoding, number or time out of range, too large). ' +
      'The grammars should have caught it first: please report it with the request.',
  },
  SUS_ERR_UNKNOWN_QUANTITY: {
    status: 400,
    surface: 'API',
    meaning: 'A quantity is not in the catalogue (names and aliases: GET /v1/quantities).',
  },
  SUS_ERR_UNKNOWN_DEPARTMENT: {
    status: 400,
    surface: 'API',
    meaning: 'A department named in the body does not exist.',
  },
  SUS_ERR_IMPORT_INVALID: {
    status: 400,
    surface: 'API',
    meaning:
      'The device CSV import has errors; `errors` lists every bad row by line number and field. Nothing was imported.',
  },
  SUS_ERR_CLAIM_INVALID: {
    status: 400,
    surface: 'API',
    meaning: 'The claim code is unknown, already used or expired.',
  },
  SUS_ERR_QUERY_BUDGET: {
    status: 400,
    surface: 'API',
    meaning:
      'The query would fetch more points or buckets than SUS_QUERY_MAX_POINTS allows, or make InfluxDB read more stored points than SUS_QUERY_MAX_SCAN; the detail says how to narrow it.',
  },
  SUS_ERR_STA_QUERY: {
    status: 400,
    surface: 'API',
    meaning:
      'A SensorThings request (/sta/v1.1) the service cannot take: a malformed resource path, an unknown or malformed ' +
      'query option ($filter, $expand, $orderby, $select, $top, $skip, $count), or a filter on Observations that ' +
      'InfluxDB cannot evaluate. `context.option` names the option, the detail the position.',
  },
  SUS_ERR_UNAUTHENTICATED: {
    status: 401,
    surface: 'API',
    meaning: 'No API key, or an unknown or revoked one: send `Authorization: Bearer <key>`.',
  },
  SUS_ERR_FORBIDDEN: {
    status: 403,
    surface: 'API',
    meaning: "The key lacks the route's scope, or acts for another department than the one named.",
  },
  SUS_ERR_CSRF: {
    status: 403,
    surface: 'API',
    meaning:
      'A console session changed something without its CSRF token: send the `x-csrf-token` the sign-in answered (or sign in again).',
  },
  SUS_ERR_OIDC_SIGN_IN: {
    status: 403,
    surface: 'API',
    meaning:
      'OpenID Connect sign-in failed: the identity provider refused or could not be reached, the state expired, or the ' +
      "person's claims name no known role (viewer, technician, department-admin, operator) or no department.",
  },
  SUS_ERR_OIDC_DISABLED: {
    status: 404,
    surface: 'API',
    meaning: 'OpenID Connect sign-in is not configured (SUS_OIDC_ISSUER unset): sign in with an API key.',
  },
  SUS_ERR_CONSOLE_NOT_BUILT: {
    status: 503,
    surface: 'API',
    meaning:
      'The web console has not been built (console/dist is missing): run `npm run console:build` or `npm start`.',
  },
  SUS_ERR_NOT_SHARED: {
    status: 403,
    surface: 'API',
    meaning: "Another department's data was asked for and no active grant covers the request.",
  },
  SUS_ERR_AGGREGATION_FLOOR: {
    status: 403,
    surface: 'API',
    meaning: 'The grant shares only aggregates of at least its aggregation floor; ask with a longer `every`.',
  },
  SUS_ERR_ROUTE_NOT_FOUND: {
    status: 404,
    surface: 'API',
    meaning: 'No route for this method and path (see the OpenAPI document at /docs).',
  },
  SUS_ERR_NOT_FOUND: { status: 404, surface: 'API', meaning: 'The named record does not exist.' },
  SUS_ERR_DEVICE_NOT_FOUND: {
    status: 404,
    surface: 'API',
    meaning: 'The device does not exist or belongs to another department (existence is not disclosed).',
  },
  SUS_ERR_DEVICE_TYPE_NOT_FOUND: { status: 404, surface: 'API', meaning: 'The device type does not exist.' },
  SUS_ERR_KEY_NOT_FOUND: {
    status: 404,
    surface: 'API',
    meaning: 'The API key does not exist or belongs to another department.',
  },
  SUS_ERR_GRANT_NOT_FOUND: {
    status: 404,
    surface: 'API',
    meaning: 'The grant does not exist or another department owns it.',
  },
  SUS_ERR_DATASET_NOT_FOUND: {
    status: 404,
    surface: 'API',
    meaning: 'No open dataset (active public grant) has this id.',
  },
  SUS_ERR_STA_NOT_FOUND: {
    status: 404,
    surface: 'API',
    meaning:
      'The SensorThings entity, entity set or property does not exist, or the caller may not see it (another ' +
      "department's device that no grant covers is not disclosed).",
  },
  SUS_ERR_DEAD_LETTER_NOT_FOUND: {
    status: 404,
    surface: 'API',
    meaning: "The dead letter does not exist or is another department's.",
  },
  SUS_ERR_NO_DESIRED_CONFIG: {
    status: 404,
    surface: 'API',
    meaning: 'The device has no desired configuration yet (PUT /v1/devices/{id}/config sets one).',
  },
  SUS_ERR_REQUEST_TIMEOUT: {
    status: 408,
    surface: 'API',
    meaning: 'The client did not send the whole request in time.',
  },
  SUS_ERR_CONFLICT: {
    status: 409,
    surface: 'API',
    meaning: "The request conflicts with the registry's data (a constraint refused it).",
  },
  SUS_ERR_DEPARTMENT_EXISTS: { status: 409, surface: 'API', meaning: 'A department with this id exists already.' },
  SUS_ERR_DEVICE_EXISTS: { status: 409, surface: 'API', meaning: 'A device with this id exists already.' },
  SUS_ERR_DEVICE_TYPE_EXISTS: { status: 409, surface: 'API', meaning: 'A device type with this id exists already.' },
  SUS_ERR_DEVICE_DECOMMISSIONED: {
    status: 409,
    surface: 'API',
    meaning: 'The device is decommissioned: it can be read, not changed or given new credentials.',
  },
  SUS_ERR_DEAD_LETTER_RESOLVED: {
    status: 409,
    surface: 'API',
    meaning: 'The dead letter was replayed or discarded already.',
  },
  SUS_ERR_DEAD_LETTER_TRUNCATED: {
    status: 409,
    surface: 'API',
    meaning: 'Only part of the payload was kept (SUS_DEAD_LETTER_RAW_BYTES): the dead letter cannot be replayed.',
  },
  SUS_ERR_PAYLOAD_TOO_LARGE: {
    status: 413,
    surface: 'API',
    meaning:
      'The request body is larger than the route accepts (1 MiB; 8 MiB for the CSV import; SUS_MAX_PAYLOAD_BYTES for an HTTP push).',
  },
  SUS_ERR_DOCUMENT_TOO_LARGE: {
    status: 413,
    surface: 'API',
    meaning: 'A command or desired configuration is larger than 16 KiB of JSON.',
  },
  SUS_ERR_URI_TOO_LONG: {
    status: 414,
    surface: 'API',
    meaning: 'A path segment is longer than the router accepts (100 characters).',
  },
  SUS_ERR_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    surface: 'API',
    meaning: 'The body has a Content-Type the route does not take (JSON, or text/csv for the import).',
  },
  SUS_ERR_INGEST_REJECTED: {
    status: 422,
    surface: 'API',
    meaning:
      'An HTTP push stored nothing: every part was rejected. `rejected` lists the reasons, `deadLetterId` the ' +
      'dead-letter entry that keeps the payload for a replay.',
  },
  SUS_ERR_RATE_LIMITED: {
    status: 429,
    surface: 'API',
    meaning: 'Too many requests in the window (SUS_API_RATE_LIMIT per minute); retry after the time given.',
  },
  SUS_ERR_HEADERS_TOO_LARGE: {
    status: 431,
    surface: 'API',
    meaning: "The request line and headers exceed Node.js's limit (16 KiB): a very long URL or header.",
  },
  SUS_ERR_RULE_INVALID: {
    status: 400,
    surface: 'API',
    meaning:
      'An alert rule does not hold together (no condition, two conditions, a band with low ≥ high, a threshold on a ' +
      'silent-device rule); `field` names the part.',
  },
  SUS_ERR_RULE_UNIT: {
    status: 400,
    surface: 'API',
    meaning:
      "A rule's threshold unit cannot be converted to the quantity's canonical unit; the message lists the units that can.",
  },
  SUS_ERR_WEBHOOK_ADDRESS: {
    status: 400,
    surface: 'API',
    meaning:
      'A webhook URL names, or its host resolves to, a loopback, private, link-local, metadata or reserved address ' +
      'that SUS_WEBHOOK_ALLOW_NETWORKS does not allow: refused when the rule is made (address literals) and at ' +
      'connect time (names; the delivery log shows it and the delivery ends as a dead letter).',
  },
  SUS_ERR_RULE_NOT_FOUND: {
    status: 404,
    surface: 'API',
    meaning: "The alert rule does not exist (or is another department's).",
  },
  SUS_ERR_ALERT_NOT_FOUND: {
    status: 404,
    surface: 'API',
    meaning: "The alert does not exist (or is another department's).",
  },
  SUS_ERR_DELIVERY_NOT_FOUND: {
    status: 404,
    surface: 'API',
    meaning:
      "The webhook delivery does not exist, is another department's, or is no dead letter (only those are re-sent).",
  },
  SUS_ERR_SILENCE_NOT_FOUND: {
    status: 404,
    surface: 'API',
    meaning: "The silence does not exist (or is another department's).",
  },
  SUS_ERR_RULE_EXISTS: { status: 409, surface: 'API', meaning: 'An alert rule with this id exists already.' },
  SUS_ERR_RULE_LIMIT: {
    status: 409,
    surface: 'API',
    meaning: 'The department keeps SUS_RULES_MAX_PER_DEPARTMENT rules already: delete one first.',
  },
  SUS_ERR_BAD_HOST: {
    status: 400,
    surface: 'API',
    meaning:
      'The Host header that would name the broker in a provisioning bundle (SUS_PUBLIC_MQTT_URL unset) is not a ' +
      'plain host and port. Set SUS_PUBLIC_MQTT_URL, or call the API by its host name. The claim code is not spent.',
  },
  SUS_ERR_DEVICE_ID_UNAVAILABLE: {
    status: 409,
    surface: 'API',
    meaning:
      'The device id is taken (possibly by another department, which is not said): choose another id, or leave it ' +
      'out and the server chooses one.',
  },
  SUS_ERR_CLAIM_LIMIT: {
    status: 409,
    surface: 'API',
    meaning:
      'The department holds SUS_CLAIM_MAX_OPEN unused, unexpired claim codes. Use or let some expire before making more.',
  },
  SUS_ERR_IMPORT_TOO_LARGE: {
    status: 413,
    surface: 'API',
    meaning: 'The device CSV import has more than SUS_IMPORT_MAX_ROWS rows. Split the file; nothing was imported.',
  },
  SUS_ERR_STREAM_LIMIT: {
    status: 429,
    surface: 'API',
    meaning:
      'The key already holds SUS_STREAM_MAX_PER_KEY live streams, or the process SUS_STREAM_MAX_CONNECTIONS. Close ' +
      'a stream (one stream with no filter carries every reading the key may see) or retry later.',
  },
  // ---- the server's side ----------------------------------------------------------------------------------------
  SUS_ERR_INTERNAL: {
    status: 500,
    surface: 'API',
    meaning: 'A defect of the platform: the server log has the details under the request id in `instance`.',
  },
  SUS_ERR_INFLUX_QUERY: {
    status: 502,
    surface: 'API',
    meaning: 'InfluxDB answered a read with an error.',
  },
  SUS_ERR_INFLUX_UNAVAILABLE: {
    status: 503,
    surface: 'API',
    meaning: 'InfluxDB cannot be reached; reads fail, writes wait in the durable spool.',
  },
  SUS_ERR_INGEST_UNAVAILABLE: {
    status: 503,
    surface: 'API',
    meaning: 'This API process hosts no ingest (HTTP push and replay need `sus run`).',
  },
  SUS_ERR_STREAM_UNAVAILABLE: {
    status: 503,
    surface: 'API',
    meaning: 'The live stream needs ingest in the same process (`sus run`).',
  },
  SUS_ERR_DOWNLINK_UNAVAILABLE: {
    status: 503,
    surface: 'API',
    meaning: 'Commands need a broker in the same process (`sus run`).',
  },
  SUS_ERR_SPOOL_FULL: {
    status: 503,
    surface: 'ingest',
    meaning:
      'The durable spool holds SUS_SPOOL_MAX_BYTES: the reading is not acknowledged (no PUBACK, HTTP 503) and the ' +
      'sender retries.',
  },
  SUS_ERR_SPOOL_WRITE: {
    status: 503,
    surface: 'ingest',
    meaning: 'Writing the durable spool failed (disk); the reading is not acknowledged.',
  },
  SUS_ERR_SPOOL_CLOSED: {
    status: 503,
    surface: 'ingest',
    meaning: 'The spool is closed (the process is stopping); the reading is not acknowledged.',
  },
  SUS_ERR_REGISTRY_UNAVAILABLE: {
    status: 503,
    surface: 'API',
    meaning:
      'The registry (PostgreSQL) is down, gave no answer within SUS_REGISTRY_TIMEOUT_MS, or SUS_REGISTRY_MAX_WAITING ' +
      "calls already wait for it: the request is refused, a pushed or published message is not acknowledged (HTTP 503, no PUBACK), an MQTT login is refused with CONNACK 3. Try again; the server's own error is in the log.",
  },
  SUS_ERR_DEAD_LETTER_UNAVAILABLE: {
    status: 503,
    surface: 'ingest',
    meaning: 'The dead-letter store did not take a rejected message: it is not acknowledged; send it again.',
  },
  SUS_ERR_INFLUX_REJECTED: {
    status: 502,
    surface: 'ingest',
    meaning: 'InfluxDB refused lines of a batch for good (400, 413, 422).',
  },
  SUS_ERR_INFLUX_WRITE: {
    status: 502,
    surface: 'ingest',
    meaning: 'An InfluxDB write failed for a reason that may pass; the batch stays in the spool and is retried.',
  },
  // ---- start-up and command line -----------------------------------------------------------------------------
  SUS_ERR_CONFIG: {
    status: null,
    surface: 'start-up',
    meaning: 'The configuration (environment, TLS files, integrations file) is invalid; every problem is listed.',
  },
  SUS_ERR_DATA_DIR_LOCKED: {
    status: null,
    surface: 'start-up',
    meaning:
      'Another process holds SUS_DATA_DIR (its lock file names it); two on one data directory would corrupt the spool ' +
      'and the embedded registry (sus keys and sus migrate on PGlite are refused while the platform runs).',
  },
  SUS_ERR_PROFILE: {
    status: null,
    surface: 'start-up',
    meaning: 'A device profile file cannot be read or is invalid.',
  },
  SUS_ERR_USAGE: {
    status: null,
    surface: 'CLI',
    meaning: 'A command-line argument is missing or invalid; the message says which.',
  },
  SUS_ERR_API: {
    status: null,
    surface: 'CLI',
    meaning: 'The API answered the CLI with an error (its status and problem detail are in the message).',
  },
  SUS_ERR_API_UNREACHABLE: {
    status: null,
    surface: 'CLI',
    meaning: 'The CLI cannot reach the API at SUS_API_URL.',
  },
  SUS_ERR_API_RESPONSE: {
    status: null,
    surface: 'CLI',
    meaning: 'The API answered the CLI with a body of an unexpected shape (version mismatch?).',
  },
} as const satisfies Record<`SUS_ERR_${string}`, ErrorCodeEntry>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Path of the generated document in the repository; the API serves the same text at this path. */
export const ERRORS_DOC_PATH = '/docs/errors.md';

/** The anchor of a code's section in docs/errors.md (GitHub's heading anchors: lower case). */
export const errorAnchor = (code: string): string => code.toLowerCase();

/** RFC 9457 `type` of a problem: the code's entry in the error catalogue, a URI reference the API itself serves. */
export const errorTypeUri = (code: string): string => `${ERRORS_DOC_PATH}#${errorAnchor(code)}`;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/** docs/errors.md: generated from the catalogue (`npm run docs:build`), never edited by hand. */
export function renderErrorsDoc(): string {
  const codes = Object.keys(ERROR_CODES).sort() as ErrorCode[];
  const lines = [
    '# Error codes',
    '',
    '<!-- Generated from services/common/error-codes.ts by `npm run docs:build`; do not edit. -->',
    '',
    'Every error the API answers is `application/problem+json` (RFC 9457) with a stable `code`; its `type` links to',
    "the code's section below (`/docs/errors.md#sus_err_validation`, served by the API itself). Ingest, start-up and",
    'the command line use the same codes in their logs and messages.',
    '',
  ];
  for (const c of codes) {
    const e: ErrorCodeEntry = ERROR_CODES[c];
    lines.push(`## ${c}`, '', `${e.status === null ? 'No HTTP status' : `HTTP ${e.status}`} · ${e.surface}`, '');
    lines.push(e.meaning, '');
  }
  return lines.join('\n');
}
