'use strict';

// Drives real n8n (installed by ./install.js) headless: pack this package, install it into a
// throwaway user folder the way n8n's community-package manager does, import credentials and
// workflows, execute them, or serve the editor. Every n8n process is stopped by its PID.

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { ensureN8n, cleanEnv } = require('./install');
const { spawnGroup, killGroup, run, tail, tailFile, freePort } = require('./proc');

const LOG_TAIL_LINES = 60;

function tempDir(prefix) {
	return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * `npm pack` of the built repository into a fresh temp dir (build first: dist/ must exist).
 * @returns {Promise<string>} the tarball's path
 */
async function packPackage(repoDir) {
	if (!fs.existsSync(path.join(repoDir, 'dist'))) {
		throw new Error(`${repoDir}/dist is missing: run \`npm run build\` before packing`);
	}
	const dest = tempDir('vipps-pack-');
	// Scripts stay off so packing never rebuilds; the build is the caller's step.
	const args = ['pack', '--json', '--ignore-scripts', `--pack-destination=${dest}`];
	const { code, stdout, stderr } = await run('npm', args, { cwd: repoDir, env: cleanEnv() });
	if (code !== 0) throw new Error(`npm pack failed (exit ${code}):\n${tail(stderr)}`);
	const [{ filename }] = JSON.parse(stdout);
	return path.join(dest, path.basename(filename));
}

/**
 * Installs a packed community package like n8n 2.41's CommunityPackagesService.downloadPackage:
 * untar into nodes/node_modules/<name>, drop dev/peer/optional dependencies (n8n provides
 * n8n-workflow), `npm install` with n8n's flags, and record it in nodes/package.json.
 */
async function installCommunityPackage(userFolder, tarball) {
	const nodesDir = path.join(userFolder, '.n8n', 'nodes');
	const unpacked = path.join(nodesDir, '.unpack');
	fs.mkdirSync(unpacked, { recursive: true });
	const untar = await run('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1']);
	if (untar.code !== 0) throw new Error(`tar -xzf ${tarball} failed:\n${tail(untar.stderr)}`);

	const manifestPath = path.join(unpacked, 'package.json');
	const { devDependencies, peerDependencies, optionalDependencies, ...manifest } = JSON.parse(
		fs.readFileSync(manifestPath, 'utf8'),
	);
	if (!/^(@[^/]+\/)?n8n-nodes-/.test(manifest.name ?? '')) {
		throw new Error(`n8n loads only packages named n8n-nodes-*; the tarball holds ${manifest.name}`);
	}
	fs.writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
	const packageDir = path.join(nodesDir, 'node_modules', manifest.name);
	fs.mkdirSync(path.dirname(packageDir), { recursive: true });
	fs.renameSync(unpacked, packageDir);

	const { nodeBin } = await ensureN8n();
	const logFile = path.join(userFolder, 'npm-install.log');
	const args = [
		'install',
		'--audit=false',
		'--fund=false',
		'--bin-links=false',
		'--install-strategy=shallow',
		'--ignore-scripts=true',
		'--package-lock=false',
	];
	const { code } = await run('npm', args, { cwd: packageDir, env: cleanEnv(path.dirname(nodeBin)), logFile });
	if (code !== 0) throw new Error(`npm install in ${packageDir} failed (exit ${code}):\n${tailFile(logFile)}`);

	// n8n's ledger of installed community packages.
	const ledger = { name: 'installed-nodes', private: true, dependencies: { [manifest.name]: manifest.version } };
	fs.writeFileSync(path.join(nodesDir, 'package.json'), JSON.stringify(ledger, null, 2));
	return packageDir;
}

/**
 * A fresh N8N_USER_FOLDER with its own encryption key; with `tarball`, that community
 * package installed into it (copied and installed, nothing linked to the repository).
 * @returns {Promise<{ userFolder: string, packageDir: string | null, remove(): void }>}
 */
async function createUserFolder({ tarball } = {}) {
	const userFolder = tempDir('vipps-n8n-');
	const n8nDir = path.join(userFolder, '.n8n');
	fs.mkdirSync(n8nDir);
	// n8n's own settings file; n8nEnv passes the same key, which n8n requires to match.
	const settings = { encryptionKey: crypto.randomBytes(24).toString('base64') };
	fs.writeFileSync(path.join(n8nDir, 'config'), JSON.stringify(settings, null, '\t'), { mode: 0o600 });
	const remove = () => fs.rmSync(userFolder, { recursive: true, force: true });
	try {
		const packageDir = tarball ? await installCommunityPackage(userFolder, tarball) : null;
		return { userFolder, packageDir, remove };
	} catch (error) {
		remove();
		throw error;
	}
}

// Settings inherited from a developer's shell (or jest) must not leak into n8n.
const INHERITED_N8N = /^(N8N_|DB_|EXECUTIONS_|QUEUE_|WEBHOOK_URL$|GENERIC_TIMEZONE$|NODE_ENV$|E2E_TESTS$)/;

/**
 * The environment for every n8n command on `userFolder`: hermetic, loopback-only, quiet,
 * nothing phoned home. Ports not given are picked free. `extra` wins over everything.
 * @returns {Promise<Record<string, string>>}
 */
async function n8nEnv({ userFolder, port, brokerPort, extra = {} }) {
	const { nodeBin } = await ensureN8n();
	const { encryptionKey } = JSON.parse(fs.readFileSync(path.join(userFolder, '.n8n', 'config'), 'utf8'));
	const env = cleanEnv(path.dirname(nodeBin));
	for (const key of Object.keys(env)) if (INHERITED_N8N.test(key)) delete env[key];
	port ??= await freePort();
	brokerPort ??= await freePort();
	return {
		...env,
		// NODE_ENV=test (set by jest) makes n8n refuse to load nodes; unset means development mode.
		NODE_ENV: 'production',
		TZ: 'UTC',
		GENERIC_TIMEZONE: 'UTC',
		N8N_USER_FOLDER: userFolder,
		N8N_ENCRYPTION_KEY: encryptionKey,
		N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'true',
		DB_TYPE: 'sqlite',
		N8N_PORT: String(port),
		N8N_LISTEN_ADDRESS: '127.0.0.1',
		N8N_HOST: 'localhost',
		N8N_PROTOCOL: 'http',
		N8N_EDITOR_BASE_URL: `http://localhost:${port}/`,
		N8N_WEBHOOK_URL: `http://localhost:${port}/`,
		N8N_SECURE_COOKIE: 'false',
		N8N_RUNNERS_BROKER_PORT: String(brokerPort),
		N8N_RUNNERS_BROKER_LISTEN_ADDRESS: '127.0.0.1',
		// Everything that would call n8n.io (telemetry, version checks, templates, banners,
		// the verified-package list, the MCP server registry) is off: no outbound network.
		N8N_DIAGNOSTICS_ENABLED: 'false',
		N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
		N8N_VERSION_NOTIFICATIONS_WHATS_NEW_ENABLED: 'false',
		N8N_TEMPLATES_ENABLED: 'false',
		N8N_DYNAMIC_BANNERS_ENABLED: 'false',
		N8N_HIRING_BANNER_ENABLED: 'false',
		N8N_PERSONALIZATION_ENABLED: 'false',
		N8N_VERIFIED_PACKAGES_ENABLED: 'false',
		N8N_DISABLED_MODULES: 'mcp-registry',
		N8N_COMMUNITY_PACKAGES_ENABLED: 'true',
		// Ours is unverified; 2.41 warns that this default will flip to false.
		N8N_UNVERIFIED_PACKAGES_ENABLED: 'true',
		N8N_REINSTALL_MISSING_PACKAGES: 'false',
		N8N_LOG_OUTPUT: 'console',
		N8N_LOG_FORMAT: 'json',
		// `execute` prints its run data through the logger at info level: warn would hide it.
		N8N_LOG_LEVEL: 'info',
		N8N_GRACEFUL_SHUTDOWN_TIMEOUT: '10',
		...extra,
	};
}

/** Runs one n8n CLI command to completion. */
async function n8nCommand(env, args, timeoutMs = 120_000) {
	const { nodeBin, n8nBin } = await ensureN8n();
	return run(nodeBin, [n8nBin, ...args], { cwd: env.N8N_USER_FOLDER, env, timeoutMs });
}

function writeImportFile(env, kind, data) {
	const dir = path.join(env.N8N_USER_FOLDER, 'imports');
	fs.mkdirSync(dir, { recursive: true });
	const file = path.join(dir, `${kind}-${crypto.randomUUID()}.json`);
	fs.writeFileSync(file, JSON.stringify(data, null, 2), { mode: 0o600 });
	return file;
}

async function importFile(env, kind, data) {
	const file = writeImportFile(env, kind, data);
	// Credentials are in plain text here: the file lives only as long as the import.
	const { code, stdout, stderr } = await n8nCommand(env, [`import:${kind}`, `--input=${file}`]).finally(() =>
		fs.rmSync(file, { force: true }),
	);
	if (code !== 0) {
		throw new Error(`n8n import:${kind} failed (exit ${code}):\n${tail(`${stdout}\n${stderr}`, LOG_TAIL_LINES)}`);
	}
}

/** n8n's ids: 16 alphanumerics. */
function newId() {
	const alphabet = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
	return Array.from(crypto.randomBytes(16), (byte) => alphabet[byte % alphabet.length]).join('');
}

/**
 * Imports credentials `[{ id?, name, type, data }]`; plain `data` is encrypted by n8n with
 * the folder's key. Ids are filled in when missing.
 * @returns {Promise<Array<object>>} the credentials as imported, ids included
 */
async function importCredentials(env, credentials) {
	const withIds = credentials.map((credential) => ({ id: newId(), ...credential }));
	await importFile(env, 'credentials', withIds);
	return withIds;
}

/**
 * `n8n export:credentials --all --decrypted`: every stored credential with its fields in plain
 * text, as n8n holds them now (a node that stores tokens in its credential shows here).
 * @returns {Promise<Array<{ id: string, name: string, type: string, data: object }>>}
 */
async function exportCredentials(env) {
	const file = path.join(env.N8N_USER_FOLDER, 'exports', `credentials-${crypto.randomUUID()}.json`);
	fs.mkdirSync(path.dirname(file), { recursive: true });
	try {
		const { code, stdout, stderr } = await n8nCommand(env, ['export:credentials', '--all', '--decrypted', `--output=${file}`]);
		if (code !== 0 || !fs.existsSync(file)) {
			throw new Error(`n8n export:credentials failed (exit ${code}):\n${tail(`${stdout}\n${stderr}`, LOG_TAIL_LINES)}`);
		}
		return JSON.parse(fs.readFileSync(file, 'utf8'));
	} finally {
		// Plain-text secrets: gone as soon as they are read.
		fs.rmSync(file, { force: true });
	}
}

/**
 * Imports one workflow (`{ id?, name, nodes, connections, ... }`).
 * @returns {Promise<string>} its id, generated when missing
 */
async function importWorkflow(env, workflowJson) {
	const workflow = { active: false, settings: {}, ...workflowJson, id: workflowJson.id ?? newId() };
	await importFile(env, 'workflow', workflow);
	return workflow.id;
}

/** stdout as JSON log records; non-JSON lines become `{ message: line }`. */
function logRecords(stdout) {
	return stdout
		.split('\n')
		.filter((line) => line.trim())
		.map((line) => {
			try {
				return JSON.parse(line);
			} catch {
				return { message: line };
			}
		});
}

/** The run data `execute --rawOutput` printed: with JSON logs, an info record's message. */
function printedResultData(records) {
	let resultData = null;
	for (const { message } of records) {
		if (typeof message !== 'string' || !message.startsWith('{')) continue;
		try {
			resultData = JSON.parse(message)?.data?.resultData ?? resultData;
		} catch {
			// Not the run data: some other message that happens to start with a brace.
		}
	}
	return resultData;
}

/** The newest stored execution of `workflowId` created at or after `since` (n8n's UTC format). */
async function readExecution(env, workflowId, since) {
	const { nodeBin, n8nDir } = await ensureN8n();
	const dbFile = env.DB_SQLITE_DATABASE ?? path.join(env.N8N_USER_FOLDER, '.n8n', 'database.sqlite');
	if (!fs.existsSync(dbFile)) return null;
	const script = path.join(__dirname, 'read-execution.js');
	const { code, stdout, stderr } = await run(nodeBin, [script, n8nDir, dbFile, workflowId, since]);
	if (code !== 0) throw new Error(`reading the execution from ${dbFile} failed:\n${tail(stderr)}`);
	return JSON.parse(stdout);
}

/**
 * `n8n execute --id=<id> --rawOutput`, judged by the run data it prints, not by the exit code
 * alone. When it prints none ("No active execution found": the run ended before the CLI
 * listened, e.g. a required parameter is missing), the run is read from n8n's database.
 * `error` is the run's error or, when nothing ran (e.g. "Unrecognized node type: …"),
 * `{ message }` of n8n's first error log.
 * @returns {Promise<{ ok: boolean, runData: object | null, lastNodeOutput: object[] | null,
 *   error: object | null, rawStdout: string, logTail: string }>}
 */
async function executeWorkflow(env, workflowId, { timeoutMs = 120_000 } = {}) {
	const since = new Date().toISOString().replace('T', ' ').slice(0, 23);
	const { code, signal, stdout, stderr } = await n8nCommand(env, ['execute', `--id=${workflowId}`, '--rawOutput'], timeoutMs);
	const records = logRecords(stdout);
	const resultData = printedResultData(records) ?? (await readExecution(env, workflowId, since))?.resultData ?? null;
	const lastNodeName = resultData?.lastNodeExecuted;
	const lastRun = lastNodeName ? resultData.runData[lastNodeName]?.at(-1) : undefined;
	const lastNodeOutput = lastRun?.data?.main?.[0]?.map((item) => item.json) ?? null;
	// execute.js logs two banner lines before the cause.
	const banner = /See log messages for details|^\s*Execution error:\s*$/;
	const firstError = records.find(({ level, message }) => level === 'error' && !banner.test(message));
	const error = resultData
		? (resultData.error ?? null)
		: { message: firstError?.message?.trim() ?? `n8n execute exited with ${code ?? signal}` };
	return {
		ok: code === 0 && signal === null && resultData !== null && error === null,
		runData: resultData?.runData ?? null,
		lastNodeOutput,
		error,
		rawStdout: stdout,
		logTail: tail(`${stdout}\n${stderr}`, LOG_TAIL_LINES),
	};
}

function httpStatus(url) {
	return new Promise((resolve) => {
		const request = http.get(url, { timeout: 1000 }, (response) => {
			response.resume();
			resolve(response.statusCode);
		});
		request.once('timeout', () => request.destroy());
		request.once('error', () => resolve(null));
	});
}

/**
 * `n8n start` (editor + REST API) on env's N8N_PORT; resolves once /healthz/readiness answers
 * 200 (plain /healthz answers as soon as the port listens, before migrations have run).
 * Output goes to <userFolder>/n8n-start.log. On failure the process group is killed and
 * the log tail is part of the error. n8n does not keep this process alive (a forgotten
 * stop() must not hang a test run; it is killed when this process exits): a long-lived
 * caller such as a dev editor awaits wait(), which resolves when n8n exits.
 * @returns {Promise<{ url: string, pid: number, stop(): Promise<void>, wait(): Promise<{ code, signal }>,
 *   logTail(lines?: number): string }>}
 */
async function startN8n(env, { timeoutMs = 90_000 } = {}) {
	const { nodeBin, n8nBin } = await ensureN8n();
	const logFile = path.join(env.N8N_USER_FOLDER, 'n8n-start.log');
	const fd = fs.openSync(logFile, 'a');
	let child;
	try {
		child = spawnGroup(nodeBin, [n8nBin, 'start'], { cwd: env.N8N_USER_FOLDER, env, stdio: ['ignore', fd, fd] });
	} finally {
		fs.closeSync(fd);
	}
	child.unref();
	const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
	const logTail = (lines = LOG_TAIL_LINES) => tailFile(logFile, lines);
	const url = `http://localhost:${env.N8N_PORT}`;

	const stop = async () => {
		child.ref(); // stay alive for n8n's graceful shutdown
		killGroup(child, 'SIGTERM');
		const stopped = await Promise.race([
			exited.then(() => true),
			new Promise((resolve) => setTimeout(resolve, 15_000, false).unref()),
		]);
		// Whatever ignored SIGTERM (or outlived the leader) goes now.
		killGroup(child, 'SIGKILL');
		if (!stopped) await exited;
	};

	let early = null;
	exited.then((status) => {
		early = status;
	});
	const deadline = Date.now() + timeoutMs;
	try {
		for (;;) {
			if (early) throw new Error(`n8n start exited early (${early.code ?? early.signal})`);
			if ((await httpStatus(`${url}/healthz/readiness`)) === 200) break;
			if (Date.now() > deadline) throw new Error(`n8n start: not ready after ${timeoutMs} ms`);
			await new Promise((resolve) => setTimeout(resolve, 250));
		}
	} catch (error) {
		await stop();
		error.message += `\n--- ${logFile} ---\n${logTail()}`;
		throw error;
	}
	const wait = () => {
		child.ref();
		return exited;
	};
	return { url, pid: child.pid, stop, wait, logTail };
}

const DEFAULT_OWNER = { email: 'owner@example.com', firstName: 'Test', lastName: 'Owner', password: 'Vipps-check-in-1' };

/**
 * Creates the instance owner through n8n's first-run REST call, so the editor opens logged
 * in (screenshots) and authenticated REST works (e.g. GET /types/nodes.json).
 * @returns {Promise<{ email: string, password: string, cookie: string }>} cookie: a Cookie header value
 */
async function setupOwner(url, owner = DEFAULT_OWNER) {
	const response = await fetch(`${url}/rest/owner/setup`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify(owner),
	});
	if (!response.ok) throw new Error(`owner setup failed: HTTP ${response.status} ${await response.text()}`);
	return { email: owner.email, password: owner.password, cookie: cookieOf(response) };
}

/** The session cookie n8n set in a login or owner-setup answer, ready for a `cookie` header. */
function cookieOf(response) {
	return response.headers
		.getSetCookie()
		.map((header) => header.split(';')[0])
		.join('; ');
}

/** A logged-in client for n8n's internal REST API (`/rest/...`; answers are unwrapped from `data`). */
function restClient(url, cookie) {
	async function call(method, route, body) {
		const response = await fetch(`${url}/rest${route}`, {
			method,
			headers: { cookie, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
			body: body === undefined ? undefined : JSON.stringify(body),
		});
		const text = await response.text();
		if (!response.ok) throw new Error(`${method} /rest${route}: HTTP ${response.status} ${text.slice(0, 500)}`);
		return text ? JSON.parse(text).data : undefined;
	}
	return {
		url,
		cookie,
		get: (route) => call('GET', route),
		post: (route, body) => call('POST', route, body),
		patch: (route, body) => call('PATCH', route, body),
	};
}

module.exports = {
	ensureN8n,
	packPackage,
	createUserFolder,
	n8nEnv,
	importCredentials,
	exportCredentials,
	importWorkflow,
	executeWorkflow,
	readExecution,
	startN8n,
	setupOwner,
	cookieOf,
	restClient,
	freePort,
};
