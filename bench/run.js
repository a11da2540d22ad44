#!/usr/bin/env node
'use strict';

// Issue 15's benchmark, in one run of real n8n (headless `n8n execute`, the product users run)
// against the local Vipps simulator on loopback with 50 ms of added latency, over plain HTTP
// and over HTTPS (the simulator's self-signed certificate, trusted by n8n through
// NODE_EXTRA_CA_CERTS). Everything is compared within the run, as ratios: the machine may be
// shared, and other load moves absolute times.
//
//   npm run bench               (= npm run build && node bench/run.js; about 35 minutes): the batch
//                               scenarios below, then the storm (bench/storm.js)
//   node bench/run.js --quick   for development: fewer, smaller batch scenarios, no repeats, no storm
//   node bench/run.js --storm   the storm only (issue 19): 150 webhook calls of one contact each at
//                               15/s behind 5 req/s, fixed and sliding windows, HTTP and HTTPS, this
//                               node beside the DIY flow and the unthrottled storm, plus the second
//                               batch (2 × 500 items behind 50 req/s in one n8n process, 2 s apart); results in
//                               bench/results/storm.json and storm.md
//   node bench/run.js --storm --storm-calls=30 --storm-rate=10 --storm-limit=5 --protocols=http
//                               a small storm for development (add --only=storm-open,storm-fixed to
//                               narrow it; --storm --quick = 30 calls at 10/s, batches of 100)
//   node bench/run.js --help    the other options
//
// The storm (see bench/storm.js for what it measures): `n8n start` with a published Webhook →
// Vipps Check-in workflow, production webhook URL, a fresh n8n process per run. Scenario ids
// storm-open, storm-fixed, storm-sliding, second-batch-fixed, second-batch-sliding; flows ours
// and diy (Webhook → HTTP Request for the token → HTTP Request for the check-in, Retry On Fail).
//
// Flows (each its own workflow; items generated inside n8n by a Set expression + Split Out):
//   ours      Vipps Check-in with default options
//   floor     the floor: a bare community node (bench/floor) that only calls
//             this.helpers.httpRequest once per item at the same concurrency: n8n's own cost
//   diyA      HTTP Request "Get token" (Execute Once) + HTTP Request per check-in, response as text
//   diyB      diyA with the HTTP Request node's batching tuned to the 100 req/s gateway limit
//   dryRun    this node with Dry Run on: n8n reading and checking every item, nothing sent
//   aimd      (--pacers) this node with plain AIMD instead of its pacer: halve at a 429, +10
//             requests per second each second; installed into a second n8n user folder
//   ours@C, floor@C   (--sweep) the same at Concurrency C
//
// Measured per run: the send node's own execution time from n8n's run data (executionTime),
// what the simulator saw (distinct phone numbers answered 200, token requests, 429s), error
// items and workflow errors from n8n's output, and the n8n process's peak RSS (VmHWM, polled
// from /proc). Every process is started and stopped by the real-n8n kit by its PID.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const REPO = path.resolve(__dirname, '..');
const kit = require(path.join(REPO, 'scripts', 'real-n8n', 'n8n.js'));
const { run } = require(path.join(REPO, 'scripts', 'real-n8n', 'proc.js'));
const { N8N_VERSION, NODE_VERSION, cleanEnv } = require(path.join(REPO, 'scripts', 'real-n8n', 'install.js'));
const diy = require('./diyRequests');
const storm = require('./storm');

const LATENCY_MS = 50;
const GATEWAY_RPS = 100;
const PROTOCOLS = ['http', 'https'];
const CREDENTIAL_TYPE = 'vippsMobilePayApi';
const FLOOR_DIR = path.join(__dirname, 'floor');
const FLOOR_PACKAGE = JSON.parse(fs.readFileSync(path.join(FLOOR_DIR, 'package.json'), 'utf8')).name;
/** DIY B's batching: what a careful user sets for a 100 req/s limit (100 per 1.1 s: about 9 % below it). */
const DIY_B_BATCH = { batchSize: 100, batchInterval: 1100 };
/** Plain AIMD's additive step, requests per second gained each second without a 429 (--pacers). */
const AIMD_STEP = 10;
const RSS_POLL_MS = 25;
/** The targets, as ratios (issue 15, "Done when"). */
const TARGET = { toDiyA: 1.0, toFloor: 1.15, toIdeal: 1.3 };

/** The gateways in front of the simulator: Azure API Management's rate limit, 100 requests per second. */
const GATEWAYS = {
	'fixed-instant': { window: 'fixed', throttle: 'instant', label: 'fixed windows, 429 at once' },
	'sliding-instant': { window: 'sliding', throttle: 'instant', label: 'sliding window, 429 at once' },
	'fixed-after-latency': { window: 'fixed', throttle: 'after-latency', label: 'fixed windows, 429 after the latency' },
};

// ---------------------------------------------------------------------------------------------
// Command line

const USAGE = `Usage: node bench/run.js [options]
  --quick            for development: 1,000 items open and 300 behind each gateway, once each
  --repeat=N         runs of each timed flow the targets are judged on (default 3; the median counts)
  --sweep=C,C,…      also this node and the floor at each Concurrency C (open, 1,000 items) and this
                     node at each C behind the fixed-window gateway: how the default was chosen
  --pacers           also plain AIMD (halve at a 429, +${AIMD_STEP} req/s each second) behind every gateway,
                     interleaved with this node's pacer: how the pacer was chosen
  --only=…           scenario ids: open-1000, open-10000, gateway-<kind>-1000 (kinds: ${Object.keys(GATEWAYS).join(', ')});
                     with --quick: open-1000, gateway-<kind>-300; the storm's: ${storm.STORM_IDS.join(', ')}
  --flows=…          flows: ours, floor, diyA, diyB, dryRun, aimd, ours@C, floor@C; in the storm: ${storm.STORM_FLOWS.join(', ')}
  --storm            the storm only (issue 19), written to bench/results/storm.json unless --out says otherwise;
                     with --quick: ${storm.STORM_QUICK.calls} calls at ${storm.STORM_QUICK.rate}/s behind ${storm.STORM_QUICK.limit} req/s, batches of ${storm.STORM_QUICK.batchItems}
  --no-storm         a full run without the storm
  --storm-calls=N    webhook calls per storm run (default ${storm.STORM_DEFAULTS.calls})
  --storm-rate=R     calls per second they arrive at (default ${storm.STORM_DEFAULTS.rate}; no faster than n8n keeps up: see storm-open)
  --storm-limit=L    the gateway's requests per second in the storm (default ${storm.STORM_DEFAULTS.limit})
  --batch2-items=N   items in each of the second-batch scenario's two batches (default ${storm.STORM_DEFAULTS.batchItems})
  --batch2-limit=L   the gateway's requests per second behind the two batches (default ${storm.STORM_DEFAULTS.batchLimit})
  --batch2-pause=MS  the pause between the first batch's answer and the second batch (default ${storm.STORM_DEFAULTS.batchPauseMs})
  --protocols=…      http, https or both (default both)
  --keep             keep the n8n user folders (workflows, credentials, database) and print their paths
  --package=<dir>    bench another build of the package (a directory with dist/ and package.json)
  --out=<file>       the JSON results (default bench/results/latest.json; the Markdown goes beside it)
  --cpu-prof=<dir>   write a V8 CPU profile of every n8n process into this folder (slows n8n down)
A full run (no --quick, --only, --flows, --storm, --no-storm or --package) also writes its tables, the storm's
included, into BENCHMARKS.md.`;

function parseArgs(argv) {
	const args = {
		quick: false,
		keep: false,
		pacers: false,
		sweep: [],
		only: null,
		flows: null,
		protocols: PROTOCOLS,
		repeat: 3,
		packageDir: REPO,
		out: path.join(__dirname, 'results', 'latest.json'),
		cpuProfDir: null,
		storm: false,
		noStorm: false,
		stormSettings: {},
		outGiven: false,
	};
	const number = (arg, key, whole, zero = false) => {
		const value = Number(arg.slice(arg.indexOf('=') + 1));
		if (!(value > 0 || (zero && value === 0)) || (whole && !Number.isInteger(value))) {
			throw new Error(`${arg}: a ${whole ? 'whole ' : ''}number ${zero ? 'of 0 or more' : 'above 0'}\n${USAGE}`);
		}
		args.stormSettings[key] = value;
	};
	const list = (arg) => arg.slice(arg.indexOf('=') + 1).split(',').filter(Boolean);
	for (const arg of argv) {
		if (arg === '--quick') args.quick = true;
		else if (arg === '--keep') args.keep = true;
		else if (arg === '--pacers') args.pacers = true;
		else if (arg.startsWith('--sweep=')) args.sweep = list(arg).map(Number);
		else if (arg.startsWith('--only=')) args.only = new Set(list(arg));
		else if (arg.startsWith('--flows=')) args.flows = new Set(list(arg));
		else if (arg.startsWith('--protocols=')) args.protocols = list(arg);
		else if (arg.startsWith('--repeat=')) args.repeat = Math.max(1, Number(list(arg)[0]) || 1);
		else if (arg.startsWith('--package=')) args.packageDir = path.resolve(arg.slice(10));
		else if (arg.startsWith('--out=')) {
			args.out = path.resolve(arg.slice(6));
			args.outGiven = true;
		} else if (arg === '--storm') args.storm = true;
		else if (arg === '--no-storm') args.noStorm = true;
		else if (arg.startsWith('--storm-calls=')) number(arg, 'calls', true);
		else if (arg.startsWith('--storm-rate=')) number(arg, 'rate', false);
		else if (arg.startsWith('--storm-limit=')) number(arg, 'limit', true);
		else if (arg.startsWith('--batch2-items=')) number(arg, 'batchItems', true);
		else if (arg.startsWith('--batch2-limit=')) number(arg, 'batchLimit', true);
		else if (arg.startsWith('--batch2-pause=')) number(arg, 'batchPauseMs', true, true);
		else if (arg.startsWith('--cpu-prof=')) args.cpuProfDir = path.resolve(arg.slice(11));
		else if (arg === '--help' || arg === '-h') {
			console.log(USAGE);
			process.exit(0);
		} else throw new Error(`unknown argument ${arg}\n${USAGE}`);
	}
	if (args.protocols.some((protocol) => !PROTOCOLS.includes(protocol)) || !args.protocols.length) {
		throw new Error(`--protocols takes ${PROTOCOLS.join(', ')}\n${USAGE}`);
	}
	if (args.sweep.some((concurrency) => !Number.isInteger(concurrency) || concurrency < 1)) throw new Error(`--sweep takes whole numbers\n${USAGE}`);
	args.fullRun = !args.quick && !args.only && !args.flows && !args.storm && !args.noStorm && args.packageDir === REPO;
	if (args.storm && !args.outGiven) args.out = path.join(__dirname, 'results', 'storm.json');
	args.stormSettings = { ...(args.quick ? storm.STORM_QUICK : storm.STORM_DEFAULTS), ...args.stormSettings, keep: args.keep };
	return args;
}

/** `ours@64` → { base: 'ours', concurrency: 64 }; `ours` → { base: 'ours', concurrency: undefined }. */
function flowParts(flow) {
	const [base, concurrency] = flow.split('@');
	return { base, concurrency: concurrency === undefined ? undefined : Number(concurrency) };
}

/** Flows that send nothing: run once, with the first protocol. */
const SENDLESS = new Set(['dryRun']);
const isSendFlow = (flow) => !SENDLESS.has(flowParts(flow).base);

/**
 * `repeat` names the flows run several times (interleaved with the others, median reported):
 * the figures the targets are judged on.
 */
function scenarios({ quick, repeat, sweep, pacers }) {
	const swept = (bases) => sweep.flatMap((concurrency) => bases.map((base) => `${base}@${concurrency}`));
	const times = (flows, n) => Object.fromEntries(flows.map((flow) => [flow, n]));
	const gateway = (kind, items, n, extra = []) => {
		const flows = ['ours', ...(pacers ? ['aimd'] : []), ...extra];
		return {
			id: `gateway-${kind}-${items}`,
			items,
			gateway: { requestsPerSecond: GATEWAY_RPS, window: GATEWAYS[kind].window, throttle: GATEWAYS[kind].throttle },
			flows,
			repeat: times(['ours', 'aimd', ...extra.filter((flow) => flow.includes('@'))], n),
		};
	};
	if (quick) {
		return [
			{ id: 'open-1000', items: 1000, gateway: null, flows: ['ours', 'floor', 'diyA', ...swept(['ours', 'floor'])], repeat: {} },
			...Object.keys(GATEWAYS).map((kind) => gateway(kind, 300, 1, kind === 'fixed-instant' ? swept(['ours']) : [])),
		];
	}
	const openFlows = ['ours', 'floor', 'diyA', ...swept(['ours', 'floor'])];
	return [
		{ id: 'open-1000', items: 1000, gateway: null, flows: [...openFlows, 'dryRun'], repeat: times(openFlows, repeat) },
		{ id: 'open-10000', items: 10000, gateway: null, flows: ['ours', 'floor', 'diyA'], repeat: {} },
		gateway('fixed-instant', 1000, repeat, ['diyA', 'diyB', ...swept(['ours'])]),
		gateway('sliding-instant', 1000, repeat),
		gateway('fixed-after-latency', 1000, repeat),
	];
}

// ---------------------------------------------------------------------------------------------
// Workflows

const TRIGGER = 'Start';
let nodeSeq = 0;
function node(name, type, typeVersion, parameters, extra = {}) {
	nodeSeq++;
	return {
		id: `00000000-0000-4000-8000-${String(nodeSeq).padStart(12, '0')}`,
		name,
		type,
		typeVersion,
		position: [nodeSeq * 220, 0],
		parameters,
		...extra,
	};
}

function chain(name, nodes) {
	const connections = {};
	for (let i = 0; i + 1 < nodes.length; i++) {
		connections[nodes[i].name] = { main: [[{ node: nodes[i + 1].name, type: 'main', index: 0 }]] };
	}
	return { name, nodes, connections, settings: { executionOrder: 'v1' } };
}

const trigger = () => node(TRIGGER, 'n8n-nodes-base.manualTrigger', 1, {});

/**
 * The item source: one Set expression building BENCH_ITEMS customers (distinct Norwegian
 * numbers 4790000000…), then Split Out: one item per customer, as a CRM or sheet would give.
 */
function itemSource() {
	return [
		node('Customer list', 'n8n-nodes-base.set', 3.4, {
			mode: 'raw',
			jsonOutput:
				'={{ { customers: Array.from({ length: Number($env.BENCH_ITEMS) }, (_, i) => ({ phone: String(4790000000 + i), member: true })) } }}',
			options: {},
		}),
		node('One item per customer', 'n8n-nodes-base.splitOut', 1, { fieldToSplitOut: 'customers', options: {} }),
	];
}

const OUR_NODE = 'Vipps Check-in';
const FLOOR_NODE = 'Bench Floor';
const DIY_NODE = 'Check-in (HTTP Request)';

function oursWorkflow(nodeType, credential, { dryRun = false, concurrency } = {}) {
	const options = { ...(dryRun ? { dryRun: true } : {}), ...(concurrency ? { concurrency } : {}) };
	return chain(`bench: ours${dryRun ? ', dry run' : ''}${concurrency ? ` @${concurrency}` : ''}`, [
		trigger(),
		...itemSource(),
		node(
			OUR_NODE,
			nodeType,
			1,
			{ resource: 'checkIn', operation: 'send', phoneNumber: '={{ $json.phone }}', isMember: '={{ $json.member }}', options },
			{ credentials: { [CREDENTIAL_TYPE]: { id: credential.id, name: credential.name } } },
		),
	]);
}

/** The floor node with the simulator's keys as plain parameters, mapping the same two fields by expressions. */
function floorWorkflow(vipps, concurrency) {
	return chain(`bench: floor @${concurrency}`, [
		trigger(),
		...itemSource(),
		node(FLOOR_NODE, `${FLOOR_PACKAGE}.benchFloor`, 1, {
			baseUrl: vipps.customBaseUrl,
			clientId: vipps.clientId,
			clientSecret: vipps.clientSecret,
			subscriptionKey: vipps.subscriptionKey,
			merchantSerialNumber: vipps.merchantSerialNumber,
			phoneNumber: '={{ $json.phone }}',
			isMember: '={{ $json.member }}',
			concurrency,
		}),
	]);
}

/**
 * What a user builds without this package: token once, then one HTTP Request per check-in.
 * `vipps` holds the same keys as this node's credential (the simulator's `credentialData()`).
 */
function diyWorkflow(name, vipps, { batching = null } = {}) {
	const getToken = node('Get token', 'n8n-nodes-base.httpRequest', 4.5, diy.tokenRequest(vipps), { executeOnce: true });
	const jsonBody = '={\n  "phoneNumber": "{{ $json.phone }}",\n  "isMember": {{ $json.member }}\n}';
	const checkIn = node(DIY_NODE, 'n8n-nodes-base.httpRequest', 4.5, diy.checkInRequest(vipps, jsonBody, batching ? { batching: { batch: batching } } : {}));
	return chain(name, [trigger(), getToken, ...itemSource(), checkIn]);
}

/** The node a flow is timed by. */
const SEND_NODE = { ours: OUR_NODE, aimd: OUR_NODE, dryRun: OUR_NODE, floor: FLOOR_NODE, diyA: DIY_NODE, diyB: DIY_NODE };

function flowLabel(flow, defaultConcurrency) {
	const { base, concurrency } = flowParts(flow);
	const at = ` @${concurrency ?? defaultConcurrency}`;
	return {
		ours: concurrency ? `this node${at}` : 'this node (defaults)',
		floor: `floor: bare httpRequest${at}`,
		aimd: 'this node, plain AIMD pacer',
		diyA: 'DIY A: HTTP Request',
		diyB: `DIY B: batching ${DIY_B_BATCH.batchSize}/${DIY_B_BATCH.batchInterval} ms`,
		dryRun: 'reference: this node, Dry Run',
	}[base];
}

// ---------------------------------------------------------------------------------------------
// Packages and n8n user folders

/** npm pack of the floor, unpacked into the user folder's community packages as n8n's installer does (it has no dependencies). */
async function installFloor(userFolder) {
	const dest = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-floor-'));
	try {
		const packed = await run('npm', ['pack', '--json', '--ignore-scripts', `--pack-destination=${dest}`], { cwd: FLOOR_DIR, env: cleanEnv() });
		if (packed.code !== 0) throw new Error(`npm pack of the floor failed:\n${packed.stderr}`);
		const [{ filename }] = JSON.parse(packed.stdout);
		const nodesDir = path.join(userFolder, '.n8n', 'nodes');
		const target = path.join(nodesDir, 'node_modules', FLOOR_PACKAGE);
		fs.mkdirSync(target, { recursive: true });
		const untar = await run('tar', ['-xzf', path.join(dest, path.basename(filename)), '-C', target, '--strip-components=1']);
		if (untar.code !== 0) throw new Error(`unpacking the floor failed:\n${untar.stderr}`);
		const ledgerFile = path.join(nodesDir, 'package.json');
		const ledger = JSON.parse(fs.readFileSync(ledgerFile, 'utf8'));
		ledger.dependencies[FLOOR_PACKAGE] = '1.0.0';
		fs.writeFileSync(ledgerFile, JSON.stringify(ledger, null, 2));
	} finally {
		fs.rmSync(dest, { recursive: true, force: true });
	}
}

/**
 * A copy of the package's files with plain AIMD in place of its pacer's rules: the same count
 * at a 429, one cut per burst and hold, but the cut halves the rate and the climb adds AIMD_STEP.
 */
function aimdVariant(packageDir) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-aimd-'));
	for (const entry of ['package.json', 'index.js', path.join('dist', 'nodes'), path.join('dist', 'credentials'), path.join('dist', 'package.json')]) {
		if (fs.existsSync(path.join(packageDir, entry))) fs.cpSync(path.join(packageDir, entry), path.join(dir, entry), { recursive: true });
	}
	const pacerFile = path.join(dir, 'dist', 'nodes', 'VippsCheckIn', 'transport', 'requestPacer.js');
	const pacer = fs.readFileSync(pacerFile, 'utf8');
	const patched = pacer.replace(/const CUT = [\d.]+;/, 'const CUT = 0.5;').replace('this.learnedRate *= CLIMB;', `this.learnedRate += ${AIMD_STEP};`);
	if ((patched.match(/const CUT = 0\.5;|this\.learnedRate \+= /g) ?? []).length !== 2) {
		throw new Error(`${pacerFile}: the pacer no longer has CUT and its climb where --pacers patches them; update aimdVariant()`);
	}
	fs.writeFileSync(pacerFile, patched);
	return dir;
}

/** A user folder with `tarball` installed (and the floor, when asked), the credentials and the workflows of `flows` imported. */
async function setUpN8n({ tarball, withFloor, flowsByProtocol, sims, protocols, nodeType, args }) {
	const folder = await kit.createUserFolder({ tarball });
	try {
		if (withFloor) await installFloor(folder.userFolder);
		const env = await kit.n8nEnv({
			userFolder: folder.userFolder,
			extra: {
				// $env.BENCH_ITEMS sizes the item list per run without re-importing workflows.
				N8N_BLOCK_ENV_ACCESS_IN_NODE: 'false',
				// n8n trusts the HTTPS simulator's self-signed certificate, as it would a company CA.
				...(sims.https ? { NODE_EXTRA_CA_CERTS: sims.https.caCertPath } : {}),
				...(args.cpuProfDir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${args.cpuProfDir}` } : {}),
			},
		});
		const vipps = Object.fromEntries(protocols.map((protocol) => [protocol, sims[protocol].credentialData()]));
		const imported = await kit.importCredentials(
			env,
			protocols.map((protocol) => ({ name: `Vipps simulator (${protocol})`, type: CREDENTIAL_TYPE, data: vipps[protocol] })),
		);
		const credential = Object.fromEntries(protocols.map((protocol, i) => [protocol, imported[i]]));
		const workflowIds = {};
		for (const protocol of protocols) {
			workflowIds[protocol] = {};
			for (const flow of flowsByProtocol[protocol]) {
				const { base, concurrency } = flowParts(flow);
				const workflow = {
					ours: () => oursWorkflow(nodeType, credential[protocol], { concurrency }),
					aimd: () => oursWorkflow(nodeType, credential[protocol]),
					dryRun: () => oursWorkflow(nodeType, credential[protocol], { dryRun: true }),
					floor: () => floorWorkflow(vipps[protocol], concurrency ?? args.defaultConcurrency),
					diyA: () => diyWorkflow(`bench: DIY A (${protocol})`, vipps[protocol]),
					diyB: () => diyWorkflow(`bench: DIY B, batching (${protocol})`, vipps[protocol], { batching: DIY_B_BATCH }),
				}[base]();
				workflowIds[protocol][flow] = await kit.importWorkflow(env, workflow);
			}
		}
		return { folder, env, workflowIds };
	} catch (error) {
		folder.remove();
		throw error;
	}
}

// ---------------------------------------------------------------------------------------------
// Peak RSS and CPU time of the n8n process, polled from /proc

function readProc(pid, file) {
	try {
		return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
	} catch {
		return null;
	}
}

function kB(status, field) {
	const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status ?? '');
	return match ? Number(match[1]) : 0;
}

/** Process ids whose command line contains every marker. */
function findPids(markers) {
	const pids = [];
	for (const entry of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(entry)) continue;
		const cmdline = readProc(entry, 'cmdline');
		if (cmdline && markers.every((marker) => cmdline.includes(marker))) pids.push(Number(entry));
	}
	return pids;
}

/** utime + stime of a process, in clock ticks (100 per second on Linux). */
function cpuTicks(pid) {
	const stat = readProc(pid, 'stat');
	if (!stat) return null;
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	return Number(fields[11]) + Number(fields[12]);
}

const TICK_MS = 10;

/**
 * Polls the `n8n execute --id=<workflowId>` process: its VmHWM (the kernel's own peak RSS, so a
 * peak between polls is not missed while the process lives) and its CPU time (to tell CPU-bound
 * from waiting, and to see through other load on the machine).
 */
function startRssPoller(workflowId) {
	const markers = ['execute', `--id=${workflowId}`];
	const state = { pid: null, peakKb: 0, samples: 0, cpu: [] };
	const timer = setInterval(() => {
		if (state.pid === null) {
			state.pid = findPids(markers)[0] ?? null;
			if (state.pid === null) return;
		}
		const status = readProc(state.pid, 'status');
		const ticks = cpuTicks(state.pid);
		if (!status || ticks === null) return;
		state.samples++;
		state.peakKb = Math.max(state.peakKb, kB(status, 'VmHWM'));
		state.cpu.push([Date.now(), ticks]);
	}, RSS_POLL_MS);
	return {
		stop() {
			clearInterval(timer);
			return state;
		},
	};
}

/** CPU milliseconds the n8n process spent between two wall-clock times (from the samples). */
function cpuMsBetween(samples, from, to) {
	if (samples.length < 2 || from === null || to === null) return null;
	const at = (time) => {
		if (time <= samples[0][0]) return samples[0][1];
		for (let i = 1; i < samples.length; i++) {
			const [t1, c1] = samples[i];
			if (time <= t1) {
				const [t0, c0] = samples[i - 1];
				return c0 + ((c1 - c0) * (time - t0)) / Math.max(1, t1 - t0);
			}
		}
		return samples.at(-1)[1];
	};
	return Math.round((at(to) - at(from)) * TICK_MS);
}

// ---------------------------------------------------------------------------------------------
// One run

function delivered(sim) {
	const phones = new Set();
	for (const request of sim.checkInRequests()) {
		if (request.status === 200 && request.body && typeof request.body.phoneNumber === 'string') phones.add(request.body.phoneNumber);
	}
	return phones.size;
}

function statusCounts(requests) {
	const counts = {};
	for (const { status } of requests) counts[status] = (counts[status] ?? 0) + 1;
	return counts;
}

/**
 * Check-in arrivals per second of the node's run ([second, answered 200, answered 429]) and the
 * number of separate 429 bursts (429s more than 300 ms apart start a new one): how the pacing
 * met the gateway.
 */
function gatewayTimeline(requests, startTime) {
	const buckets = new Map();
	let bursts = 0;
	let last429 = -Infinity;
	for (const { receivedAt, status } of requests) {
		const second = Math.floor((receivedAt - startTime) / 1000);
		const bucket = buckets.get(second) ?? [second, 0, 0];
		if (status === 200) bucket[1]++;
		if (status === 429) {
			bucket[2]++;
			if (receivedAt - last429 > 300) bursts++;
			last429 = receivedAt;
		}
		buckets.set(second, bucket);
	}
	return { perSecond: [...buckets.values()].sort((a, b) => a[0] - b[0]), bursts429: bursts };
}

function shortError(error) {
	if (!error) return null;
	const message = String(error.message ?? error).split('\n')[0];
	return message.length > 160 ? `${message.slice(0, 157)}…` : message;
}

async function runOnce({ sim, protocol, env, workflowId, flow, scenario, timeoutMs }) {
	sim.resetLog();
	sim.setGatewayLimit(scenario.gateway ?? undefined);
	const loadAtStart = round(os.loadavg()[0], 2);
	const poller = startRssPoller(workflowId);
	const started = Date.now();
	let result;
	let rss;
	try {
		result = await kit.executeWorkflow({ ...env, BENCH_ITEMS: String(scenario.items) }, workflowId, { timeoutMs });
	} finally {
		rss = poller.stop();
	}
	const cliWallMs = Date.now() - started;
	const taskData = result.runData?.[SEND_NODE[flowParts(flow).base]]?.[0] ?? null;
	const output = taskData?.data?.main?.[0] ?? [];
	const checkIns = sim.checkInRequests();
	const send = isSendFlow(flow);
	const deliveredCount = send ? delivered(sim) : null;
	const nodeEnd = taskData ? taskData.startTime + taskData.executionTime : null;
	const firstArrival = checkIns.length ? Math.min(...checkIns.map((request) => request.receivedAt)) : null;
	return {
		protocol,
		scenario: scenario.id,
		flow,
		items: scenario.items,
		gateway: scenario.gateway,
		nodeTimeMs: taskData?.executionTime ?? null,
		nodeStartTime: taskData?.startTime ?? null,
		outputItems: output.length,
		errorItems: output.filter((item) => item.json && item.json.error !== undefined).length,
		workflowError: shortError(result.error),
		delivered: deliveredCount,
		tokenFetches: send ? sim.tokenRequests().length : null,
		checkInRequests: checkIns.length,
		checkInStatuses: statusCounts(checkIns),
		firstRequestAfterMs: taskData && firstArrival !== null ? firstArrival - taskData.startTime : null,
		nodeCpuMs: cpuMsBetween(rss.cpu, taskData?.startTime ?? null, nodeEnd),
		gatewayTimeline: scenario.gateway && taskData && checkIns.length ? gatewayTimeline(checkIns, taskData.startTime) : null,
		loadAverage1m: loadAtStart,
		peakRssMB: rss.peakKb ? round(rss.peakKb / 1024, 1) : null,
		rssSamples: rss.samples,
		cliWallMs,
		ok: result.ok,
	};
}

// ---------------------------------------------------------------------------------------------
// Report

function round(value, digits = 2) {
	if (value === null || value === undefined || !Number.isFinite(value)) return null;
	const factor = 10 ** digits;
	return Math.round(value * factor) / factor;
}

const idealMs = (scenario) => (scenario.gateway ? (scenario.items / scenario.gateway.requestsPerSecond) * 1000 : null);

/**
 * One row per protocol, scenario and flow: the run with the median node time stands for the
 * flow (for an even count, the slower middle one), with every run's time, and whether every run
 * delivered all. Ratios: to the floor at the same concurrency, to DIY A (when it delivered
 * everything), and, behind the gateway, to the ideal (items ÷ the gateway's rate).
 */
function summarize(runs, scenarioList, protocols) {
	const rows = [];
	for (const protocol of protocols) {
		for (const scenario of scenarioList) {
			for (const flow of scenario.flows) {
				const all = runs.filter((run) => run.protocol === protocol && run.scenario === scenario.id && run.flow === flow);
				if (!all.length) continue;
				const timed = all.filter((run) => run.nodeTimeMs !== null).sort((x, y) => x.nodeTimeMs - y.nodeTimeMs);
				rows.push({
					...(timed.length ? timed[Math.floor(timed.length / 2)] : all[0]),
					runs: all.length,
					nodeTimesMs: all.map((run) => run.nodeTimeMs),
					allClean: isSendFlow(flow) ? all.every((run) => run.delivered === run.items && run.errorItems === 0 && !run.workflowError) : null,
					idealMs: idealMs(scenario),
				});
			}
		}
	}
	for (const row of rows) {
		const peer = (flow) => rows.find((other) => other.scenario === row.scenario && other.protocol === row.protocol && other.flow === flow);
		const { base, concurrency } = flowParts(row.flow);
		const send = isSendFlow(row.flow) && row.nodeTimeMs !== null;
		const floor = base === 'floor' ? null : peer(concurrency ? `floor@${concurrency}` : 'floor');
		const diyA = row.flow === 'diyA' ? null : peer('diyA');
		row.ratioToFloor = send && floor?.nodeTimeMs ? round(row.nodeTimeMs / floor.nodeTimeMs) : null;
		// A ratio to a DIY A that lost items compares with a run that did not do the job.
		row.ratioToDiyA = send && diyA?.allClean && diyA.nodeTimeMs ? round(row.nodeTimeMs / diyA.nodeTimeMs) : null;
		row.ratioToIdeal = send && row.idealMs ? round(row.nodeTimeMs / row.idealMs) : null;
	}
	return rows;
}

function columns(defaultConcurrency) {
	return [
		['scenario', 29, (r) => r.scenario],
		['flow', 31, (r) => flowLabel(r.flow, defaultConcurrency)],
		['n', 1, (r) => r.runs, true],
		['node ms', 7, (r) => r.nodeTimeMs, true],
		['CPU ms', 6, (r) => r.nodeCpuMs, true],
		['delivered', 11, (r) => (r.delivered === null ? null : `${r.delivered}/${r.items}`), true],
		['err items', 9, (r) => (isSendFlow(r.flow) ? r.errorItems : null), true],
		['wf error', 8, (r) => (r.failed ? 'bench' : r.workflowError ? 'yes' : 'no'), true],
		['tokens', 6, (r) => r.tokenFetches, true],
		['429s', 4, (r) => (isSendFlow(r.flow) ? r.checkInStatuses?.[429] ?? 0 : null), true],
		['RSS MB', 6, (r) => r.peakRssMB, true],
		['÷floor', 6, (r) => r.ratioToFloor, true],
		['÷DIY A', 6, (r) => r.ratioToDiyA, true],
		['÷ideal', 6, (r) => r.ratioToIdeal, true],
	];
}

function pad(text, width, right = false) {
	const value = text === null || text === undefined ? '–' : String(text);
	return right ? value.padStart(width) : value.padEnd(width);
}

function table(rows, cols) {
	const head = cols.map(([title, width, , right]) => pad(title, width, right)).join(' | ');
	const rule = cols.map(([, width]) => '-'.repeat(width)).join('-|-');
	const lines = rows.map((row) => cols.map(([, width, get, right]) => pad(get(row), width, right)).join(' | '));
	return [head, rule, ...lines].join('\n');
}

function markdownTable(rows, cols) {
	const head = `| ${cols.map(([title]) => title).join(' | ')} |`;
	const rule = `|${cols.map(([, , , right]) => (right ? '---:' : '---')).join('|')}|`;
	const lines = rows.map((row) => `| ${cols.map(([, , get]) => get(row) ?? '–').join(' | ')} |`);
	return [head, rule, ...lines].join('\n');
}

const times = (row) => (row.runs > 1 ? ` (median of ${row.runs}: ${row.nodeTimesMs.join(', ')} ms)` : '');

/** The targets of one protocol, judged on its rows. */
function checkTargets(rows, runs, protocol) {
	const find = (scenario, flow) => rows.find((row) => row.scenario === scenario && row.flow === flow && row.protocol === protocol);
	const targets = [];
	const add = (name, met, detail) => targets.push({ protocol, name, met: Boolean(met), detail });

	for (const scenario of ['open-1000', 'open-10000']) {
		const ours = find(scenario, 'ours');
		if (!ours) continue;
		const diy = find(scenario, 'diyA');
		const floor = find(scenario, 'floor');
		if (diy) {
			add(
				`${scenario}: this node ≤ ${TARGET.toDiyA}× DIY A's time`,
				ours.allClean && ours.ratioToDiyA !== null && ours.ratioToDiyA <= TARGET.toDiyA,
				`${ours.nodeTimeMs} ms${times(ours)} vs DIY A ${diy.nodeTimeMs} ms${times(diy)} = ${ours.ratioToDiyA ?? '–'}×` +
					(diy.allClean ? '' : ' (DIY A lost items: no ratio)'),
			);
		}
		if (floor) {
			add(
				`${scenario}: this node ≤ ${TARGET.toFloor}× the floor's time`,
				ours.allClean && ours.ratioToFloor !== null && ours.ratioToFloor <= TARGET.toFloor,
				`${ours.nodeTimeMs} ms vs the floor ${floor.nodeTimeMs} ms${times(floor)} = ${ours.ratioToFloor ?? '–'}×`,
			);
		}
		if (scenario === 'open-10000' && diy) {
			add(
				'open-10000: this node\'s peak RSS ≤ DIY A\'s',
				ours.allClean && ours.peakRssMB !== null && diy.peakRssMB !== null && ours.peakRssMB <= diy.peakRssMB,
				`${ours.peakRssMB} MB vs DIY A ${diy.peakRssMB} MB${floor ? ` (the floor ${floor.peakRssMB} MB)` : ''}`,
			);
		}
	}
	for (const row of rows.filter((candidate) => candidate.protocol === protocol && candidate.gateway && candidate.flow === 'ours')) {
		const kind = Object.keys(GATEWAYS).find((key) => GATEWAYS[key].window === row.gateway.window && GATEWAYS[key].throttle === row.gateway.throttle);
		const gwRuns = runs.filter((run) => run.protocol === protocol && run.scenario === row.scenario && run.flow === 'ours');
		add(
			`behind ${row.gateway.requestsPerSecond} req/s, ${GATEWAYS[kind].label}: ${row.items}/${row.items} delivered with defaults in ≤ ${TARGET.toIdeal}× the ideal`,
			row.allClean && row.ratioToIdeal !== null && row.ratioToIdeal <= TARGET.toIdeal,
			`${gwRuns.map((run) => run.delivered).join(', ')} of ${row.items} delivered, ${gwRuns.map((run) => run.errorItems).join(', ')} error items; ` +
				`${row.nodeTimeMs} ms${times(row)} vs ideal ${row.idealMs} ms = ${row.ratioToIdeal}×; 429s ${gwRuns.map((run) => run.checkInStatuses?.[429] ?? 0).join(', ')}`,
		);
	}
	const ours = runs.filter((run) => run.protocol === protocol && flowParts(run.flow).base === 'ours' && !run.failed);
	if (ours.length) {
		add(
			'one token request per run (this node)',
			ours.every((run) => run.tokenFetches === 1),
			`${ours.length} runs: ${[...new Set(ours.map((run) => run.tokenFetches))].join(', ')} token request(s) each`,
		);
	}
	return targets;
}

/** How each concurrency fared, per protocol: open traffic against the floor, and behind the fixed-window gateway. */
function sweepTable(rows, protocol, sweep) {
	const find = (scenarioPrefix, flow) => rows.find((row) => row.protocol === protocol && row.scenario.startsWith(scenarioPrefix) && row.flow === flow);
	const lines = sweep.map((concurrency) => {
		const ours = find('open-', `ours@${concurrency}`);
		const floor = find('open-', `floor@${concurrency}`);
		const gateway = find('gateway-fixed-instant-', `ours@${concurrency}`);
		return `| ${concurrency} | ${ours?.nodeTimeMs ?? '–'} | ${floor?.nodeTimeMs ?? '–'} | ${ours?.ratioToFloor ?? '–'} | ${ours?.ratioToDiyA ?? '–'} | ${ours?.nodeCpuMs ?? '–'} | ${ours?.peakRssMB ?? '–'} | ${gateway?.nodeTimeMs ?? '–'} | ${gateway?.ratioToIdeal ?? '–'} | ${gateway ? gateway.checkInStatuses?.[429] ?? 0 : '–'} |`;
	});
	return [
		`| concurrency | open ${find('open-', `ours@${sweep[0]}`)?.items ?? ''}: this node ms | the floor ms | ÷floor | ÷DIY A | CPU ms | RSS MB | behind the gateway (fixed, 429 at once): ms | ÷ideal | 429s |`,
		'|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
		...lines,
	].join('\n');
}

function machine(packageDir) {
	const manifest = JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8'));
	let kernel = os.release();
	let commit = null;
	try {
		kernel = execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim();
		commit = execFileSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
		if (execFileSync('git', ['-C', REPO, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim()) commit += ' (with uncommitted changes)';
	} catch {
		// uname or git missing: os.release() and no commit are enough.
	}
	return {
		cores: os.cpus().length,
		cpuModel: (os.cpus()[0]?.model ?? 'unknown').replace(/\s+/g, ' ').trim(),
		memoryGB: round(os.totalmem() / 1024 ** 3, 1),
		kernel,
		benchNode: process.version,
		n8nNode: `v${NODE_VERSION}`,
		n8n: N8N_VERSION,
		package: `${manifest.name}@${manifest.version}`,
		commit,
	};
}

/**
 * The Markdown report, tables and targets (bench/results/latest.md). BENCHMARKS.md carries it
 * between its bench:results markers without the tables (`tables: false`), which it links to.
 */
function markdownReport(report, rows, args, cols, { tables = true } = {}) {
	const { machine: m, settings } = report;
	const lines = [
		`Command: \`${report.command}\`, ${report.when.slice(0, 16).replace('T', ' ')} UTC, commit ${m.commit ?? 'unknown'}; the bench took ${report.benchSeconds} s.`,
		`Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGB} GB, ${m.kernel}; n8n ${m.n8n} on Node ${m.n8nNode}, the bench and simulator on Node ${m.benchNode}. ` +
			`1-minute load average during the runs ${report.loadAverage1m ? `${report.loadAverage1m.min}–${report.loadAverage1m.max}` : '–'}.`,
		`Settings: ${settings.latencyMs} ms latency; this node's default concurrency ${settings.ourConcurrency} (the floor's too); behind the gateway ${settings.gatewayRps} req/s; ` +
			`${settings.repeat} run(s) of each timed flow, the median shown.`,
	];
	for (const protocol of tables ? settings.protocols : []) {
		if (!rows.some((row) => row.protocol === protocol)) continue;
		lines.push('', `### ${protocol.toUpperCase()}`, '', markdownTable(rows.filter((row) => row.protocol === protocol), cols));
		if (args.sweep.length) lines.push('', `Concurrency sweep, ${protocol.toUpperCase()}:`, '', sweepTable(rows, protocol, args.sweep));
	}
	if (report.storm && tables) lines.push('', storm.stormMarkdown(report.storm, settings.protocols));
	if (!tables) lines.push('', 'Every run\'s figures, in tables: [bench/results/latest.md](bench/results/latest.md).');
	lines.push('', '### Targets', '', '```');
	for (const target of report.targets) lines.push(`${target.met ? 'MET    ' : 'NOT MET'}  ${target.protocol.toUpperCase()}  ${target.name}: ${target.detail}`);
	lines.push('```');
	return `${lines.join('\n')}\n`;
}

const RESULTS_START = '<!-- bench:results (written by `npm run bench`) -->';
const RESULTS_END = '<!-- /bench:results -->';

/** Replaces the results section of BENCHMARKS.md with `markdown`. */
function writeIntoBenchmarksMd(markdown) {
	const file = path.join(REPO, 'BENCHMARKS.md');
	const text = fs.readFileSync(file, 'utf8');
	const start = text.indexOf(RESULTS_START);
	const end = text.indexOf(RESULTS_END);
	if (start < 0 || end < start) throw new Error(`BENCHMARKS.md has no ${RESULTS_START} … ${RESULTS_END} section`);
	fs.writeFileSync(file, `${text.slice(0, start + RESULTS_START.length)}\n${markdown}${text.slice(end)}`);
}

// ---------------------------------------------------------------------------------------------
// Main

function log(message) {
	process.stderr.write(`[bench] ${message}\n`);
}

/** The flows each protocol runs in a scenario: the sendless reference only with the first protocol. */
function flowsOf(scenario, protocol, protocols) {
	return scenario.flows.filter((flow) => isSendFlow(flow) || protocol === protocols[0]);
}

async function main() {
	const args = parseArgs(process.argv.slice(2));
	const simulatorModule = path.join(REPO, 'dist', 'simulator', 'VippsSimulator.js');
	const descriptions = path.join(args.packageDir, 'dist', 'nodes', 'VippsCheckIn', 'actions', 'common.descriptions.js');
	for (const file of [simulatorModule, descriptions]) {
		if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first`);
	}
	const { VippsSimulator } = require(simulatorModule);
	args.defaultConcurrency = require(descriptions).DEFAULT_CONCURRENCY;
	const nodeType = `${JSON.parse(fs.readFileSync(path.join(args.packageDir, 'package.json'), 'utf8')).name}.vippsCheckIn`;
	const select = (candidates) =>
		candidates
			.filter((scenario) => !args.only || args.only.has(scenario.id))
			.map((scenario) => (args.flows ? { ...scenario, flows: scenario.flows.filter((flow) => args.flows.has(flow)) } : scenario))
			.filter((scenario) => scenario.flows.length);
	let list = args.storm ? [] : select(scenarios(args));
	// The storm: with --storm, or in a full run (not with --quick or --no-storm, unless --only names a storm scenario).
	const stormWanted = args.storm || (!args.noStorm && (!args.quick || (args.only && storm.STORM_IDS.some((id) => args.only.has(id)))));
	const stormList = stormWanted ? select(storm.stormScenarios(args.stormSettings)) : [];
	if (!list.length && !stormList.length) throw new Error(`no scenario or flow selected\n${USAGE}`);
	const { protocols } = args;
	const needed = (protocol, wanted) =>
		[...new Set(list.flatMap((scenario) => flowsOf(scenario, protocol, protocols)))].filter((flow) => wanted(flowParts(flow).base));

	const benchStarted = Date.now();
	await kit.ensureN8n();
	const sims = {};
	const cleanUp = [];
	const runs = [];
	if (list.length) try {
		for (const protocol of protocols) {
			// The bare GUID as spec-generated mocks answer it (NOTES §2): the DIY flows read it as text.
			sims[protocol] = await VippsSimulator.start({ latencyMs: LATENCY_MS, checkInResponseStyle: 'rawText', https: protocol === 'https' });
			log(`${protocol} simulator on ${sims[protocol].baseUrl}, ${LATENCY_MS} ms latency`);
		}
		// The package under test and the floor in one user folder; plain AIMD (same package name) in another.
		const setUps = [];
		const packOf = async (dir) => {
			const tarball = await kit.packPackage(dir);
			cleanUp.push(() => fs.rmSync(path.dirname(tarball), { recursive: true, force: true }));
			return tarball;
		};
		const byProtocol = (wanted) => Object.fromEntries(protocols.map((protocol) => [protocol, needed(protocol, wanted)]));
		const mainFlows = byProtocol((base) => base !== 'aimd');
		if (Object.values(mainFlows).some((flows) => flows.length)) {
			setUps.push({ flowsByProtocol: mainFlows, tarball: await packOf(args.packageDir), withFloor: true });
		}
		const aimdFlows = byProtocol((base) => base === 'aimd');
		if (Object.values(aimdFlows).some((flows) => flows.length)) {
			const variant = aimdVariant(args.packageDir);
			cleanUp.push(() => fs.rmSync(variant, { recursive: true, force: true }));
			setUps.push({ flowsByProtocol: aimdFlows, tarball: await packOf(variant), withFloor: false });
		}
		const folders = [];
		for (const setUp of setUps) {
			const folder = await setUpN8n({ ...setUp, sims, protocols, nodeType, args });
			cleanUp.push(() => (args.keep ? log(`kept ${folder.folder.userFolder}`) : folder.folder.remove()));
			folders.push({ ...folder, flowsByProtocol: setUp.flowsByProtocol });
			log(`n8n user folder ${folder.folder.userFolder}: ${[...new Set(Object.values(setUp.flowsByProtocol).flat())].join(', ')}`);
		}
		const where = (protocol, flow) => folders.find((folder) => folder.flowsByProtocol[protocol].includes(flow));
		log(`imported the workflows (${((Date.now() - benchStarted) / 1000).toFixed(0)} s so far)`);

		for (const scenario of list) {
			const rounds = Math.max(1, ...Object.values(scenario.repeat));
			for (let round_ = 0; round_ < rounds; round_++) {
				// Flows and protocols interleaved, so a busy spell on the machine does not fall on one of them.
				for (const protocol of protocols) {
					for (const flow of flowsOf(scenario, protocol, protocols)) {
						if (round_ >= (scenario.repeat[flow] ?? 1)) continue;
						const { env, workflowIds } = where(protocol, flow);
						// Generous: DIY B paces itself at ~91 req/s; nothing else comes near this.
						const timeoutMs = 90_000 + scenario.items * 30;
						let result;
						try {
							result = await runOnce({ sim: sims[protocol], protocol, env, workflowId: workflowIds[protocol][flow], flow, scenario, timeoutMs });
						} catch (error) {
							// One broken run (a timeout, a crash) must not cost the others' figures.
							result = { protocol, scenario: scenario.id, flow, items: scenario.items, gateway: scenario.gateway, nodeTimeMs: null, failed: shortError(error) };
							log(`${protocol} ${scenario.id} ${flow}: the run itself failed: ${result.failed}`);
						}
						runs.push(result);
						if (!result.failed) {
							log(
								`${protocol} ${scenario.id} ${flow}: node ${result.nodeTimeMs} ms (CPU ${result.nodeCpuMs} ms), delivered ${result.delivered ?? '–'}, ` +
									`error items ${result.errorItems}, wf error ${result.workflowError ?? 'none'}, tokens ${result.tokenFetches ?? '–'}, ` +
									`429s ${result.checkInStatuses[429] ?? 0}, RSS ${result.peakRssMB} MB, load ${result.loadAverage1m}`,
							);
						}
					}
				}
			}
		}
	} finally {
		for (const sim of Object.values(sims)) await sim.close();
		for (const step of cleanUp.reverse()) step();
	}

	let stormResult = null;
	if (stormList.length) {
		log(`storm: ${stormList.map((scenario) => `${scenario.id} (${scenario.flows.join(', ')})`).join(', ')}; ${JSON.stringify(args.stormSettings)}`);
		stormResult = await storm.runStorm({
			packageDir: args.packageDir,
			nodeType,
			protocols,
			scenarios: stormList,
			settings: args.stormSettings,
			log,
			VippsSimulator,
		});
	}

	const rows = summarize(runs, list, protocols);
	const targets = [...protocols.flatMap((protocol) => checkTargets(rows, runs, protocol)), ...(stormResult?.targets ?? [])];
	const loads = [...runs, ...(stormResult?.runs ?? [])].map((result) => result.loadAverage1m).filter((load) => typeof load === 'number');
	const report = {
		when: new Date().toISOString(),
		command: `${args.fullRun && !process.argv.slice(2).length ? 'npm run bench' : `node bench/run.js ${process.argv.slice(2).join(' ')}`.trim()}`,
		quick: args.quick,
		machine: machine(args.packageDir),
		settings: {
			protocols,
			latencyMs: LATENCY_MS,
			gatewayRps: GATEWAY_RPS,
			gateways: GATEWAYS,
			ourConcurrency: args.defaultConcurrency,
			sweep: args.sweep,
			aimdStep: args.pacers ? AIMD_STEP : null,
			diyBBatching: DIY_B_BATCH,
			checkInResponseStyle: 'rawText',
			repeat: args.quick ? 1 : args.repeat,
			targets: TARGET,
			ideal: `behind the gateway: items ÷ ${GATEWAY_RPS} req/s`,
		},
		loadAverage1m: loads.length ? { min: Math.min(...loads), max: Math.max(...loads) } : null,
		benchSeconds: round((Date.now() - benchStarted) / 1000, 1),
		rows,
		targets,
		runs,
		storm: stormResult,
	};
	fs.mkdirSync(path.dirname(args.out), { recursive: true });
	fs.writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);
	const cols = columns(args.defaultConcurrency);
	const markdown = markdownReport(report, rows, args, cols);
	const markdownFile = args.out.replace(/\.json$/, '') + '.md';
	fs.writeFileSync(markdownFile, markdown);

	if (list.length) {
		for (const protocol of protocols) {
			console.log(`\n${protocol.toUpperCase()}\n\n${table(rows.filter((row) => row.protocol === protocol), cols)}`);
			if (args.sweep.length) console.log(`\nConcurrency sweep, ${protocol.toUpperCase()}:\n${sweepTable(rows, protocol, args.sweep)}`);
		}
		console.log(
			`\nnode ms: the send node's executionTime in n8n's run data (median when n > 1); CPU ms: n8n's CPU time meanwhile; ` +
				`÷floor: to the bare httpRequest node at the same concurrency; ÷ideal: ${report.settings.ideal}`,
		);
	}
	if (stormResult) {
		console.log(`\n${storm.stormText(stormResult, protocols)}`);
		console.log(
			`\nfirst→last ms: from the first webhook call sent to the last answer received; ÷max(ideal, open): to the larger of ` +
				`calls ÷ the gateway's limit and the same flow's storm with no limit; calls sent over: the arrival of the calls ` +
				`((N − 1) ÷ rate when the bench kept the rate); 429s: the gateway's refusals, token requests included; ` +
				`tokens: token requests of that (fresh) n8n process; p50/p95: each call's wait for its answer`,
		);
	}
	if (loads.length && Math.max(...loads) > report.machine.cores + 1) {
		console.log(`\nNote: the 1-minute load average reached ${Math.max(...loads)} on ${report.machine.cores} cores: other processes competed for the CPU.`);
	}
	console.log(`\nTargets${args.quick ? ' (a smoke: the targets are set for the full scenarios)' : ''}:`);
	for (const target of targets) console.log(`  ${target.met ? 'MET    ' : 'NOT MET'}  ${target.protocol.toUpperCase()}  ${target.name}: ${target.detail}`);
	if (args.fullRun) writeIntoBenchmarksMd(markdownReport(report, rows, args, cols, { tables: false }));
	console.log(
		`\n${path.relative(process.cwd(), args.out)} and ${path.relative(process.cwd(), markdownFile)} written` +
			`${args.fullRun ? ', BENCHMARKS.md updated' : ''}; the bench took ${report.benchSeconds} s`,
	);
}

if (require.main === module) {
	main().catch((error) => {
		console.error(error.stack ?? error);
		process.exitCode = 1;
	});
}
