'use strict';

// The local stack shared by `npm run dev` and `npm run screenshots`: the Vipps simulator
// in this process, real n8n 2.41.1 (scripts/real-n8n) with THIS working tree loaded as the
// community package `n8n-nodes-vipps-checkin`, an owner account, a credential
// "Vipps simulator" pointing at the simulator, and the example workflows imported with it.
//
// How the package is loaded: `<userFolder>/.n8n/nodes/node_modules/n8n-nodes-vipps-checkin`
// is a symlink to the repository. n8n scans that folder for community packages, reads our
// package.json's `n8n.nodes` / `n8n.credentials` (files in dist/), and registers the node as
// `n8n-nodes-vipps-checkin.vippsCheckIn`: the same type name a user's npm install gives, so the
// examples import unchanged and a workflow built in the dev editor exports as-is. (`n8n-node
// dev` symlinks into `.n8n/custom` instead, which makes the type `CUSTOM.vippsCheckIn` and
// would glob this repository's node_modules for *.node.js.) As with `n8n-node dev`, the node
// resolves `n8n-workflow`, `zod` and `undici` from this repository's node_modules (the same
// n8n-workflow version, 2.41.0, as n8n 2.41.1 ships); `npm run n8n:smoke` and the e2e tests
// cover the packed tarball installed the way n8n installs it.

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const kit = require('../real-n8n/n8n');
const { run, tail } = require('../real-n8n/proc');

const REPO = path.resolve(__dirname, '..', '..');
const PACKAGE_NAME = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).name;
const NODE_TYPE = `${PACKAGE_NAME}.vippsCheckIn`;
const CREDENTIAL_TYPE = 'vippsMobilePayApi';
const CREDENTIAL_NAME = 'Vipps simulator';
const OWNER = { email: 'owner@example.com', firstName: 'Dev', lastName: 'Owner', password: 'Vipps-check-in-1' };
const EXAMPLES_DIR = path.join(REPO, 'examples');

function seconds(since) {
	return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

/** `npm run build` in the repository; throws with the output's tail on failure. */
async function build() {
	const { code, stdout, stderr } = await run('npm', ['run', 'build', '--silent'], { cwd: REPO, env: process.env });
	if (code !== 0) throw new Error(`npm run build failed (exit ${code}):\n${tail(`${stdout}\n${stderr}`)}`);
}

/** A user folder that survives restarts: created once, with its own encryption key. */
function ensureUserFolder(userFolder) {
	const n8nDir = path.join(userFolder, '.n8n');
	fs.mkdirSync(n8nDir, { recursive: true });
	const config = path.join(n8nDir, 'config');
	if (!fs.existsSync(config)) {
		const settings = { encryptionKey: crypto.randomBytes(24).toString('base64') };
		fs.writeFileSync(config, JSON.stringify(settings, null, '\t'), { mode: 0o600 });
	}
	fs.chmodSync(config, 0o600);
	return userFolder;
}

/** Links the working tree in as the community package (replacing whatever was there). */
function linkPackage(userFolder) {
	const nodesDir = path.join(userFolder, '.n8n', 'nodes');
	const link = path.join(nodesDir, 'node_modules', PACKAGE_NAME);
	fs.mkdirSync(path.dirname(link), { recursive: true });
	fs.rmSync(link, { recursive: true, force: true });
	fs.symlinkSync(REPO, link, 'dir');
	const ledger = { name: 'installed-nodes', private: true, dependencies: { [PACKAGE_NAME]: `file:${REPO}` } };
	fs.writeFileSync(path.join(nodesDir, 'package.json'), JSON.stringify(ledger, null, 2));
	return link;
}

/** The simulator from dist/ (build first), on `port` when free, else on any free loopback port. */
async function startSimulator({ port, onRequest } = {}) {
	// Loaded lazily: dist/ exists only after the build.
	const { VippsSimulator } = require(path.join(REPO, 'dist', 'simulator', 'VippsSimulator.js'));
	const options = { latencyMs: 30, onRequest };
	if (port) {
		try {
			return await VippsSimulator.start({ ...options, port });
		} catch (error) {
			if (error.code !== 'EADDRINUSE') throw error;
		}
	}
	return VippsSimulator.start({ ...options, port: 0 });
}

/** `preferred` when nothing listens there, else a free port. */
async function portOr(preferred) {
	const net = require('node:net');
	const free = await new Promise((resolve) => {
		const server = net.createServer();
		server.once('error', () => resolve(false));
		server.listen(preferred, '127.0.0.1', () => server.close(() => resolve(true)));
	});
	return free ? preferred : kit.freePort();
}

/** Logs in as the owner, creating the owner on a fresh instance. */
async function ensureOwner(url, owner = OWNER) {
	const settings = await (await fetch(`${url}/rest/settings`)).json();
	if (settings.data?.userManagement?.showSetupOnFirstLoad) {
		const { cookie } = await kit.setupOwner(url, owner);
		return { email: owner.email, password: owner.password, cookie, created: true };
	}
	const response = await fetch(`${url}/rest/login`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ emailOrLdapLoginId: owner.email, password: owner.password }),
	});
	if (!response.ok) {
		throw new Error(
			`login as ${owner.email} failed: HTTP ${response.status} ${await response.text()}\n` +
				'(the dev user folder has another owner? delete it or run with --reset)',
		);
	}
	return { email: owner.email, password: owner.password, cookie: kit.cookieOf(response), created: false };
}

/** The credential "Vipps simulator", created or pointed at the simulator's current address. */
async function ensureCredential(rest, simulator) {
	const existing = (await rest.get('/credentials')).find(
		(credential) => credential.name === CREDENTIAL_NAME && credential.type === CREDENTIAL_TYPE,
	);
	const body = { name: CREDENTIAL_NAME, type: CREDENTIAL_TYPE, data: simulator.credentialData() };
	if (existing) {
		await rest.patch(`/credentials/${existing.id}`, body);
		return { id: existing.id, name: CREDENTIAL_NAME };
	}
	const created = await rest.post('/credentials', body);
	return { id: created.id, name: CREDENTIAL_NAME };
}

/** examples/*.json with the placeholder credential replaced. */
function exampleWorkflows(credential) {
	return fs
		.readdirSync(EXAMPLES_DIR)
		.filter((file) => file.endsWith('.json'))
		.sort()
		.map((file) => {
			const workflow = JSON.parse(fs.readFileSync(path.join(EXAMPLES_DIR, file), 'utf8'));
			for (const node of workflow.nodes) {
				if (node.credentials?.[CREDENTIAL_TYPE]) node.credentials[CREDENTIAL_TYPE] = { ...credential };
			}
			return { file, workflow };
		});
}

/**
 * Imports every example not already there (matched by name, so edits made in the editor
 * survive restarts; delete a workflow to get the original back on the next start).
 * @returns {Promise<Record<string, { id: string, name: string, imported: boolean }>>} by file name
 */
async function importExamples(rest, credential) {
	const existing = await rest.get('/workflows');
	const byName = new Map((Array.isArray(existing) ? existing : existing.data ?? []).map((w) => [w.name, w]));
	const result = {};
	for (const { file, workflow } of exampleWorkflows(credential)) {
		const found = byName.get(workflow.name);
		if (found) {
			result[file] = { id: found.id, name: found.name, imported: false };
			continue;
		}
		const created = await rest.post('/workflows', {
			name: workflow.name,
			nodes: workflow.nodes,
			connections: workflow.connections,
			settings: workflow.settings ?? {},
			active: false,
		});
		result[file] = { id: created.id, name: created.name, imported: true };
	}
	return result;
}

/**
 * Starts n8n on `userFolder` (package linked, owner, credential, examples).
 * @returns {Promise<{ server, env, owner, rest, credential, workflows, timings }>}
 */
async function startN8nStack({ userFolder, port, simulator, extraEnv = {} }) {
	const timings = {};
	ensureUserFolder(userFolder);
	linkPackage(userFolder);
	// The AI Agent example uses the node as a tool, which self-hosted n8n offers for
	// community packages only with this switch.
	const extra = { N8N_COMMUNITY_PACKAGES_ALLOW_TOOL_USAGE: 'true', ...extraEnv };
	const env = await kit.n8nEnv({ userFolder, port, extra });
	let started = Date.now();
	const server = await kit.startN8n(env, { timeoutMs: 180_000 });
	timings.n8nReady = seconds(started);
	try {
		started = Date.now();
		const owner = await ensureOwner(server.url);
		const rest = kit.restClient(server.url, owner.cookie);
		const types = await (await fetch(`${server.url}/types/nodes.json`, { headers: { cookie: owner.cookie } })).json();
		if (!types.some((type) => type.name === NODE_TYPE)) {
			throw new Error(`n8n did not load ${NODE_TYPE} from ${REPO}\n${server.logTail()}`);
		}
		const credential = await ensureCredential(rest, simulator);
		const workflows = await importExamples(rest, credential);
		timings.setup = seconds(started);
		return { server, env, owner, rest, credential, workflows, timings };
	} catch (error) {
		await server.stop();
		throw error;
	}
}

module.exports = {
	REPO,
	PACKAGE_NAME,
	NODE_TYPE,
	CREDENTIAL_NAME,
	OWNER,
	build,
	ensureUserFolder,
	linkPackage,
	startSimulator,
	portOr,
	ensureOwner,
	ensureCredential,
	importExamples,
	startN8nStack,
	seconds,
};
