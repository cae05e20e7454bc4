'use strict';
// Unit tests of the client library, no server needed: `node --test test/` (or `npm test`).

const assert = require('node:assert/strict');
const { test } = require('node:test');
const rf = require('../resumeflow');

function encodeAny(typeName, object) {
  const type = rf.rpcRoot.lookupType(typeName);
  return { type_url: `type.googleapis.com/${typeName}`, value: type.encode(type.fromObject(object)).finish() };
}

function rejection(code, message, details) {
  const metadata = new rf.grpc.Metadata();
  const status = rf.Status.encode(rf.Status.fromObject({ code, message, details })).finish();
  metadata.set('grpc-status-details-bin', Buffer.from(status));
  return Object.assign(new Error(`${code} ${message}`), { code, details: message, metadata });
}

test('the services and their messages load from the project protos', () => {
  assert.equal(typeof rf.v1.RunnerService, 'function');
  assert.equal(typeof rf.v1.HistoryService, 'function');
  const methods = Object.keys(rf.v1.RunnerService.service);
  for (const name of ['RunWorkflow', 'PlanResume', 'CancelRun']) assert.ok(methods.includes(name), name);
  assert.ok(rf.v1.RunnerService.service.RunWorkflow.responseStream);
});

test('Struct conversion round-trips JSON values through the wire format', () => {
  const value = { s: 'x', n: 1.5, b: false, nothing: null, list: [1, 'two', { three: [] }], nested: { a: {} } };
  const method = rf.v1.RunnerService.service.RunWorkflow;
  const wire = method.requestSerialize({ workflow_id: 'w', inputs: rf.toStruct(value) });
  assert.deepEqual(rf.fromStruct(method.requestDeserialize(wire).inputs), value);
});

test('durations accept seconds and unit strings', () => {
  assert.deepEqual(rf.toDuration(5), { seconds: '5', nanos: 0 });
  assert.deepEqual(rf.toDuration('0.2s'), { seconds: '0', nanos: 200000000 });
  assert.deepEqual(rf.toDuration('1500ms'), { seconds: '1', nanos: 500000000 });
  assert.deepEqual(rf.toDuration('2m'), { seconds: '120', nanos: 0 });
  assert.equal(rf.toDuration(undefined), null);
  assert.throws(() => rf.toDuration('soon'), /not a duration/);
});

test('a workflow file becomes a Workflow message', () => {
  const message = rf.toWorkflow({
    id: 'shop',
    nodes: [
      { id: 'start', type: 'start' },
      { id: 'a', type: 'http', label: 'A', config: { url: 'u' }, retry: { max_attempts: 3, initial_backoff: '1s' }, timeout: '5s' },
    ],
    edges: [{ source: 'start', target: 'a' }, { source: 'a', target: 'b', branch: true }],
  });
  assert.equal(message.name, 'shop');
  assert.deepEqual(rf.fromStruct(message.nodes[1].config), { url: 'u' });
  assert.equal(message.nodes[1].retry.max_attempts, 3);
  assert.deepEqual(message.nodes[1].timeout, { seconds: '5', nanos: 0 });
  assert.equal(message.nodes[0].retry, null);
  assert.deepEqual(message.edges.map((e) => e.branch), ['', 'true']);
});

test('rejectionDetails decodes ErrorInfo and BadRequest from grpc-status-details-bin', () => {
  const err = rejection(rf.grpc.status.INVALID_ARGUMENT, 'the resume request is invalid', [
    encodeAny('google.rpc.ErrorInfo', { reason: 'INVALID_RESUME', domain: 'resumeflow', metadata: { workflow_id: 'shop' } }),
    encodeAny('google.rpc.BadRequest', {
      field_violations: [
        { field: 'resume.start_node_ids[0]', description: "no node 'ghost'" },
        { field: 'resume.start_node_ids[1]', description: 'start cannot be a start node' },
      ],
    }),
    { type_url: 'type.googleapis.com/example.Unknown', value: Buffer.from([8, 1]) },
  ]);
  const details = rf.rejectionDetails(err);
  assert.equal(details.code, rf.grpc.status.INVALID_ARGUMENT);
  assert.equal(details.codeName, 'INVALID_ARGUMENT');
  assert.equal(details.message, 'the resume request is invalid');
  assert.equal(details.reason, 'INVALID_RESUME');
  assert.equal(details.domain, 'resumeflow');
  assert.deepEqual(details.metadata, { workflow_id: 'shop' });
  assert.deepEqual(details.fieldViolations, [
    { field: 'resume.start_node_ids[0]', description: "no node 'ghost'" },
    { field: 'resume.start_node_ids[1]', description: 'start cannot be a start node' },
  ]);
  assert.deepEqual(details.details.map((d) => d.type), ['google.rpc.ErrorInfo', 'google.rpc.BadRequest', 'example.Unknown']);
});

test('rejectionDetails without the trailer keeps code and message', () => {
  const err = Object.assign(new Error('14 UNAVAILABLE: no connection'), {
    code: rf.grpc.status.UNAVAILABLE,
    details: 'no connection',
    metadata: new rf.grpc.Metadata(),
  });
  const details = rf.rejectionDetails(err);
  assert.equal(details.codeName, 'UNAVAILABLE');
  assert.equal(details.message, 'no connection');
  assert.equal(details.reason, '');
  assert.deepEqual(details.fieldViolations, []);
});

test('shortName drops an enum prefix', () => {
  assert.equal(rf.shortName('NODE_STATUS_FAILED', 'NODE_STATUS_'), 'FAILED');
  assert.equal(rf.shortName('OTHER', 'NODE_STATUS_'), 'OTHER');
});
