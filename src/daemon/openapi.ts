/**
 * The OpenAPI 3.1 document of the REST API, generated from the operations table at start (so
 * operations added to the table appear without a change here): one path per web function with
 * GET (query parameters) and POST (JSON or form body), parameter schemas from zod's JSON Schema
 * conversion, plus the health, metrics and document endpoints.
 */
import type { OperationSpec } from '../api/operations.js';
import type { JsonSchema } from '../config/json-schema.js';
import { webSignature } from './web-params.js';

type Doc = Record<string, unknown>;

const ERROR_RD: Doc = {
  type: 'object',
  required: ['result', 'details'],
  properties: {
    result: { const: 'FAIL' },
    details: { type: 'string' },
    parameter: { type: 'string', description: 'The parameter that was missing or wrong; "(body)" for the body as a whole.' },
    function: { type: 'string', description: 'The function that does not exist.' },
    code: { type: 'string', description: 'HandyRep error code (REFUSED, LOCKED).' },
  },
};

const errorResponse = (description: string): Doc => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorRd' } } },
});

const OPERATION_RESPONSES: Doc = {
  '200': {
    description: 'An RD (`result` SUCCESS or FAIL: an action that ran and failed is still 200) or a data dictionary.',
    content: { 'application/json': { schema: {} } },
  },
  '400': errorResponse('A parameter is missing, repeated or invalid (`parameter` names it).'),
  '401': errorResponse('No or wrong credentials (`WWW-Authenticate: Basic realm="handyrep"`).'),
  '403': errorResponse('The read password cannot call this function.'),
  '404': errorResponse('No such function (or not on the web API), or no such server.'),
  '409': errorResponse('Refused in the current cluster state (REFUSED) or state file owned by another process (LOCKED).'),
  '500': errorResponse('Internal error; the cause is in the controller\'s log.'),
};

function operationPaths(spec: OperationSpec): Doc {
  const sig = webSignature(spec);
  const parameters = Object.entries(sig.params).map(([name, schema]) => {
    const isRecord = name === sig.recordParam;
    return {
      name,
      in: 'query',
      required: sig.required.includes(name),
      description: schema.description,
      schema: withoutDescription(schema),
      // A record's keys may also come as query parameters of their own, as in the original.
      ...(isRecord ? { style: 'form', explode: true } : {}),
    };
  });
  const bodySchema: Doc = {
    type: 'object',
    properties: Object.fromEntries(Object.entries(sig.params).map(([name, schema]) => [name, schema])),
    required: [...sig.required],
    additionalProperties: sig.recordParam !== null,
  };
  const common = {
    summary: spec.summary,
    tags: [spec.access],
    security: [{ basicAuth: [] }],
    'x-handyrep-access': spec.access,
    responses: OPERATION_RESPONSES,
  };
  return {
    get: { operationId: spec.name, parameters, ...common },
    post: {
      operationId: `${spec.name}_post`,
      requestBody: {
        required: false,
        content: { 'application/json': { schema: bodySchema }, 'application/x-www-form-urlencoded': { schema: bodySchema } },
      },
      ...common,
    },
  };
}

function withoutDescription(schema: JsonSchema): JsonSchema {
  const { description: _description, ...rest } = schema;
  return rest;
}

const serverParam = { name: 'server', in: 'path', required: true, schema: { type: 'string' } };
const health = (summary: string, extra: Doc[] = []): Doc => ({
  get: {
    summary,
    tags: ['health'],
    parameters: [serverParam, ...extra],
    responses: {
      '200': { description: 'Yes.', content: { 'application/json': { schema: { type: 'object' } } } },
      '404': { description: 'No server of that name.' },
      '503': { description: 'No.', content: { 'application/json': { schema: { type: 'object' } } } },
    },
  },
});

/** The whole document. */
export function buildOpenApi(operations: readonly OperationSpec[], version: string): Doc {
  const paths: Doc = {};
  for (const spec of operations) if (spec.web) paths[`/${spec.name}`] = operationPaths(spec);
  paths['/primary/{server}'] = health('Is this server the master to write to? (healthy or warning enabled master)');
  paths['/read-write/{server}'] = health('Same as /primary/{server}.');
  paths['/replica/{server}'] = health('Is this server a healthy, streaming replica (within `lag`, when given)?', [
    { name: 'lag', in: 'query', required: false, description: 'Largest acceptable lag: bytes, or with a unit (512kB, 16MB, 1GB).', schema: { type: 'string' } },
  ]);
  paths['/health'] = { get: { summary: 'The daemon runs; monitor counts and cluster status (error texts and messages only with the read password).', tags: ['health'], responses: { '200': { description: 'Running.' } } } };
  paths['/metrics'] = { get: { summary: 'Prometheus metrics.', tags: ['health'], responses: { '200': { description: 'Exposition text.', content: { 'text/plain': {} } } } } };
  paths['/openapi.json'] = { get: { summary: 'This document.', tags: ['health'], responses: { '200': { description: 'OpenAPI 3.1.' } } } };
  return {
    openapi: '3.1.0',
    info: {
      title: 'HandyRep REST API',
      version,
      description: 'Every function of the HandyRep library marked web in the operations table, as GET or POST /<function>. Parameters come from the query string, a urlencoded form or a JSON object body; booleans accept true/false/t/f/yes/no/on/off/1/0.',
    },
    paths,
    components: {
      securitySchemes: { basicAuth: { type: 'http', scheme: 'basic' } },
      schemas: { ErrorRd: ERROR_RD },
    },
  };
}
