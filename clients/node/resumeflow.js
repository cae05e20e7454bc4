'use strict';
// Node.js client of the Resumeflow services (SPEC §7, §9), over the project's own proto/.
//
//   const rf = require('./resumeflow');
//   const clients = rf.connect({ runner: '127.0.0.1:50051', history: '127.0.0.1:50052' });
//   await rf.applyWorkflow(clients, definition);            // PutWorkflow
//   const { finished } = await rf.run(clients, { workflow_id: 'shop' }, { onEvent });
//   const latest = await rf.latestFailed(clients, 'shop');   // null when nothing is left to resume
//   await rf.resume(clients, 'shop', { mode: 'ALL_FAILED' }, { onEvent });
//   try { ... } catch (err) { rf.rejectionDetails(err) }     // google.rpc details of a rejection
//
// Messages are plain objects with the proto's field names (snake_case), enums as their names
// ('NODE_STATUS_FAILED'), 64-bit integers as strings. Struct/Value fields are converted with
// toStruct / fromStruct.

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const protobuf = require('protobufjs');

const PROTO_DIR = path.resolve(__dirname, '..', '..', 'proto');
// google/rpc/status.proto and error_details.proto, vendored from googleapis (Apache-2.0).
const VENDORED_PROTO_DIR = path.join(__dirname, 'proto');

const LOADER_OPTIONS = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  // google/protobuf/*.proto (struct, duration, timestamp, any) come bundled with protobufjs.
  includeDirs: [PROTO_DIR, VENDORED_PROTO_DIR],
};

const packageDefinition = protoLoader.loadSync(
  ['resumeflow/v1/runner_service.proto', 'resumeflow/v1/history_service.proto'],
  LOADER_OPTIONS,
);
const v1 = grpc.loadPackageDefinition(packageDefinition).resumeflow.v1;

const rpcRoot = new protobuf.Root();
rpcRoot.resolvePath = (_origin, target) =>
  target.startsWith('google/rpc/') ? path.join(VENDORED_PROTO_DIR, target) : target;
rpcRoot.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'], { keepCase: true });
const Status = rpcRoot.lookupType('google.rpc.Status');

const DEFAULT_TIMEOUT_MS = 60_000;
// The largest message sent or accepted: the services' own limit, MAX_MESSAGE_BYTES in
// resumeflow_core/limits.py (a Python test pins the two together).
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const CHANNEL_OPTIONS = {
  'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
};

// --- connecting -----------------------------------------------------------------------------------

/** Clients of both services. `token` adds `authorization: Bearer TOKEN` to every call. */
function connect({ runner = '127.0.0.1:50051', history = '127.0.0.1:50052', token = '' } = {}) {
  // grpc-js refuses call credentials on insecure channels, so a token travels as call metadata.
  const credentials = grpc.credentials.createInsecure();
  const clients = {
    runner: new v1.RunnerService(runner, credentials, CHANNEL_OPTIONS),
    history: new v1.HistoryService(history, credentials, CHANNEL_OPTIONS),
    metadata() {
      const metadata = new grpc.Metadata();
      if (token) metadata.set('authorization', `Bearer ${token}`);
      return metadata;
    },
    close() {
      clients.runner.close();
      clients.history.close();
    },
  };
  return clients;
}

function deadline(timeoutMs = DEFAULT_TIMEOUT_MS) {
  return new Date(Date.now() + timeoutMs);
}

function unary(clients, service, method, request, timeoutMs) {
  return new Promise((resolve, reject) => {
    clients[service][method](request, clients.metadata(), { deadline: deadline(timeoutMs) }, (err, response) =>
      err ? reject(err) : resolve(response),
    );
  });
}

// --- google.protobuf.Struct / Value / Duration ------------------------------------------------------

// The well-known types come from protobufjs's bundled definitions, whose field names are camelCase
// (stringValue, structValue) even with keepCase.
function toValue(value) {
  if (value === null || value === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(toValue) } };
  if (typeof value === 'object') return { structValue: toStruct(value) };
  throw new TypeError(`cannot put a ${typeof value} into a google.protobuf.Value`);
}

function toStruct(object = {}) {
  return { fields: Object.fromEntries(Object.entries(object).map(([key, item]) => [key, toValue(item)])) };
}

const VALUE_KINDS = ['nullValue', 'numberValue', 'stringValue', 'boolValue', 'structValue', 'listValue'];

/** A plain JSON value from a google.protobuf.Value, decoded (with `kind`) or built by toValue. */
function fromValue(value) {
  const kind = value && (value.kind || VALUE_KINDS.find((name) => value[name] !== undefined && value[name] !== null));
  switch (kind) {
    case undefined:
    case 'nullValue':
      return null;
    case 'structValue':
      return fromStruct(value.structValue);
    case 'listValue':
      return (value.listValue.values || []).map(fromValue);
    default:
      return value[kind];
  }
}

function fromStruct(struct) {
  if (!struct || !struct.fields) return {};
  return Object.fromEntries(Object.entries(struct.fields).map(([key, item]) => [key, fromValue(item)]));
}

/** A Duration from seconds (a number) or a string such as "1.5s", "500ms", "2m". */
function toDuration(value) {
  if (value === null || value === undefined) return null;
  let seconds = value;
  if (typeof value === 'string') {
    const match = /^\s*([0-9]*\.?[0-9]+)\s*(ms|s|m|h)?\s*$/.exec(value);
    if (!match) throw new TypeError(`not a duration: ${JSON.stringify(value)}`);
    seconds = Number(match[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[match[2] || 's'];
  }
  const whole = Math.floor(seconds);
  return { seconds: String(whole), nanos: Math.round((seconds - whole) * 1e9) };
}

// --- workflows --------------------------------------------------------------------------------------

/** A Workflow message from the file format: {id, name, nodes: [{id, type, label, config, retry, timeout}], edges}. */
function toWorkflow(definition) {
  return {
    id: definition.id,
    name: definition.name || definition.id,
    nodes: (definition.nodes || []).map((node) => ({
      id: node.id,
      type: node.type,
      label: node.label || '',
      config: toStruct(node.config || {}),
      retry: node.retry
        ? {
            max_attempts: node.retry.max_attempts || 0,
            initial_backoff: toDuration(node.retry.initial_backoff),
            backoff_multiplier: node.retry.backoff_multiplier || 0,
            max_backoff: toDuration(node.retry.max_backoff),
          }
        : null,
      timeout: toDuration(node.timeout),
    })),
    edges: (definition.edges || []).map((edge) => ({
      source: edge.source,
      target: edge.target,
      branch: edge.branch === undefined ? '' : String(edge.branch),
    })),
  };
}

/** PutWorkflow; resolves to {workflow, changed}. */
function applyWorkflow(clients, definition, { timeoutMs } = {}) {
  return unary(clients, 'history', 'PutWorkflow', { workflow: toWorkflow(definition) }, timeoutMs);
}

// --- runs -------------------------------------------------------------------------------------------

/**
 * RunWorkflow: streams RunAccepted, Events and RunFinished. `request` is a RunWorkflowRequest whose
 * `inputs` is a plain object (converted to a Struct here).
 * Calls onAccepted(accepted), onEvent(event) as messages arrive; resolves to {accepted, events, finished}.
 * A rejection rejects with the grpc error (see rejectionDetails).
 */
function run(clients, request, { onAccepted, onEvent, timeoutMs } = {}) {
  const fullRequest = { ...request, inputs: request.inputs ? toStruct(request.inputs) : null };
  return new Promise((resolve, reject) => {
    const result = { accepted: null, events: [], finished: null };
    const call = clients.runner.RunWorkflow(fullRequest, clients.metadata(), { deadline: deadline(timeoutMs) });
    call.on('data', (message) => {
      try {
        if (message.payload === 'accepted') {
          result.accepted = message.accepted;
          if (onAccepted) onAccepted(message.accepted);
        } else if (message.payload === 'events') {
          for (const event of message.events.events) {
            result.events.push(event);
            if (onEvent) onEvent(event);
          }
        } else if (message.payload === 'finished') {
          result.finished = message.finished;
        }
      } catch (err) {
        call.cancel();
        reject(err);
      }
    });
    call.on('error', reject);
    call.on('end', () => {
      if (result.finished) resolve(result);
      else reject(new Error('the RunWorkflow stream ended without RunFinished'));
    });
  });
}

/**
 * A resume of `workflowId`: mode 'SINGLE' (default) or 'ALL_FAILED', optional startNodeIds and
 * sourceRunId (default: the latest unresolved failed run). Same result as run().
 */
function resume(clients, workflowId, { mode = 'SINGLE', startNodeIds = [], sourceRunId = '', ...request } = {}, options = {}) {
  const spec = {
    source_run_id: sourceRunId,
    mode: mode.startsWith('RESUME_MODE_') ? mode : `RESUME_MODE_${mode}`,
    start_node_ids: startNodeIds,
  };
  return run(clients, { ...request, workflow_id: workflowId, resume: spec }, options);
}

/** GetLatestFailed: {run, failed_nodes}, or null when the workflow has nothing to resume (NO_FAILED_RUN). */
async function latestFailed(clients, workflowId, { timeoutMs } = {}) {
  try {
    return await unary(clients, 'history', 'GetLatestFailed', { workflow_id: workflowId }, timeoutMs);
  } catch (err) {
    if (rejectionDetails(err).reason === 'NO_FAILED_RUN') return null;
    throw err;
  }
}

/** GetRun: the run with its node results. */
async function getRun(clients, runId, { timeoutMs } = {}) {
  return (await unary(clients, 'history', 'GetRun', { run_id: runId }, timeoutMs)).run;
}

// --- rejections -------------------------------------------------------------------------------------

const CODE_NAMES = Object.fromEntries(Object.entries(grpc.status).map(([name, code]) => [code, name]));

/**
 * The google.rpc details of a failed call, from its `grpc-status-details-bin` trailer:
 * {code, codeName, message, reason, domain, metadata, fieldViolations: [{field, description}], details}.
 * Without the trailer only code and message are known.
 */
function rejectionDetails(err) {
  const result = {
    code: err.code,
    codeName: CODE_NAMES[err.code] || String(err.code),
    message: err.details || err.message || '',
    reason: '',
    domain: '',
    metadata: {},
    fieldViolations: [],
    details: [],
  };
  const raw = err.metadata && err.metadata.get('grpc-status-details-bin')[0];
  if (!raw) return result;
  const status = Status.decode(raw);
  result.message = status.message || result.message;
  for (const any of status.details) {
    const typeName = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
    let detail;
    try {
      const type = rpcRoot.lookupType(typeName);
      detail = type.toObject(type.decode(any.value), { defaults: true });
    } catch {
      result.details.push({ type: typeName });
      continue;
    }
    result.details.push({ type: typeName, ...detail });
    if (typeName === 'google.rpc.ErrorInfo') {
      result.reason = detail.reason || '';
      result.domain = detail.domain || '';
      result.metadata = detail.metadata || {};
    } else if (typeName === 'google.rpc.BadRequest') {
      result.fieldViolations = (detail.field_violations || []).map((v) => ({
        field: v.field || '',
        description: v.description || '',
      }));
    }
  }
  return result;
}

/** The short name of an enum value: 'NODE_STATUS_FAILED' → 'FAILED'. */
function shortName(value, prefix) {
  return String(value).startsWith(prefix) ? String(value).slice(prefix.length) : String(value);
}

module.exports = {
  v1,
  grpc,
  connect,
  applyWorkflow,
  toWorkflow,
  run,
  resume,
  latestFailed,
  getRun,
  rejectionDetails,
  toStruct,
  fromStruct,
  toValue,
  fromValue,
  toDuration,
  shortName,
  Status,
  rpcRoot,
  MAX_MESSAGE_BYTES,
};
