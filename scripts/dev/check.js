#!/usr/bin/env node
'use strict';

// Self-check of `npm run dev`: starts scripts/dev/dev.js on a throwaway user folder and free
// ports, waits for its banner, signs in over HTTP, lists the workflows and credentials through
// the REST API, then stops it with SIGINT and checks that n8n, tsc and the simulator are gone.
// Run twice on the same folder (--user-folder) to check a restart reuses the owner.
//
//   node scripts/dev/check.js

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { freePort } = require('../real-n8n/proc');
const kit = require('../real-n8n/n8n');
const stack = require('./stack');

function alive(pid) {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}

async function runOnce(userFolder, round) {
	const port = await freePort();
	const simPort = await freePort();
	const started = Date.now();
	const child = spawn(
		process.execPath,
		[path.join(__dirname, 'dev.js'), '--port', String(port), '--sim-port', String(simPort), '--user-folder', userFolder, '--quiet'],
		{ cwd: stack.REPO, stdio: ['ignore', 'pipe', 'pipe'] },
	);
	let output = '';
	const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
	const ready = new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`no banner after 240 s:\n${output}`)), 240_000);
		const onData = (chunk) => {
			output += chunk;
			if (output.includes('n8n dev editor ready')) {
				clearTimeout(timer);
				resolve();
			}
		};
		child.stdout.on('data', onData);
		child.stderr.on('data', onData);
		exited.then(({ code }) => reject(new Error(`dev.js exited early (${code}):\n${output}`)));
	});
	try {
		await ready;
		const startup = stack.seconds(started);
		const url = `http://localhost:${port}`;
		const login = await fetch(`${url}/rest/login`, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ emailOrLdapLoginId: stack.OWNER.email, password: stack.OWNER.password }),
		});
		assert.equal(login.status, 200, 'login');
		const rest = kit.restClient(url, kit.cookieOf(login));
		const workflows = await rest.get('/workflows');
		const credentials = await rest.get('/credentials');
		const names = workflows.map((w) => w.name).sort();
		assert.equal(names.length, fs.readdirSync(path.join(stack.REPO, 'examples')).filter((f) => f.endsWith('.json')).length);
		assert.ok(credentials.some((c) => c.name === stack.CREDENTIAL_NAME && c.type === 'vippsMobilePayApi'));
		const pids = [...output.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
		console.log(`round ${round}: ready in ${startup}; logged in; ${names.length} workflows:`);
		for (const name of names) console.log(`  - ${name}`);
		const stopAt = Date.now();
		child.kill('SIGINT');
		const { code } = await exited;
		const stopped = output.match(/stopping n8n \(pid (\d+)\), tsc \(pid (\d+)\)/);
		assert.ok(stopped, `no stop line:\n${output}`);
		assert.equal(code, 0, `dev.js exit code\n${output}`);
		for (const pid of [Number(stopped[1]), Number(stopped[2]), ...pids]) assert.ok(!alive(pid), `pid ${pid} still alive`);
		assert.equal((await fetch(url).catch(() => null))?.status, undefined, 'editor still answers');
		console.log(`round ${round}: stopped in ${stack.seconds(stopAt)} (n8n pid ${stopped[1]}, tsc pid ${stopped[2]} gone)`);
	} finally {
		if (child.exitCode === null) child.kill('SIGKILL');
	}
}

async function main() {
	const userFolder = fs.mkdtempSync(path.join(os.tmpdir(), 'vipps-dev-check-'));
	try {
		await runOnce(userFolder, 1); // fresh: owner, credential and examples created
		await runOnce(userFolder, 2); // again: logs in, keeps everything
		console.log('dev check ok');
	} finally {
		fs.rmSync(userFolder, { recursive: true, force: true });
	}
}

main().catch((error) => {
	console.error(error.stack ?? error);
	process.exit(1);
});
