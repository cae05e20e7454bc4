#!/usr/bin/env node
'use strict';
// Applies a workflow, runs it with live node statuses, shows the google.rpc details of a
// deliberately invalid resume, then resumes the latest failed run until nothing is left to resume.
//
//   node demo.js --workflow shop.json --env api=http://127.0.0.1:8080 \
//       [--runner-address 127.0.0.1:50051] [--history-address 127.0.0.1:50052] \
//       [--mode all|single] [--max-resumes 5] [--timeout 60]
//
// Exit status: 0 when the workflow ends SUCCEEDED, 1 when it does not, 2 on bad usage.

const fs = require('node:fs');
const { parseArgs } = require('node:util');
const rf = require('./resumeflow');

const USAGE = 'usage: demo.js --workflow FILE.json [--env KEY=VALUE]... [--runner-address HOST:PORT] '
  + '[--history-address HOST:PORT] [--mode all|single] [--max-resumes N] [--timeout SECONDS] [--token TOKEN]';

function options() {
  const { values } = parseArgs({
    options: {
      workflow: { type: 'string' },
      env: { type: 'string', multiple: true, default: [] },
      'runner-address': { type: 'string', default: process.env.RESUMEFLOW_RUNNER_ADDRESS || '127.0.0.1:50051' },
      'history-address': { type: 'string', default: process.env.RESUMEFLOW_HISTORY_ADDRESS || '127.0.0.1:50052' },
      mode: { type: 'string', default: 'all' },
      'max-resumes': { type: 'string', default: '5' },
      timeout: { type: 'string', default: '60' },
      token: { type: 'string', default: process.env.RESUMEFLOW_AUTH_TOKEN || '' },
    },
  });
  if (!values.workflow || !['all', 'single'].includes(values.mode)) throw new Error(USAGE);
  const env = Object.fromEntries(values.env.map((pair) => {
    const at = pair.indexOf('=');
    if (at < 1) throw new Error(`--env wants KEY=VALUE, got ${JSON.stringify(pair)}`);
    return [pair.slice(0, at), pair.slice(at + 1)];
  }));
  return {
    ...values,
    env,
    mode: values.mode === 'all' ? 'ALL_FAILED' : 'SINGLE',
    maxResumes: Number(values['max-resumes']),
    timeoutMs: Number(values.timeout) * 1000,
  };
}

const nodeStatus = (value) => rf.shortName(value, 'NODE_STATUS_');
const runStatus = (value) => rf.shortName(value, 'RUN_STATUS_');

function printEvent(event) {
  if (event.kind !== 'EVENT_KIND_NODE_STATUS') return;
  const attempt = event.attempt > 1 ? ` (attempt ${event.attempt})` : '';
  const message = event.node_status === 'NODE_STATUS_FAILED' && event.message ? `  ${event.message}` : '';
  console.log(`  node ${event.node_id.padEnd(10)} ${nodeStatus(event.node_status)}${attempt}${message}`);
}

function printAccepted(accepted) {
  const run = accepted.run;
  const resumed = run.resume_from_run_id
    ? ` resuming ${run.resume_from_run_id} from ${run.resume_from_node_ids.join(', ')}`
      + ` (${rf.shortName(run.resume_mode, 'RESUME_MODE_')}), restored: ${accepted.restored_node_ids.join(', ') || '-'}`
    : '';
  console.log(`run ${run.id} started (workflow ${run.workflow_id} v${run.workflow_version})${resumed}`);
}

function printFinished(finished) {
  const run = finished.run;
  const failed = run.failed_node_ids.length ? ` failed nodes: ${run.failed_node_ids.join(', ')}` : '';
  console.log(`run ${run.id} ${runStatus(run.status)}${failed}`);
}

function printRejection(what, err) {
  const details = rf.rejectionDetails(err);
  console.log(`${what} rejected: ${details.codeName} reason=${details.reason || '-'}: ${details.message}`);
  for (const violation of details.fieldViolations) {
    console.log(`  violation ${violation.field}: ${violation.description}`);
  }
  return details;
}

async function main() {
  const opts = options();
  const definition = JSON.parse(fs.readFileSync(opts.workflow, 'utf8'));
  const clients = rf.connect({ runner: opts['runner-address'], history: opts['history-address'], token: opts.token });
  const call = { onAccepted: printAccepted, onEvent: printEvent, timeoutMs: opts.timeoutMs };
  const environment = { name: 'demo', values: opts.env };
  try {
    const applied = await rf.applyWorkflow(clients, definition, { timeoutMs: opts.timeoutMs });
    const workflowId = applied.workflow.id;
    console.log(`applied workflow ${workflowId} v${applied.workflow.version}${applied.changed ? '' : ' (unchanged)'}`);

    let last = (await rf.run(clients, { workflow_id: workflowId, environment }, call)).finished;
    printFinished(last);

    // A resume that cannot be valid, to show a rejection's google.rpc details.
    try {
      await rf.resume(clients, workflowId, { mode: 'SINGLE', startNodeIds: ['no-such-node'], environment }, call);
      console.log('invalid resume was accepted?!');
    } catch (err) {
      if (err.code === undefined) throw err;
      printRejection('invalid resume', err);
    }

    for (let resumes = 0; ; resumes += 1) {
      const latest = await rf.latestFailed(clients, workflowId, { timeoutMs: opts.timeoutMs });
      if (latest === null) {
        console.log(`latest failed run: none (NO_FAILED_RUN), nothing left to resume`);
        break;
      }
      console.log(`latest failed run: ${latest.run.id}`);
      for (const node of latest.failed_nodes) {
        console.log(`  failed ${node.node_id} (${node.label || node.type}): ${node.error_message}`);
      }
      if (resumes >= opts.maxResumes) {
        console.log(`giving up after ${resumes} resumes`);
        break;
      }
      console.log(`resume ${resumes + 1}: ${opts.mode} of ${latest.run.id}`);
      last = (await rf.resume(clients, workflowId, { mode: opts.mode, environment }, call)).finished;
      printFinished(last);
    }
    const ok = last.run.status === 'RUN_STATUS_SUCCEEDED';
    console.log(ok ? `workflow ${workflowId} SUCCEEDED` : `workflow ${workflowId} did not succeed`);
    return ok ? 0 : 1;
  } finally {
    clients.close();
  }
}

main().then(
  (code) => { process.exitCode = code; },
  (err) => {
    if (err.code !== undefined && err.metadata) {
      printRejection('call', err);
    } else {
      console.error(err.message);
    }
    process.exitCode = err.message === USAGE ? 2 : 1;
  },
);
