#!/usr/bin/env node
'use strict';

// `npm run dev`: the n8n editor with this working tree loaded, against the local Vipps
// simulator, rebuilt and restarted on every change.
//
//   npm run dev                      editor on http://localhost:5678 (or a free port)
//   npm run dev -- --reset           start over with an empty dev user folder
//   npm run dev -- --port 5679 --sim-port 8081
//
// 1. `npm run build`; 2. the simulator in this process (port 8080, or a free one);
// 3. real n8n 2.41.1 (scripts/real-n8n) on a persistent user folder, .cache/dev-n8n, with the
// repository symlinked in as the community package (see stack.js): owner account, credential
// "Vipps simulator" and the examples are created on the first start and kept afterwards;
// 4. `tsc --watch` plus an asset copier (icons, codex); 5. n8n is restarted whenever the
// built node or credential files change. Ctrl+C stops everything by PID.

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');
const kit = require('../real-n8n/n8n');
const { spawnGroup, killGroup, tailFile } = require('../real-n8n/proc');
const stack = require('./stack');

const { REPO } = stack;
const DIST = path.join(REPO, 'dist');
const DEFAULT_EDITOR_PORT = 5678;
const DEFAULT_SIMULATOR_PORT = 8080;
const POLL_MS = 1000;
const ASSET = /\.(svg|png)$|\.node\.json$/;

const { values: flags } = parseArgs({
	options: {
		reset: { type: 'boolean', default: false },
		port: { type: 'string' },
		'sim-port': { type: 'string' },
		'user-folder': { type: 'string' },
		quiet: { type: 'boolean', default: false },
	},
});

const userFolder = path.resolve(REPO, flags['user-folder'] ?? path.join('.cache', 'dev-n8n'));

function say(message) {
	process.stdout.write(`${message}\n`);
}

function prefixed(prefix, text) {
	for (const line of text.split('\n')) if (line.trim()) say(`${prefix} ${line}`);
}

/** What n8n loads from the package: a change here means restart. */
function watchedFiles() {
	const files = [path.join(DIST, 'package.json')];
	const walk = (dir) => {
		if (!fs.existsSync(dir)) return;
		for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
			const full = path.join(dir, entry.name);
			if (entry.isDirectory()) walk(full);
			else files.push(full);
		}
	};
	walk(path.join(DIST, 'nodes'));
	walk(path.join(DIST, 'credentials'));
	return files.sort();
}

/** Cheap: sizes and mtimes, polled every second. */
function statFingerprint() {
	return watchedFiles()
		.map((file) => {
			try {
				const { size, mtimeMs } = fs.statSync(file);
				return `${file}:${size}:${mtimeMs}`;
			} catch {
				return `${file}:gone`;
			}
		})
		.join('\n');
}

/** Exact: contents. tsc --watch re-emits identical files on its first pass; that is no change. */
function contentHash() {
	const hash = crypto.createHash('sha256');
	for (const file of watchedFiles()) {
		hash.update(file);
		try {
			hash.update(fs.readFileSync(file));
		} catch {
			hash.update('gone');
		}
	}
	return hash.digest('hex');
}

/** `tsc --watch` on the build config; prints errors and the per-pass summary only. */
function startTsc() {
	const tsc = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
	const args = [tsc, '-p', 'tsconfig.build.json', '--watch', '--preserveWatchOutput', '--pretty', 'false'];
	const child = spawnGroup(process.execPath, args, { cwd: REPO, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
	const onData = (chunk) => {
		for (const line of chunk.toString('utf8').split('\n')) {
			if (/error TS|Found \d+ errors?\b/.test(line)) say(`[tsc] ${line.replace(/^\S+ - /, '').trim()}`);
		}
	};
	child.stdout.on('data', onData);
	child.stderr.on('data', onData);
	return child;
}

/** Copies icons and the codex into dist/ as they change (what `gulp build:assets` does once). */
function watchAssets() {
	const watchers = [];
	for (const root of ['nodes', 'credentials']) {
		const dir = path.join(REPO, root);
		if (!fs.existsSync(dir)) continue;
		const watcher = fs.watch(dir, { recursive: true }, (_event, name) => {
			if (!name || !ASSET.test(name)) return;
			const from = path.join(dir, name);
			const to = path.join(DIST, root, name);
			if (!fs.existsSync(from)) return;
			fs.mkdirSync(path.dirname(to), { recursive: true });
			fs.copyFileSync(from, to);
			say(`[assets] copied ${root}/${name}`);
		});
		watcher.on('error', (error) => say(`[assets] watching ${root}/ failed: ${error.message}`));
		watchers.push(watcher);
	}
	return watchers;
}

/** Streams new lines of n8n's log file to the console (migration chatter left out). */
function followLog(file) {
	let offset = fs.existsSync(file) ? fs.statSync(file).size : 0;
	let rest = '';
	const timer = setInterval(() => {
		let size;
		try {
			size = fs.statSync(file).size;
		} catch {
			return;
		}
		if (size < offset) offset = 0;
		if (size === offset) return;
		const fd = fs.openSync(file, 'r');
		const buffer = Buffer.alloc(size - offset);
		fs.readSync(fd, buffer, 0, buffer.length, offset);
		fs.closeSync(fd);
		offset = size;
		const lines = (rest + buffer.toString('utf8')).split('\n');
		rest = lines.pop();
		for (const line of lines) {
			if (!line.trim() || /migration|^\s*$/i.test(line)) continue;
			say(`[n8n] ${line}`);
		}
	}, 500);
	return () => clearInterval(timer);
}

function banner({ server, owner, simulator, workflows, startup, n8nStart }) {
	const rel = path.relative(REPO, userFolder) || userFolder;
	const byFile = (file) => workflows[file]?.name ?? file;
	say('');
	say(`n8n dev editor ready (startup ${startup}; n8n 2.41.1 with ${stack.PACKAGE_NAME} from this working tree)`);
	say('');
	say(`  Editor:      ${server.url}`);
	say(`  Login:       ${owner.email} / ${owner.password}${owner.created ? ' (owner created now)' : ''}`);
	say(`  Simulator:   ${simulator.baseUrl} (credential "${stack.CREDENTIAL_NAME}"; fake demo keys)`);
	say(`  User folder: ${rel} (kept between runs; \`npm run dev -- --reset\` starts over)`);
	say(`  n8n log:     ${path.relative(REPO, path.join(userFolder, 'n8n-start.log'))}`);
	say('');
	say('What to click:');
	say(`  1. Open ${server.url} and sign in with the login above.`);
	say(`  2. Overview → "${byFile('dry-run.json')}" → Execute workflow:`);
	say('     nothing is sent; the Vipps node shows what it would send, and why bad rows are refused.');
	say(`  3. "${byFile('scheduled-bulk-check-in.json')}" → Execute workflow:`);
	say('     real check-ins against the simulator (watch the [sim] lines); open "Vipps Check-in" to see');
	say('     checkInId on good rows and error on refused ones, "Sent vs failed" for the counts.');
	say('  4. Credentials → "Vipps simulator" → Retest shows the credential test against the simulator.');
	// A restart is n8n's start again (about 20 s of CPU): 26–53 s measured on a busy 2-core machine.
	say(`  Edit nodes/ or credentials/: tsc rebuilds, n8n restarts (about as long as its start just now: ${n8nStart}),`);
	say('  then reload the browser tab.');
	say('  Ctrl+C stops n8n, tsc and the simulator.');
	say('');
}

async function main() {
	const started = Date.now();
	if (flags.reset && fs.existsSync(userFolder)) {
		say(`[dev] --reset: removing ${userFolder}`);
		fs.rmSync(userFolder, { recursive: true, force: true });
	}
	stack.ensureUserFolder(userFolder);
	const logFile = path.join(userFolder, 'n8n-start.log');
	fs.writeFileSync(logFile, ''); // one run's log, not every run's

	say('[dev] npm run build …');
	let step = Date.now();
	await stack.build();
	say(`[dev] built in ${stack.seconds(step)}`);

	const simulatorPort = flags['sim-port'] ? Number(flags['sim-port']) : DEFAULT_SIMULATOR_PORT;
	const simulator = await stack.startSimulator({
		port: simulatorPort,
		onRequest: (request) => {
			const status = request.status === 0 ? 'no answer' : request.status;
			say(`[sim] ${request.method} ${request.path} → ${status}${request.fault ? ` [fault: ${request.fault}]` : ''}`);
		},
	});
	if (!simulator.baseUrl.endsWith(`:${simulatorPort}`)) say(`[dev] port ${simulatorPort} is taken; simulator on ${simulator.baseUrl}`);

	const editorPort = await stack.portOr(flags.port ? Number(flags.port) : DEFAULT_EDITOR_PORT);
	say(`[dev] starting n8n on port ${editorPort} (first start runs the database migrations) …`);
	step = Date.now();
	const stopFollowing = flags.quiet ? () => {} : followLog(logFile);
	const extraEnv = { N8N_LOG_FORMAT: 'text' };
	const n8n = await stack.startN8nStack({ userFolder, port: editorPort, simulator, extraEnv });
	say(`[dev] n8n ready in ${n8n.timings.n8nReady}, owner/credential/examples in ${n8n.timings.setup}`);

	let server = n8n.server;
	let runningHash = contentHash();
	let lastFingerprint = statFingerprint();
	let settledAt = 0;
	let restarting = false;
	let stopping = false;

	const watchExit = (current) => {
		current.wait().then(({ code, signal }) => {
			if (stopping || restarting || current !== server) return;
			say(`[dev] n8n exited (${code ?? signal}); it starts again on the next change. Last lines:\n${current.logTail(20)}`);
			server = null;
		});
	};
	watchExit(server);

	const restart = async (reason) => {
		restarting = true;
		try {
			say(`[dev] ${reason}: restarting n8n …`);
			const t = Date.now();
			if (server) await server.stop();
			server = null;
			runningHash = contentHash();
			server = await kit.startN8n(n8n.env, { timeoutMs: 180_000 });
			say(`[dev] n8n restarted in ${stack.seconds(t)}: reload ${server.url} in the browser.`);
			watchExit(server);
		} catch (error) {
			say(`[dev] n8n did not come back: ${error.message}`);
			server = null;
		} finally {
			restarting = false;
		}
	};

	const poll = setInterval(() => {
		if (restarting || stopping) return;
		const fingerprint = statFingerprint();
		if (fingerprint !== lastFingerprint) {
			lastFingerprint = fingerprint;
			settledAt = Date.now() + POLL_MS; // let tsc finish writing
			return;
		}
		if (settledAt && Date.now() >= settledAt) {
			settledAt = 0;
			if (contentHash() !== runningHash) void restart('dist/ changed');
		}
	}, POLL_MS);

	const tsc = startTsc();
	const assetWatchers = watchAssets();
	tsc.once('exit', (code, signal) => {
		if (!stopping) say(`[tsc] exited (${code ?? signal}); rebuilds stopped`);
	});

	banner({ server, owner: n8n.owner, simulator, workflows: n8n.workflows, startup: stack.seconds(started), n8nStart: n8n.timings.n8nReady });

	// scripts/real-n8n/proc.js SIGKILLs its children on SIGINT/SIGTERM at once; here n8n gets
	// its graceful shutdown first (SQLite, running executions), and a second Ctrl+C forces.
	for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.removeAllListeners(signal);
	const shutdown = async (signal) => {
		if (stopping) {
			say('[dev] forced stop');
			process.exit(130);
		}
		stopping = true;
		say(`\n[dev] ${signal}: stopping n8n (pid ${server?.pid ?? '-'}), tsc (pid ${tsc.pid}) and the simulator …`);
		clearInterval(poll);
		for (const watcher of assetWatchers) watcher.close();
		killGroup(tsc, 'SIGTERM');
		while (restarting) await new Promise((resolve) => setTimeout(resolve, 200));
		if (server) await server.stop();
		stopFollowing();
		await simulator.close();
		say('[dev] stopped');
		process.exit(0);
	};
	for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => void shutdown(signal));
}

main().catch((error) => {
	console.error(`[dev] ${error.stack ?? error}`);
	const log = path.join(userFolder, 'n8n-start.log');
	if (fs.existsSync(log)) console.error(`--- last lines of ${log} ---\n${tailFile(log, 30)}`);
	process.exit(1);
});
