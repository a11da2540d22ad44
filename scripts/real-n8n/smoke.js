#!/usr/bin/env node
'use strict';

// Proves the kit against real n8n without our node: Manual Trigger -> Set {hello: "world"}.
// Exit code 0 when n8n printed exactly that item.

const assert = require('node:assert/strict');
const { ensureN8n, createUserFolder, n8nEnv, importWorkflow, executeWorkflow } = require('./n8n');

const workflow = {
	name: 'real-n8n smoke',
	nodes: [
		{
			id: 'b0f0a8f0-0000-4000-8000-000000000001',
			name: 'When clicking ‘Execute workflow’',
			type: 'n8n-nodes-base.manualTrigger',
			typeVersion: 1,
			position: [0, 0],
			parameters: {},
		},
		{
			id: 'b0f0a8f0-0000-4000-8000-000000000002',
			name: 'Set hello',
			type: 'n8n-nodes-base.set',
			typeVersion: 3.5,
			position: [220, 0],
			parameters: {
				mode: 'manual',
				assignments: {
					assignments: [{ id: 'a1', name: 'hello', value: 'world', type: 'string' }],
				},
				includeOtherFields: false,
				options: {},
			},
		},
	],
	connections: {
		'When clicking ‘Execute workflow’': {
			main: [[{ node: 'Set hello', type: 'main', index: 0 }]],
		},
	},
};

function seconds(since) {
	return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

async function main() {
	let started = Date.now();
	await ensureN8n();
	console.log(`ensureN8n: ${seconds(started)}`);

	started = Date.now();
	const { userFolder, remove } = await createUserFolder();
	try {
		const env = await n8nEnv({ userFolder });
		const id = await importWorkflow(env, workflow);
		console.log(`user folder + import: ${seconds(started)}`);

		started = Date.now();
		const result = await executeWorkflow(env, id);
		console.log(`execute: ${seconds(started)}`);
		if (!result.ok) {
			console.error(result.logTail);
			throw new Error(`workflow failed: ${JSON.stringify(result.error)}`);
		}
		assert.deepEqual(result.lastNodeOutput, [{ hello: 'world' }]);
		console.log('smoke ok: Set node output', JSON.stringify(result.lastNodeOutput));
	} finally {
		if (process.env.KEEP_USER_FOLDER) console.log(`kept ${userFolder}`);
		else remove();
	}
}

main().catch((error) => {
	console.error(error.stack ?? error);
	process.exitCode = 1;
});
