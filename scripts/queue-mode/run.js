#!/usr/bin/env node
'use strict';

// `npm run test:queue`: this package in n8n's queue mode (EXECUTIONS_MODE=queue), checked
// end to end. Exit code 0 only when every check passed.
//
//   Redis (Debian's redis-server, loopback, no persistence)
//   n8n main    receives the production webhook, enqueues each execution in Redis
//   n8n worker  x2, each its own process and task-runner broker port, runs the executions
//   simulator   in this process, counts token requests and check-ins
//
// A published workflow "Webhook → Vipps Check-in" gets N concurrent POSTs (default 40), each
// with its own phone number. Checks: every POST answered with a check-in id; the simulator
// saw N check-ins, N distinct phone numbers, each once; all N executions finished with status
// success; both workers ran executions (their logs); and the simulator issued exactly one
// access token per worker that ran jobs (the node's token cache is per process: one token
// request per process per token lifetime, nothing in n8n's database). The main process runs
// no execution in queue mode, so it fetches no token.
//
// n8n 2.41 accepts SQLite in queue mode with a warning ("not officially supported"); all
// processes then share one database file through the shared user folder, as n8n's own
// docker-compose examples share one volume. `--db postgres` runs a throwaway PostgreSQL
// cluster (Debian's postgresql; as root through `runuser -u postgres`) instead.
//
// Options: --requests N (40), --workers N (2), --concurrency N (per worker, 5),
//          --db sqlite|postgres (sqlite), --keep (leave the temp folders for inspection).

const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { parseArgs } = require('node:util');
const kit = require('../real-n8n/n8n');
const { spawnGroup, killGroup, run, tail, tailFile } = require('../real-n8n/proc');

const REPO = path.resolve(__dirname, '..', '..');
const PACKAGE_NAME = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).name;
const REDIS_SERVER = '/usr/bin/redis-server';
const WEBHOOK_PATH = 'queue-mode-check-in';
const CREDENTIAL_NAME = 'Vipps simulator';

const { values: flags } = parseArgs({
	options: {
		requests: { type: 'string', default: '40' },
		workers: { type: 'string', default: '2' },
		concurrency: { type: 'string', default: '5' },
		db: { type: 'string', default: 'sqlite' },
		keep: { type: 'boolean', default: false },
	},
});
const REQUESTS = Number(flags.requests);
const WORKERS = Number(flags.workers);
const CONCURRENCY = Number(flags.concurrency);
if (!['sqlite', 'postgres'].includes(flags.db)) throw new Error(`--db is sqlite or postgres, got ${flags.db}`);

const timings = {};
const started = Date.now();

function say(message) {
	process.stdout.write(`[queue] ${message}\n`);
}

function seconds(since) {
	return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

async function timed(label, fn) {
	const t = Date.now();
	try {
		return await fn();
	} finally {
		timings[label] = seconds(t);
	}
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------- Redis

async function redisPing(port) {
	return new Promise((resolve) => {
		const socket = net.connect(port, '127.0.0.1');
		socket.setTimeout(1000);
		socket.once('connect', () => socket.write('PING\r\n'));
		socket.once('data', (data) => {
			socket.destroy();
			resolve(data.toString().startsWith('+PONG'));
		});
		socket.once('error', () => resolve(false));
		socket.once('timeout', () => {
			socket.destroy();
			resolve(false);
		});
	});
}

/** redis-server on a free loopback port: no RDB snapshots, no AOF, nothing on disk. */
async function startRedis(dir) {
	if (!fs.existsSync(REDIS_SERVER)) {
		throw new Error(`${REDIS_SERVER} is missing. Install Debian's Redis first (as root):\n\n  apt-get install -y redis-server\n`);
	}
	const port = await kit.freePort();
	const logFile = path.join(dir, 'redis.log');
	const fd = fs.openSync(logFile, 'a');
	const args = [
		'--port', String(port),
		'--bind', '127.0.0.1',
		'--protected-mode', 'yes',
		'--save', '',
		'--appendonly', 'no',
		'--dir', dir,
		'--daemonize', 'no',
		'--databases', '1',
	];
	const child = spawnGroup(REDIS_SERVER, args, { cwd: dir, env: process.env, stdio: ['ignore', fd, fd] });
	fs.closeSync(fd);
	const deadline = Date.now() + 15_000;
	while (!(await redisPing(port))) {
		if (child.exitCode !== null || Date.now() > deadline) {
			killGroup(child, 'SIGKILL');
			throw new Error(`redis-server did not start:\n${tailFile(logFile)}`);
		}
		await sleep(100);
	}
	return {
		port,
		pid: child.pid,
		stop: async () => {
			killGroup(child, 'SIGTERM');
			await waitExit(child, 5000);
		},
	};
}

function waitExit(child, ms) {
	if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
	return Promise.race([
		new Promise((resolve) => child.once('exit', () => resolve(true))),
		sleep(ms).then(() => {
			killGroup(child, 'SIGKILL');
			return false;
		}),
	]);
}

// ------------------------------------------------------------------------------ PostgreSQL

function postgresBinDir() {
	const root = '/usr/lib/postgresql';
	const versions = fs.existsSync(root)
		? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')))
		: [];
	if (!versions.length) {
		throw new Error("PostgreSQL is missing. Install Debian's PostgreSQL first (as root):\n\n  apt-get install -y postgresql\n");
	}
	versions.sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
	return path.join(root, versions[0], 'bin');
}

/** A throwaway cluster in `dir`: trust auth on 127.0.0.1 only, no fsync; as postgres when root. */
async function startPostgres(dir) {
	const bin = postgresBinDir();
	const asRoot = process.getuid() === 0;
	const wrap = (cmd, args) => (asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
	const pgDir = path.join(dir, 'postgres');
	fs.mkdirSync(pgDir, { mode: 0o700 });
	if (asRoot) {
		const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
		const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
		fs.chownSync(pgDir, uid, gid);
		fs.chmodSync(dir, 0o755); // postgres must reach pgDir through the temp dir
	}
	const data = path.join(pgDir, 'data');
	const init = await run(
		...wrap(path.join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']),
		{ cwd: pgDir },
	);
	if (init.code !== 0) throw new Error(`initdb failed:\n${tail(`${init.stdout}\n${init.stderr}`)}`);
	const port = await kit.freePort();
	const logFile = path.join(dir, 'postgres.log');
	const fd = fs.openSync(logFile, 'a');
	const [cmd, args] = wrap(path.join(bin, 'postgres'), [
		'-D', data,
		'-p', String(port),
		'-k', pgDir,
		'-c', 'listen_addresses=127.0.0.1',
		'-c', 'fsync=off',
		'-c', 'synchronous_commit=off',
		'-c', 'full_page_writes=off',
		'-c', 'max_connections=100',
	]);
	const child = spawnGroup(cmd, args, { cwd: pgDir, env: process.env, stdio: ['ignore', fd, fd] });
	fs.closeSync(fd);
	const deadline = Date.now() + 30_000;
	for (;;) {
		const ready = await run(path.join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port)]);
		if (ready.code === 0) break;
		if (child.exitCode !== null || Date.now() > deadline) {
			killGroup(child, 'SIGKILL');
			throw new Error(`postgres did not start:\n${tailFile(logFile)}`);
		}
		await sleep(200);
	}
	const created = await run(path.join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'n8n']);
	if (created.code !== 0) throw new Error(`createdb failed:\n${created.stderr}`);
	return {
		pid: child.pid,
		env: {
			DB_TYPE: 'postgresdb',
			DB_POSTGRESDB_HOST: '127.0.0.1',
			DB_POSTGRESDB_PORT: String(port),
			DB_POSTGRESDB_DATABASE: 'n8n',
			DB_POSTGRESDB_USER: 'postgres',
			DB_POSTGRESDB_PASSWORD: '',
		},
		stop: async () => {
			killGroup(child, 'SIGINT'); // fast shutdown
			await waitExit(child, 10_000);
		},
	};
}

// ------------------------------------------------------------------------------------ n8n

async function httpStatus(url) {
	try {
		const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
		return response.status;
	} catch {
		return null;
	}
}

/** `n8n worker`; ready when its health server answers /healthz/readiness with 200. */
async function startWorker(env, index) {
	const { nodeBin, n8nBin } = await kit.ensureN8n();
	const logFile = path.join(env.N8N_USER_FOLDER, `worker-${index}.log`);
	const fd = fs.openSync(logFile, 'a');
	const child = spawnGroup(nodeBin, [n8nBin, 'worker', `--concurrency=${CONCURRENCY}`], {
		cwd: env.N8N_USER_FOLDER,
		env,
		stdio: ['ignore', fd, fd],
	});
	fs.closeSync(fd);
	const url = `http://127.0.0.1:${env.QUEUE_HEALTH_CHECK_PORT}/healthz/readiness`;
	const deadline = Date.now() + 180_000;
	while ((await httpStatus(url)) !== 200) {
		if (child.exitCode !== null || Date.now() > deadline) {
			killGroup(child, 'SIGKILL');
			throw new Error(`worker ${index} did not get ready:\n${tailFile(logFile)}`);
		}
		await sleep(300);
	}
	return {
		index,
		pid: child.pid,
		logFile,
		stop: async () => {
			killGroup(child, 'SIGTERM');
			await waitExit(child, 20_000);
		},
	};
}

function webhookWorkflow(credential) {
	return {
		name: 'Queue mode: webhook → Vipps Check-in',
		nodes: [
			{
				id: crypto.randomUUID(),
				name: 'Webhook',
				type: 'n8n-nodes-base.webhook',
				typeVersion: 2.1,
				position: [0, 0],
				webhookId: crypto.randomUUID(),
				parameters: { httpMethod: 'POST', path: WEBHOOK_PATH, responseMode: 'lastNode', options: {} },
			},
			{
				id: crypto.randomUUID(),
				name: 'Vipps Check-in',
				type: `${PACKAGE_NAME}.vippsCheckIn`,
				typeVersion: 1,
				position: [240, 0],
				parameters: {
					resource: 'checkIn',
					operation: 'send',
					phoneNumber: '={{ $json.body.phone }}',
					isMember: true,
					options: {},
				},
				credentials: { vippsMobilePayApi: credential },
			},
		],
		connections: { Webhook: { main: [[{ node: 'Vipps Check-in', type: 'main', index: 0 }]] } },
		settings: { executionOrder: 'v1' },
		active: false,
	};
}

/** "Worker finished execution <id>" records of one worker's JSON log. */
function finishedExecutions(logFile) {
	const ids = [];
	for (const line of fs.readFileSync(logFile, 'utf8').split('\n')) {
		if (!line.includes('Worker finished execution')) continue;
		try {
			ids.push(String(JSON.parse(line).metadata?.executionId ?? JSON.parse(line).executionId));
		} catch {
			const match = /Worker finished execution (\S+)/.exec(line);
			if (match) ids.push(match[1]);
		}
	}
	return ids;
}

/** Norwegian mobile numbers 41 00 00 00, 41 00 00 01, … as a customer would type them. */
function phoneNumbers(count) {
	return Array.from({ length: count }, (_, i) => {
		const digits = String(41_000_000 + i);
		return `+47 ${digits.slice(0, 3)} ${digits.slice(3, 5)} ${digits.slice(5)}`;
	});
}

// ----------------------------------------------------------------------------------- main

async function main() {
	assert.ok(Number.isInteger(REQUESTS) && REQUESTS > 0, '--requests must be a positive integer');
	assert.ok(Number.isInteger(WORKERS) && WORKERS >= 1, '--workers must be a positive integer');
	if (!fs.existsSync(path.join(REPO, 'dist', 'simulator', 'VippsSimulator.js'))) {
		throw new Error('dist/ is missing: run `npm run test:queue` (it builds first) or `npm run build`');
	}
	const { VippsSimulator } = require(path.join(REPO, 'dist', 'simulator', 'VippsSimulator.js'));
	const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vipps-queue-'));
	const cleanups = [];
	let failed = true;
	try {
		await timed('ensureN8n', () => kit.ensureN8n());
		const simulator = await VippsSimulator.start({ latencyMs: 20 });
		cleanups.push(() => simulator.close());

		const redis = await timed('redis start', () => startRedis(workDir));
		cleanups.push(() => redis.stop());
		say(`redis-server pid ${redis.pid} on 127.0.0.1:${redis.port} (no persistence)`);

		let dbEnv = {};
		if (flags.db === 'postgres') {
			const postgres = await timed('postgres start', () => startPostgres(workDir));
			cleanups.push(() => postgres.stop());
			dbEnv = postgres.env;
			say(`postgres pid ${postgres.pid} on 127.0.0.1:${dbEnv.DB_POSTGRESDB_PORT} (throwaway cluster)`);
		}

		const tarball = await timed('npm pack', () => kit.packPackage(REPO));
		cleanups.push(() => fs.rmSync(path.dirname(tarball), { recursive: true, force: true }));
		const { userFolder, remove } = await timed('community install', () => kit.createUserFolder({ tarball }));
		if (!flags.keep) cleanups.push(remove);
		say(`user folder ${userFolder} (${PACKAGE_NAME} installed as a community package, shared by all processes)`);

		const queueEnv = {
			...dbEnv,
			EXECUTIONS_MODE: 'queue',
			QUEUE_BULL_REDIS_HOST: '127.0.0.1',
			QUEUE_BULL_REDIS_PORT: String(redis.port),
			N8N_LOG_LEVEL: 'info',
			N8N_LOG_FORMAT: 'json',
		};
		const mainEnv = await kit.n8nEnv({ userFolder, extra: queueEnv });
		const server = await timed('main start', () => kit.startN8n(mainEnv, { timeoutMs: 180_000 }));
		cleanups.push(() => server.stop());
		say(`n8n main pid ${server.pid} on ${server.url}`);

		const workers = await timed('workers start', () =>
			Promise.all(
				Array.from({ length: WORKERS }, async (_, i) => {
					const env = await kit.n8nEnv({
						userFolder,
						extra: {
							...queueEnv,
							QUEUE_HEALTH_CHECK_ACTIVE: 'true',
							QUEUE_HEALTH_CHECK_PORT: String(await kit.freePort()),
							N8N_WORKER_SERVER_ADDRESS: '127.0.0.1',
						},
					});
					const worker = await startWorker(env, i + 1);
					cleanups.push(() => worker.stop());
					say(`n8n worker ${worker.index} pid ${worker.pid} (broker port ${env.N8N_RUNNERS_BROKER_PORT}, health port ${env.QUEUE_HEALTH_CHECK_PORT}, concurrency ${CONCURRENCY})`);
					return worker;
				}),
			),
		);

		const { cookie } = await kit.setupOwner(server.url);
		const rest = kit.restClient(server.url, cookie);
		const credential = await rest.post('/credentials', {
			name: CREDENTIAL_NAME,
			type: 'vippsMobilePayApi',
			data: simulator.credentialData(),
		});
		const workflow = await rest.post('/workflows', webhookWorkflow({ id: credential.id, name: CREDENTIAL_NAME }));
		await rest.post(`/workflows/${workflow.id}/activate`, { versionId: workflow.versionId });
		// Publishing returns before the production webhook is registered (2.41 publishes
		// through an outbox). A GET probe runs nothing: once the POST webhook exists, n8n
		// answers "not registered for GET. Did you mean to make a POST request?".
		await timed('webhook registration', async () => {
			const deadline = Date.now() + 60_000;
			for (;;) {
				const probe = await fetch(`${server.url}/webhook/${WEBHOOK_PATH}`);
				const text = await probe.text();
				if (probe.status !== 404 || /POST request/.test(text)) return;
				if (Date.now() > deadline) throw new Error(`the production webhook never got registered: ${text}`);
				await sleep(250);
			}
		});
		say(`workflow ${workflow.id} published: POST ${server.url}/webhook/${WEBHOOK_PATH} (registered after ${timings['webhook registration']})`);
		simulator.resetLog();

		// N concurrent production webhook calls.
		const phones = phoneNumbers(REQUESTS);
		const sendStarted = Date.now();
		const answers = await Promise.all(
			phones.map(async (phone) => {
				const response = await fetch(`${server.url}/webhook/${WEBHOOK_PATH}`, {
					method: 'POST',
					headers: { 'content-type': 'application/json' },
					body: JSON.stringify({ phone }),
					signal: AbortSignal.timeout(180_000),
				});
				const text = await response.text();
				let body;
				try {
					body = JSON.parse(text);
				} catch {
					body = text;
				}
				return { phone, status: response.status, body };
			}),
		);
		timings[`${REQUESTS} webhook calls`] = seconds(sendStarted);

		// Every execution finished (bounded wait: the answers come when the last node is done,
		// the execution's final status is saved right after).
		const deadline = Date.now() + 60_000;
		let executions;
		for (;;) {
			const page = await rest.get(`/executions?filter=${encodeURIComponent(JSON.stringify({ workflowId: workflow.id }))}&limit=${REQUESTS + 50}`);
			executions = page.results ?? page;
			const done = executions.filter((execution) => !['new', 'running', 'waiting'].includes(execution.status));
			if (done.length >= REQUESTS || Date.now() > deadline) break;
			await sleep(500);
		}

		// ------------------------------------------------------------------- checks
		const checks = [];
		const check = (label, ok, detail) => {
			checks.push({ label, ok, detail });
			say(`${ok ? 'ok  ' : 'FAIL'} ${label}${detail ? `: ${detail}` : ''}`);
		};

		const answered = answers.filter(({ status, body }) => status === 200 && typeof body?.checkInId === 'string');
		check(
			`every webhook call answered 200 with a checkInId`,
			answered.length === REQUESTS,
			`${answered.length}/${REQUESTS}${answered.length === REQUESTS ? '' : `; e.g. ${JSON.stringify(answers.find((a) => !answered.includes(a))).slice(0, 300)}`}`,
		);

		const checkIns = simulator.checkInRequests();
		const sent = checkIns.map((request) => request.body?.phoneNumber);
		const counts = new Map();
		for (const phone of sent) counts.set(phone, (counts.get(phone) ?? 0) + 1);
		const expected = new Set(phones.map((phone) => `47${phone.replace(/\D/g, '').slice(-8)}`));
		const twice = [...counts].filter(([, n]) => n > 1);
		const missing = [...expected].filter((phone) => !counts.has(phone));
		check(
			'every phone number checked in exactly once',
			checkIns.length === REQUESTS && counts.size === REQUESTS && !twice.length && !missing.length,
			`${checkIns.length} check-ins, ${counts.size} distinct numbers` +
				(twice.length ? `; more than once: ${twice.map(([p, n]) => `${p}×${n}`).join(', ')}` : '') +
				(missing.length ? `; never: ${missing.join(', ')}` : ''),
		);
		check('every check-in answered 200 by the simulator', checkIns.every((r) => r.status === 200), '');

		const statuses = {};
		for (const execution of executions) statuses[execution.status] = (statuses[execution.status] ?? 0) + 1;
		check(
			`${REQUESTS} executions, all success`,
			executions.length === REQUESTS && statuses.success === REQUESTS,
			JSON.stringify(statuses),
		);

		const perWorker = workers.map((worker) => ({ worker, ids: finishedExecutions(worker.logFile) }));
		const ranJobs = perWorker.filter(({ ids }) => ids.length > 0);
		const allIds = perWorker.flatMap(({ ids }) => ids);
		check(
			`all ${WORKERS} workers ran executions`,
			ranJobs.length === WORKERS,
			perWorker.map(({ worker, ids }) => `worker ${worker.index}: ${ids.length}`).join(', '),
		);
		check(
			'each execution ran on exactly one worker',
			allIds.length === REQUESTS && new Set(allIds).size === REQUESTS,
			`${allIds.length} finished-execution records, ${new Set(allIds).size} distinct`,
		);
		const mainLog = fs.readFileSync(path.join(userFolder, 'n8n-start.log'), 'utf8');
		const enqueued = mainLog.split('\n').filter((line) => line.includes('Enqueued execution')).length;
		const mainRan = mainLog.split('\n').filter((line) => /Worker (started|finished) execution/.test(line)).length;
		check(
			'main enqueued every execution and ran none itself',
			enqueued === REQUESTS && mainRan === 0,
			`${enqueued} enqueued, ${mainRan} run by main`,
		);

		const tokens = simulator.tokenRequests();
		check(
			'one access token per worker that ran jobs',
			tokens.length === ranJobs.length && tokens.length <= WORKERS,
			`${tokens.length} token request(s) for ${ranJobs.length} worker(s) with jobs, ${simulator.issuedTokens().length} token(s) issued`,
		);

		const failedChecks = checks.filter(({ ok }) => !ok);
		say('');
		say(`report: db=${flags.db}, ${WORKERS} workers × concurrency ${CONCURRENCY}, ${REQUESTS} concurrent webhook calls`);
		say(`  executions per worker: ${perWorker.map(({ worker, ids }) => `#${worker.index}=${ids.length}`).join(' ')}`);
		say(`  simulator: ${tokens.length} token request(s), ${checkIns.length} check-ins, ${counts.size} distinct numbers`);
		say(`  timings: ${Object.entries(timings).map(([k, v]) => `${k} ${v}`).join(', ')}`);
		say(`  ${checks.length - failedChecks.length}/${checks.length} checks passed`);
		if (failedChecks.length) {
			say(`--- main log (tail) ---\n${tailFile(path.join(userFolder, 'n8n-start.log'), 20)}`);
			for (const worker of workers) say(`--- worker ${worker.index} log (tail) ---\n${tailFile(worker.logFile, 20)}`);
		} else {
			failed = false;
		}
		if (flags.keep) say(`kept: ${workDir} and ${userFolder}`);
	} finally {
		// Stop in reverse order of start: workers, main, database, Redis, simulator.
		for (const cleanup of cleanups.reverse()) {
			try {
				await cleanup();
			} catch (error) {
				say(`cleanup: ${error.message}`);
			}
		}
		if (!flags.keep) fs.rmSync(workDir, { recursive: true, force: true });
	}
	say(`${failed ? 'FAILED' : 'passed'} in ${seconds(started)}`);
	process.exitCode = failed ? 1 : 0;
}

main().catch((error) => {
	console.error(`[queue] ${error.stack ?? error}`);
	process.exitCode = 1;
});
