#!/usr/bin/env node
'use strict';

// Proves the real-n8n kit end to end:
// 1. headless: Manual Trigger -> Set {hello: "world"} through `n8n execute`;
// 2. server: `n8n start`, owner setup, authenticated REST, stop;
// 3. when the package is built: its packed tarball installed as a community package loads
//    (node and credential types known to n8n; executing the node is not "Unrecognized").
// Exit code 0 when all checks that could run passed.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const kit = require('./n8n');

const REPO = path.resolve(__dirname, '..', '..');
const BUILT_NODE = path.join(REPO, 'dist', 'nodes', 'VippsCheckIn', 'VippsCheckIn.node.js');
const PACKAGE_NAME = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).name;
const TRIGGER = 'When clicking ‘Execute workflow’';

function workflow(name, node) {
	return {
		name,
		nodes: [
			{
				id: 'b0f0a8f0-0000-4000-8000-000000000001',
				name: TRIGGER,
				type: 'n8n-nodes-base.manualTrigger',
				typeVersion: 1,
				position: [0, 0],
				parameters: {},
			},
			{ id: 'b0f0a8f0-0000-4000-8000-000000000002', position: [220, 0], ...node },
		],
		connections: { [TRIGGER]: { main: [[{ node: node.name, type: 'main', index: 0 }]] } },
	};
}

const setHello = workflow('real-n8n smoke', {
	name: 'Set hello',
	type: 'n8n-nodes-base.set',
	typeVersion: 3.5,
	parameters: {
		mode: 'manual',
		assignments: { assignments: [{ id: 'a1', name: 'hello', value: 'world', type: 'string' }] },
		includeOtherFields: false,
		options: {},
	},
});

const timings = {};

async function timed(label, fn) {
	const started = Date.now();
	try {
		return await fn();
	} finally {
		timings[label] = `${((Date.now() - started) / 1000).toFixed(1)} s`;
		console.log(`  ${label}: ${timings[label]}`);
	}
}

async function nodeTypeNames(server, cookie) {
	const response = await fetch(`${server.url}/types/nodes.json`, { headers: { cookie } });
	assert.equal(response.status, 200, 'GET /types/nodes.json');
	return new Set((await response.json()).map((type) => type.name));
}

async function headlessAndServer() {
	console.log('1. headless execute + 2. editor server (no community package)');
	const { userFolder, remove } = await kit.createUserFolder();
	try {
		const env = await kit.n8nEnv({ userFolder });
		const id = await timed('import workflow', () => kit.importWorkflow(env, setHello));
		const result = await timed('execute (warm)', () => kit.executeWorkflow(env, id));
		assert.ok(result.ok, `workflow failed: ${JSON.stringify(result.error)}\n${result.logTail}`);
		assert.deepEqual(result.lastNodeOutput, [{ hello: 'world' }]);

		const server = await timed('n8n start until ready', () => kit.startN8n(env));
		try {
			const { cookie } = await kit.setupOwner(server.url);
			assert.ok((await nodeTypeNames(server, cookie)).has('n8n-nodes-base.set'));
		} finally {
			await timed('n8n stop', () => server.stop());
		}
	} finally {
		remove();
	}
}

async function communityPackage() {
	if (!fs.existsSync(BUILT_NODE)) {
		console.log(`3. skipped: ${path.relative(REPO, BUILT_NODE)} not built (npm run build)`);
		return;
	}
	console.log('3. packed package as a community node');
	const tarball = await timed('npm pack', () => kit.packPackage(REPO));
	const { userFolder, remove } = await timed('user folder + community install', () => kit.createUserFolder({ tarball }));
	try {
		const env = await kit.n8nEnv({ userFolder });
		const nodeType = `${PACKAGE_NAME}.vippsCheckIn`;
		const id = await kit.importWorkflow(
			env,
			workflow('real-n8n package smoke', { name: 'Vipps Check-in', type: nodeType, typeVersion: 1, parameters: {} }),
		);
		// No parameters or credentials: the run fails, but inside our node, not on an unknown type.
		const result = await timed('execute community node', () => kit.executeWorkflow(env, id));
		assert.doesNotMatch(result.error?.message ?? '', /Unrecognized node type/, result.logTail);
		console.log(`  n8n ran ${nodeType}: ${result.error?.message?.split('\n')[0] ?? 'ok'}`);

		const server = await timed('n8n start until ready (with package)', () => kit.startN8n(env));
		try {
			const { cookie } = await kit.setupOwner(server.url);
			assert.ok((await nodeTypeNames(server, cookie)).has(nodeType), `${nodeType} not among n8n's node types`);
			assert.doesNotMatch(server.logTail(400), /Failed to load package/, server.logTail());
		} finally {
			await server.stop();
		}
	} finally {
		remove();
		fs.rmSync(path.dirname(tarball), { recursive: true, force: true });
	}
}

async function main() {
	await timed('ensureN8n', () => kit.ensureN8n());
	await headlessAndServer();
	await communityPackage();
	console.log(`smoke ok ${JSON.stringify(timings)}`);
}

main().catch((error) => {
	console.error(error.stack ?? error);
	process.exitCode = 1;
});
