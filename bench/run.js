#!/usr/bin/env node
'use strict';

// Issue 7's benchmark: this node against what users build without it, side by side in one run,
// in real n8n (headless `n8n execute`, the product users run) against the local Vipps simulator
// on loopback with 50 ms of added latency, over plain HTTP and over HTTPS (the simulator's
// self-signed certificate, trusted by n8n through NODE_EXTRA_CA_CERTS).
//
//   npm run bench               (= npm run build && node bench/run.js; estimated 10–15 minutes)
//   node bench/run.js --quick   a smoke: fewer, smaller scenarios (a few minutes)
//   node bench/run.js --help    the other options (--repeat, --only, --flows, --protocols, --keep, --package, --out, --cpu-prof)
//
// Flows (each its own workflow, items generated inside n8n by a Set expression + Split Out):
//   ours      Vipps Check-in with default settings (concurrency 32, no rate cap)
//   diyA      HTTP Request "Get token" (Execute Once) + HTTP Request per check-in, response as text
//   diyA-cof  the same with On Error = Continue (regular output): counts the lost items
//   diyB      diyA with the HTTP Request node's batching tuned to the 100 req/s gateway limit
//   dryRun    this node with Dry Run on: n8n reading and checking every item, nothing sent
//             (the CPU floor: what n8n's expression evaluation costs before any HTTP)
//   baseline  only produces the items (memory reference)
//   echo      produces the items and maps each to an output item shaped like ours, without HTTP
//             (memory reference: what the items themselves cost)
// dryRun, baseline and echo send nothing, so they run once, with the first protocol, and serve
// as references for both.
//
// Measured per run: the send node's own execution time from n8n's run data (executionTime),
// what the simulator saw (distinct phone numbers answered 200, token fetches, 429s), error items
// and workflow errors from n8n's output, and the n8n process's peak RSS (VmHWM, polled from /proc).
// Every process is started and stopped by the real-n8n kit by its PID; only loopback is used.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const REPO = path.resolve(__dirname, '..');
const kit = require(path.join(REPO, 'scripts', 'real-n8n', 'n8n.js'));
const { N8N_VERSION, NODE_VERSION } = require(path.join(REPO, 'scripts', 'real-n8n', 'install.js'));

const LATENCY_MS = 50;
const GATEWAY_RPS = 100;
const PROTOCOLS = ['http', 'https'];
const PACKAGE_NAME = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).name;
const PACKAGE_VERSION = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).version;
const NODE_TYPE = `${PACKAGE_NAME}.vippsCheckIn`;
const CREDENTIAL_TYPE = 'vippsMobilePayApi';
/** DIY B's batching: what a careful user sets for a 100 req/s limit (100 per 1.1 s: about 9 % below it). */
const DIY_B_BATCH = { batchSize: 100, batchInterval: 1100 };
const RSS_POLL_MS = 25;
/** The targets, as ratios. */
const TARGET = { toDiyA: 0.8, gatewayToIdeal: 1.3 };

// ---------------------------------------------------------------------------------------------
// Command line

function parseArgs(argv) {
	const args = {
		quick: false,
		keep: false,
		only: null,
		flows: null,
		protocols: PROTOCOLS,
		repeat: 3,
		packageDir: REPO,
		out: path.join(__dirname, 'results', 'latest.json'),
		cpuProfDir: null,
	};
	const list = (arg, prefix) => arg.slice(prefix.length).split(',').filter(Boolean);
	for (const arg of argv) {
		if (arg === '--quick') args.quick = true;
		else if (arg === '--keep') args.keep = true;
		else if (arg.startsWith('--only=')) args.only = new Set(list(arg, '--only='));
		else if (arg.startsWith('--flows=')) args.flows = new Set(list(arg, '--flows='));
		else if (arg.startsWith('--protocols=')) args.protocols = list(arg, '--protocols=');
		else if (arg.startsWith('--repeat=')) args.repeat = Math.max(1, Number(arg.slice(9)) || 1);
		else if (arg.startsWith('--package=')) args.packageDir = path.resolve(arg.slice(10));
		else if (arg.startsWith('--out=')) args.out = path.resolve(arg.slice(6));
		else if (arg.startsWith('--cpu-prof=')) args.cpuProfDir = path.resolve(arg.slice(11));
		else if (arg === '--help' || arg === '-h') {
			console.log(USAGE);
			process.exit(0);
		} else throw new Error(`unknown argument ${arg}\n${USAGE}`);
	}
	const unknown = args.protocols.filter((protocol) => !PROTOCOLS.includes(protocol));
	if (unknown.length || !args.protocols.length) throw new Error(`--protocols takes ${PROTOCOLS.join(', ')}\n${USAGE}`);
	return args;
}

const USAGE = `Usage: node bench/run.js [--quick] [--repeat=N] [--only=<scenario>[,…]] [--flows=<flow>[,…]] [--protocols=http,https] [--keep] [--package=<dir>] [--out=<file>] [--cpu-prof=<dir>]
  --quick        a smoke: 100 items open, 300 items behind each gateway kind, no repeats (a few minutes)
  --repeat=N     runs of this node and DIY A at 1,000 items open, and of this node behind the gateways
                 (default 3; the median counts)
  --only=…       scenario ids: open-100, open-1000, open-10000, gateway-sliding-1000, gateway-fixed-1000
                 (with --quick: open-100, gateway-sliding-300, gateway-fixed-300)
  --flows=…      flows: ours, diyA, diyA-cof, diyB, dryRun, baseline, echo
  --protocols=…  http, https or both (default both)
  --keep         keep the n8n user folder (workflows, credential, database) and print its path
  --package=…    bench another build of the package (a directory with dist/ and package.json)
  --out=…        where the JSON results go (default bench/results/latest.json)
  --cpu-prof=…   write a V8 CPU profile of every n8n process into this folder (slows n8n down:
                 for finding where time goes, not for the figures)`;

/** Flows that send nothing: run once, with the first protocol, as references for every protocol. */
const SENDLESS = new Set(['dryRun', 'baseline', 'echo']);

/**
 * `repeat` names the flows run several times (interleaved with the others, median reported):
 * the figures the targets are judged on, since other load on the machine moves single runs.
 * `gateway` is the simulator's rate limit in front of every request, counted in a sliding or
 * in fixed one-second windows.
 */
function scenarios({ quick, repeat }) {
	const gateway = (window, items, flows, repeatOurs) => ({
		id: `gateway-${window}-${items}`,
		items,
		gateway: { requestsPerSecond: GATEWAY_RPS, window },
		flows,
		repeat: { ours: repeatOurs },
	});
	if (quick) {
		return [
			{ id: 'open-100', items: 100, gateway: null, flows: ['ours', 'diyA', 'dryRun'], repeat: {} },
			gateway('sliding', 300, ['ours', 'diyA'], 1),
			gateway('fixed', 300, ['ours', 'diyA'], 1),
		];
	}
	return [
		{ id: 'open-100', items: 100, gateway: null, flows: ['ours', 'diyA'], repeat: {} },
		{
			id: 'open-1000',
			items: 1000,
			gateway: null,
			flows: ['ours', 'diyA', 'dryRun'],
			repeat: { ours: repeat, diyA: repeat, dryRun: repeat },
		},
		{ id: 'open-10000', items: 10000, gateway: null, flows: ['baseline', 'echo', 'ours', 'diyA'], repeat: {} },
		gateway('sliding', 1000, ['ours', 'diyA', 'diyA-cof', 'diyB'], repeat),
		gateway('fixed', 1000, ['ours', 'diyA', 'diyB'], repeat),
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

function oursWorkflow(credential, { dryRun = false } = {}) {
	return chain(dryRun ? 'bench: ours, dry run' : 'bench: ours', [
		trigger(),
		...itemSource(),
		node(
			'Vipps Check-in',
			NODE_TYPE,
			1,
			{
				resource: 'checkIn',
				operation: 'send',
				phoneNumber: '={{ $json.phone }}',
				isMember: '={{ $json.member }}',
				options: dryRun ? { dryRun: true } : {},
			},
			{ credentials: { [CREDENTIAL_TYPE]: { id: credential.id, name: credential.name } } },
		),
	]);
}

const header = (name, value) => ({ name, value });

/**
 * What a user builds without this package: token once, then one HTTP Request per check-in.
 * `vipps` holds the same keys as this node's credential (the simulator's `credentialData()`).
 */
function diyWorkflow(name, vipps, { batching = null, continueOnFail = false } = {}) {
	const systemHeaders = [
		header('Vipps-System-Name', 'n8n'),
		header('Vipps-System-Version', N8N_VERSION),
		header('Vipps-System-Plugin-Name', 'diy-http-request'),
		header('Vipps-System-Plugin-Version', '1.0.0'),
	];
	const getToken = node(
		'Get token',
		'n8n-nodes-base.httpRequest',
		4.5,
		{
			method: 'POST',
			url: `${vipps.customBaseUrl}/accesstoken/get`,
			authentication: 'none',
			sendHeaders: true,
			specifyHeaders: 'keypair',
			headerParameters: {
				parameters: [
					header('client_id', vipps.clientId),
					header('client_secret', vipps.clientSecret),
					header('Ocp-Apim-Subscription-Key', vipps.subscriptionKey),
					header('Merchant-Serial-Number', vipps.merchantSerialNumber),
					...systemHeaders,
				],
			},
			options: {},
		},
		{ executeOnce: true },
	);
	const options = { response: { response: { responseFormat: 'text' } } };
	if (batching) options.batching = { batch: batching };
	const checkIn = node(
		'Check-in (HTTP Request)',
		'n8n-nodes-base.httpRequest',
		4.5,
		{
			method: 'POST',
			url: `${vipps.customBaseUrl}/point-of-sale/v1/loyalty-check-in`,
			authentication: 'none',
			sendHeaders: true,
			specifyHeaders: 'keypair',
			headerParameters: {
				parameters: [
					header('Authorization', "=Bearer {{ $('Get token').item.json.access_token }}"),
					header('Ocp-Apim-Subscription-Key', vipps.subscriptionKey),
					header('Merchant-Serial-Number', vipps.merchantSerialNumber),
					...systemHeaders,
				],
			},
			sendBody: true,
			contentType: 'json',
			specifyBody: 'json',
			jsonBody: '={\n  "phoneNumber": "{{ $json.phone }}",\n  "isMember": {{ $json.member }}\n}',
			options,
		},
		continueOnFail ? { onError: 'continueRegularOutput' } : {},
	);
	return chain(name, [trigger(), getToken, ...itemSource(), checkIn]);
}

function baselineWorkflow() {
	return chain('bench: items only', [trigger(), ...itemSource()]);
}

/** Maps every item to one shaped like ours' output (a 36-character id, phone, flag, MSN), no HTTP. */
function echoWorkflow(merchantSerialNumber) {
	const assignment = (id, name, value, type) => ({ id, name, value, type });
	return chain('bench: items + echo', [
		trigger(),
		...itemSource(),
		node('Echo', 'n8n-nodes-base.set', 3.4, {
			mode: 'manual',
			assignments: {
				assignments: [
					assignment('e1', 'checkInId', "={{ '00000000-0000-4000-8000-' + $json.phone.padStart(12, '0') }}", 'string'),
					assignment('e2', 'phoneNumber', '={{ $json.phone }}', 'string'),
					assignment('e3', 'isMember', '={{ $json.member }}', 'boolean'),
					assignment('e4', 'merchantSerialNumber', merchantSerialNumber, 'string'),
				],
			},
			includeOtherFields: false,
			options: {},
		}),
	]);
}

/** The node whose execution a flow is timed by. */
const SEND_NODE = {
	ours: 'Vipps Check-in',
	diyA: 'Check-in (HTTP Request)',
	'diyA-cof': 'Check-in (HTTP Request)',
	diyB: 'Check-in (HTTP Request)',
	dryRun: 'Vipps Check-in',
	baseline: 'One item per customer',
	echo: 'Echo',
};

const FLOW_LABEL = {
	ours: 'this node (defaults)',
	diyA: 'DIY A: HTTP Request',
	'diyA-cof': 'DIY A + Continue On Fail',
	diyB: `DIY B: batching ${DIY_B_BATCH.batchSize}/${DIY_B_BATCH.batchInterval} ms`,
	dryRun: 'reference: this node, Dry Run',
	baseline: 'baseline: items only',
	echo: 'reference: items + echo Set',
};

// ---------------------------------------------------------------------------------------------
// Peak RSS of the n8n process, polled from /proc

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

function childrenOf(pid) {
	const out = [];
	for (const entry of fs.readdirSync('/proc')) {
		if (!/^\d+$/.test(entry)) continue;
		const stat = readProc(entry, 'stat');
		if (!stat) continue;
		// The ppid is the second field after the command name's closing parenthesis.
		const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
		if (ppid === pid) out.push(Number(entry));
	}
	return out;
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
 * peak between polls is not missed while the process lives), its CPU time (to tell CPU-bound
 * from waiting, and to see through other load on the machine), and the summed RSS of its
 * children (the task runner n8n starts).
 */
function startRssPoller(workflowId) {
	const markers = ['execute', `--id=${workflowId}`];
	const state = { pid: null, peakKb: 0, childrenPeakKb: 0, childCount: 0, samples: 0, cpu: [] };
	let tick = 0;
	const timer = setInterval(() => {
		tick++;
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
		// Children are looked up less often: scanning /proc costs more than one status read.
		if (tick % 8 === 0) {
			const kids = childrenOf(state.pid);
			state.childCount = Math.max(state.childCount, kids.length);
			const sum = kids.reduce((total, kid) => total + kB(readProc(kid, 'status'), 'VmRSS'), 0);
			state.childrenPeakKb = Math.max(state.childrenPeakKb, sum);
		}
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
		if (request.status === 200 && request.body && typeof request.body.phoneNumber === 'string') {
			phones.add(request.body.phoneNumber);
		}
	}
	return phones.size;
}

function statusCounts(requests) {
	const counts = {};
	for (const { status } of requests) counts[status] = (counts[status] ?? 0) + 1;
	return counts;
}

/** Highest number of check-in requests the simulator held at once (arrival + latency). */
function peakInFlight(requests, latencyMs) {
	const events = [];
	for (const { receivedAt } of requests) events.push([receivedAt, 1], [receivedAt + latencyMs, -1]);
	events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
	let current = 0;
	let peak = 0;
	for (const [, delta] of events) peak = Math.max(peak, (current += delta));
	return peak;
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

async function runOnce({ sim, protocol, env, workflowId, flow, scenario, timeoutMs, extraEnv = {} }) {
	sim.resetLog();
	sim.setGatewayLimit(scenario.gateway?.requestsPerSecond, scenario.gateway?.window);
	const runEnv = { ...env, ...extraEnv, BENCH_ITEMS: String(scenario.items) };
	const loadAtStart = round(os.loadavg()[0], 2);
	const poller = startRssPoller(workflowId);
	const started = Date.now();
	let result;
	let rss;
	try {
		result = await kit.executeWorkflow(runEnv, workflowId, { timeoutMs });
	} finally {
		rss = poller.stop();
	}
	const cliWallMs = Date.now() - started;
	const sendNodeName = SEND_NODE[flow];
	const taskData = result.runData?.[sendNodeName]?.[0] ?? null;
	const output = taskData?.data?.main?.[0] ?? [];
	const errorItems = output.filter((item) => item.json && item.json.error !== undefined).length;
	const checkIns = sim.checkInRequests();
	const tokens = sim.tokenRequests();
	const isSend = isSendFlow(flow);
	const deliveredCount = isSend ? delivered(sim) : null;
	const tokenNode = result.runData?.['Get token']?.[0];
	let firstArrival = null;
	let lastArrival = null;
	for (const { receivedAt } of checkIns) {
		if (firstArrival === null || receivedAt < firstArrival) firstArrival = receivedAt;
		if (lastArrival === null || receivedAt > lastArrival) lastArrival = receivedAt;
	}
	const outputJsonBytes = output.length ? Buffer.byteLength(JSON.stringify(output.map((item) => item.json))) : 0;
	const first429 = checkIns.findIndex((request) => request.status === 429);
	const nodeEnd = taskData ? taskData.startTime + taskData.executionTime : null;
	return {
		protocol,
		scenario: scenario.id,
		flow,
		items: scenario.items,
		gateway: scenario.gateway,
		nodeTimeMs: taskData?.executionTime ?? null,
		nodeStartTime: taskData?.startTime ?? null,
		nodeStatus: taskData?.executionStatus ?? null,
		tokenNodeTimeMs: tokenNode?.executionTime ?? null,
		outputItems: output.length,
		outputJsonBytes,
		errorItems,
		workflowError: shortError(result.error),
		delivered: deliveredCount,
		lost: isSend ? scenario.items - deliveredCount : null,
		tokenFetches: isSend ? tokens.length : null,
		tokenStatuses: isSend ? statusCounts(tokens) : null,
		checkInRequests: checkIns.length,
		checkInStatuses: statusCounts(checkIns),
		// Where the node's time went, by the simulator's clock (same machine clock as n8n's).
		firstRequestAfterMs: taskData && firstArrival !== null ? firstArrival - taskData.startTime : null,
		requestSpanMs: firstArrival !== null ? lastArrival - firstArrival + LATENCY_MS : null,
		peakInFlight: checkIns.length ? peakInFlight(checkIns, LATENCY_MS) : null,
		// 1-based position among the check-ins of the first one the gateway refused.
		first429At: first429 >= 0 ? first429 + 1 : null,
		nodeCpuMs: cpuMsBetween(rss.cpu, taskData?.startTime ?? null, nodeEnd),
		gatewayTimeline: scenario.gateway && taskData && checkIns.length ? gatewayTimeline(checkIns, taskData.startTime) : null,
		loadAverage1m: loadAtStart,
		peakRssMB: rss.peakKb ? round(rss.peakKb / 1024, 1) : null,
		childrenPeakRssMB: rss.childCount ? round(rss.childrenPeakKb / 1024, 1) : 0,
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

const isSendFlow = (flow) => !SENDLESS.has(flow);

/** The time a perfect client needs: latency-bound at our default concurrency, or rate-bound. */
function idealMs(scenario, concurrency) {
	if (scenario.gateway) return (scenario.items / scenario.gateway.requestsPerSecond) * 1000;
	return (scenario.items * LATENCY_MS) / concurrency;
}

/**
 * One row per protocol, scenario and flow: the run with the median node time stands for the
 * flow (for an even count, the slower middle one), with every run's time, and whether every run
 * delivered all. Sendless references appear under the protocol they ran with.
 */
function summarize(runs, scenarioList, protocols, concurrency) {
	const rows = [];
	for (const protocol of protocols) {
		for (const scenario of scenarioList) {
			for (const flow of scenario.flows) {
				const all = runs.filter((run) => run.protocol === protocol && run.scenario === scenario.id && run.flow === flow);
				if (!all.length) continue;
				const timed = all.filter((run) => run.nodeTimeMs !== null).sort((x, y) => x.nodeTimeMs - y.nodeTimeMs);
				const representative = timed.length ? timed[Math.floor(timed.length / 2)] : all[0];
				rows.push({
					...representative,
					runs: all.length,
					nodeTimesMs: all.map((run) => run.nodeTimeMs),
					allDelivered: isSendFlow(flow) ? all.every((run) => run.delivered === run.items) : null,
					allTokenFetches: isSendFlow(flow) ? all.map((run) => run.tokenFetches) : null,
					idealMs: round(idealMs(scenario, concurrency), 1),
				});
			}
		}
	}
	for (const row of rows) {
		const inScenario = rows.filter((other) => other.scenario === row.scenario);
		const diyA = inScenario.find((other) => other.flow === 'diyA' && other.protocol === row.protocol);
		// The sendless references ran once, with one protocol: they serve both.
		const baseline = inScenario.find((other) => other.flow === 'baseline');
		// A ratio to a DIY A that lost items compares with a run that did not do the job.
		const diyAComplete = diyA && diyA.allDelivered && !diyA.workflowError && diyA.nodeTimeMs;
		const send = isSendFlow(row.flow) && row.nodeTimeMs !== null;
		row.ratioToIdeal = send ? round(row.nodeTimeMs / row.idealMs) : null;
		row.ratioToDiyA = send && diyAComplete ? round(row.nodeTimeMs / diyA.nodeTimeMs) : null;
		row.rssOverBaselineMB = baseline?.peakRssMB && row.peakRssMB ? round(row.peakRssMB - baseline.peakRssMB, 1) : null;
	}
	return rows;
}

function pad(text, width, right = false) {
	const value = text === null || text === undefined ? '–' : String(text);
	return right ? value.padStart(width) : value.padEnd(width);
}

const COLUMNS = [
	['scenario', 20, (r) => r.scenario],
	['flow', 29, (r) => FLOW_LABEL[r.flow]],
	['n', 1, (r) => r.runs, true],
	['node ms', 7, (r) => r.nodeTimeMs, true],
	['CPU ms', 6, (r) => r.nodeCpuMs, true],
	['1st req', 7, (r) => r.firstRequestAfterMs, true],
	['delivered', 11, (r) => (r.delivered === null ? null : `${r.delivered}/${r.items}`), true],
	['err items', 9, (r) => (isSendFlow(r.flow) ? r.errorItems : null), true],
	['wf error', 8, (r) => (r.failed ? 'bench' : r.workflowError ? 'yes' : 'no'), true],
	['tokens', 6, (r) => r.tokenFetches, true],
	['429s', 4, (r) => (isSendFlow(r.flow) ? r.checkInStatuses?.[429] ?? 0 : null), true],
	['RSS MB', 6, (r) => r.peakRssMB, true],
	['÷DIY A', 6, (r) => r.ratioToDiyA, true],
	['÷ideal', 6, (r) => r.ratioToIdeal, true],
];

function table(rows) {
	const head = COLUMNS.map(([title, width, , right]) => pad(title, width, right)).join(' | ');
	const rule = COLUMNS.map(([, width]) => '-'.repeat(width)).join('-|-');
	const lines = rows.map((row) => COLUMNS.map(([, width, get, right]) => pad(get(row), width, right)).join(' | '));
	return [head, rule, ...lines].join('\n');
}

function markdownTable(rows) {
	const head = `| ${COLUMNS.map(([title]) => title).join(' | ')} |`;
	const rule = `|${COLUMNS.map(([, , , right]) => (right ? '---:' : '---')).join('|')}|`;
	const lines = rows.map((row) => `| ${COLUMNS.map(([, , get]) => get(row) ?? '–').join(' | ')} |`);
	return [head, rule, ...lines].join('\n');
}

const times = (row) => (row.runs > 1 ? ` (median of ${row.runs}: ${row.nodeTimesMs.join(', ')} ms)` : '');

/** The targets of one protocol, judged on its rows (and the sendless references, whichever protocol ran them). */
function checkTargets(rows, runs, protocol) {
	const find = (scenario, flow) =>
		rows.find((row) => row.scenario === scenario && row.flow === flow && (SENDLESS.has(flow) || row.protocol === protocol));
	const targets = [];
	const add = (name, met, detail) => targets.push({ protocol, name, met: Boolean(met), detail });

	for (const scenario of ['open-1000', 'open-10000']) {
		const ours = find(scenario, 'ours');
		const diy = find(scenario, 'diyA');
		if (!ours || !diy) continue;
		add(
			`${scenario}: this node ≤ ${TARGET.toDiyA}× DIY A's time`,
			ours.ratioToDiyA !== null && ours.ratioToDiyA <= TARGET.toDiyA && ours.allDelivered,
			`${ours.nodeTimeMs} ms${times(ours)} vs DIY A ${diy.nodeTimeMs} ms${times(diy)} = ${ours.ratioToDiyA ?? '–'}×` +
				(diy.allDelivered ? '' : ' (DIY A lost items: no ratio)'),
		);
	}
	for (const row of rows.filter((candidate) => candidate.protocol === protocol && candidate.gateway && candidate.flow === 'ours')) {
		const { requestsPerSecond, window } = row.gateway;
		const gwRuns = runs.filter((run) => run.protocol === protocol && run.scenario === row.scenario && run.flow === 'ours');
		const clean = gwRuns.every((run) => run.delivered === run.items && run.errorItems === 0 && !run.workflowError);
		add(
			`behind ${requestsPerSecond} req/s (${window} window): ${row.items}/${row.items} delivered with defaults in ≤ ${TARGET.gatewayToIdeal}× the ideal`,
			clean && row.ratioToIdeal !== null && row.ratioToIdeal <= TARGET.gatewayToIdeal,
			`${gwRuns.map((run) => run.delivered).join(', ')} of ${row.items} delivered; ${row.nodeTimeMs} ms${times(row)} ` +
				`vs ideal ${row.idealMs} ms = ${row.ratioToIdeal}×; 429s ${gwRuns.map((run) => run.checkInStatuses?.[429] ?? 0).join(', ')}`,
		);
		const diy = find(row.scenario, 'diyA');
		if (diy) {
			add(
				`behind ${requestsPerSecond} req/s (${window} window): DIY A with defaults fails`,
				diy.workflowError || diy.delivered < diy.items,
				`workflow error: ${diy.workflowError ?? 'none'}; ${diy.delivered}/${diy.items} delivered`,
			);
		}
	}
	const ours = runs.filter((run) => run.protocol === protocol && run.flow === 'ours' && !run.failed);
	if (ours.length) {
		add(
			'exactly one token fetch per run (this node)',
			ours.every((run) => run.tokenFetches === 1),
			`${ours.length} runs: ${[...new Set(ours.map((run) => run.tokenFetches))].join(', ')} token request(s) each`,
		);
	}
	const big = find('open-10000', 'ours');
	const base = find('open-10000', 'baseline');
	const echo = find('open-10000', 'echo');
	if (big && base && echo) {
		const itemsCost = round(echo.peakRssMB - base.peakRssMB, 1);
		const ourGrowth = round(big.peakRssMB - base.peakRssMB, 1);
		const diy = find('open-10000', 'diyA');
		add(
			'10,000 items complete; peak RSS over the items-only baseline ≤ the same items made by a Set node',
			big.allDelivered && ourGrowth <= itemsCost,
			`this node +${ourGrowth} MB over the baseline's ${base.peakRssMB} MB; items mapped by a Set node (the echo reference) ` +
				`+${itemsCost} MB${diy ? `; DIY A +${round(diy.peakRssMB - base.peakRssMB, 1)} MB` : ''}; ` +
				`our output is ${round(big.outputJsonBytes / 1048576, 2)} MB as JSON`,
		);
	}
	return targets;
}

/** Where the time goes at 1,000 items: n8n reading the parameters (the Dry Run reference) vs the rest (sending). */
function timeSplit(rows, protocol) {
	const ours = rows.find((row) => row.scenario === 'open-1000' && row.flow === 'ours' && row.protocol === protocol);
	const dryRun = rows.find((row) => row.scenario === 'open-1000' && row.flow === 'dryRun');
	if (!ours || !dryRun) return null;
	return (
		`where the time goes (1,000 items, medians): n8n reading the parameters (Dry Run reference) ${dryRun.nodeTimeMs} ms ` +
		`(CPU ${dryRun.nodeCpuMs} ms); this node in all ${ours.nodeTimeMs} ms (CPU ${ours.nodeCpuMs} ms); ` +
		`so sending adds ${ours.nodeTimeMs - dryRun.nodeTimeMs} ms`
	);
}

// ---------------------------------------------------------------------------------------------
// Main

function machine() {
	let cpuModel = os.cpus()[0]?.model ?? 'unknown';
	cpuModel = cpuModel.replace(/\s+/g, ' ').trim();
	let kernel = os.release();
	try {
		kernel = execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim();
	} catch {
		// uname missing: os.release() is enough.
	}
	return {
		cores: os.cpus().length,
		cpuModel,
		memoryGB: round(os.totalmem() / 1024 ** 3, 1),
		kernel,
		benchNode: process.version,
		n8nNode: `v${NODE_VERSION}`,
		n8n: N8N_VERSION,
		package: `${PACKAGE_NAME}@${PACKAGE_VERSION}`,
	};
}

function log(message) {
	process.stderr.write(`[bench] ${message}\n`);
}

/** The flows each protocol runs in a scenario: the sendless references only with the first protocol. */
function flowsOf(scenario, protocol, protocols) {
	return scenario.flows.filter((flow) => !SENDLESS.has(flow) || protocol === protocols[0]);
}

async function main() {
	const args = parseArgs(process.argv.slice(2));
	const simulatorModule = path.join(REPO, 'dist', 'simulator', 'VippsSimulator.js');
	const nodeModule = path.join(args.packageDir, 'dist', 'nodes', 'VippsCheckIn', 'VippsCheckIn.node.js');
	for (const file of [simulatorModule, nodeModule]) {
		if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`npm run build\` first`);
	}
	const { VippsSimulator } = require(simulatorModule);
	const { DEFAULT_CONCURRENCY } = require(
		path.join(args.packageDir, 'dist', 'nodes', 'VippsCheckIn', 'actions', 'common.descriptions.js'),
	);
	let list = scenarios(args);
	if (args.only) list = list.filter((scenario) => args.only.has(scenario.id));
	if (args.flows) list = list.map((scenario) => ({ ...scenario, flows: scenario.flows.filter((flow) => args.flows.has(flow)) }));
	list = list.filter((scenario) => scenario.flows.length);
	if (!list.length) throw new Error(`no scenario or flow selected\n${USAGE}`);
	const { protocols } = args;

	const benchStarted = Date.now();
	await kit.ensureN8n();
	// One simulator per protocol. The bare GUID as spec-generated mocks answer it (NOTES §2):
	// the DIY flows read it as text.
	const sims = {};
	let tarball;
	let folder;
	const runs = [];
	try {
		for (const protocol of protocols) {
			sims[protocol] = await VippsSimulator.start({ latencyMs: LATENCY_MS, checkInResponseStyle: 'rawText', https: protocol === 'https' });
			log(`${protocol} simulator on ${sims[protocol].baseUrl}, ${LATENCY_MS} ms latency`);
		}
		tarball = await kit.packPackage(args.packageDir);
		folder = await kit.createUserFolder({ tarball });
		log(`packed ${path.basename(tarball)}, installed as a community package in ${folder.userFolder}`);
		// $env.BENCH_ITEMS sizes the item list per run without re-importing workflows.
		const env = await kit.n8nEnv({
			userFolder: folder.userFolder,
			extra: {
				N8N_BLOCK_ENV_ACCESS_IN_NODE: 'false',
				// n8n trusts the HTTPS simulator's self-signed certificate, as it would a company CA.
				...(sims.https ? { NODE_EXTRA_CA_CERTS: sims.https.caCertPath } : {}),
				...(args.cpuProfDir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${args.cpuProfDir}` } : {}),
			},
		});
		const vipps = Object.fromEntries(protocols.map((protocol) => [protocol, sims[protocol].credentialData()]));
		const credentials = await kit.importCredentials(
			env,
			protocols.map((protocol) => ({ name: `Vipps simulator (${protocol})`, type: CREDENTIAL_TYPE, data: vipps[protocol] })),
		);
		const credential = Object.fromEntries(protocols.map((protocol, i) => [protocol, credentials[i]]));
		const builders = {
			ours: (protocol) => oursWorkflow(credential[protocol]),
			dryRun: (protocol) => oursWorkflow(credential[protocol], { dryRun: true }),
			diyA: (protocol) => diyWorkflow(`bench: DIY A (${protocol})`, vipps[protocol]),
			'diyA-cof': (protocol) => diyWorkflow(`bench: DIY A, continue on fail (${protocol})`, vipps[protocol], { continueOnFail: true }),
			diyB: (protocol) => diyWorkflow(`bench: DIY B, batching (${protocol})`, vipps[protocol], { batching: DIY_B_BATCH }),
			baseline: baselineWorkflow,
			echo: (protocol) => echoWorkflow(vipps[protocol].merchantSerialNumber),
		};
		const workflowIds = {};
		for (const protocol of protocols) {
			workflowIds[protocol] = {};
			const needed = new Set(list.flatMap((scenario) => flowsOf(scenario, protocol, protocols)));
			for (const flow of Object.keys(builders)) {
				if (needed.has(flow)) workflowIds[protocol][flow] = await kit.importWorkflow(env, builders[flow](protocol));
			}
		}
		log(`imported the workflows (${((Date.now() - benchStarted) / 1000).toFixed(0)} s so far)`);

		for (const scenario of list) {
			const rounds = Math.max(1, ...Object.values(scenario.repeat));
			for (let round_ = 0; round_ < rounds; round_++) {
				// Protocols interleaved too, so a busy spell on the machine does not fall on one of them.
				for (const protocol of protocols) {
					for (const flow of flowsOf(scenario, protocol, protocols)) {
						if (round_ >= (scenario.repeat[flow] ?? 1)) continue;
						// Generous: DIY B paces itself at ~91 req/s; nothing else comes near this.
						const timeoutMs = 90_000 + scenario.items * 30;
						let run;
						try {
							run = await runOnce({ sim: sims[protocol], protocol, env, workflowId: workflowIds[protocol][flow], flow, scenario, timeoutMs });
						} catch (error) {
							// One broken run (a timeout, a crash) must not cost the others' figures.
							run = { protocol, scenario: scenario.id, flow, items: scenario.items, gateway: scenario.gateway, nodeTimeMs: null, failed: shortError(error) };
							log(`${protocol} ${scenario.id} ${flow}: the run itself failed: ${run.failed}`);
						}
						runs.push(run);
						if (!run.failed) {
							log(
								`${protocol} ${scenario.id} ${flow}: node ${run.nodeTimeMs} ms (CPU ${run.nodeCpuMs} ms), delivered ${run.delivered ?? '–'}, ` +
									`error items ${run.errorItems}, wf error ${run.workflowError ?? 'none'}, tokens ${run.tokenFetches ?? '–'}, ` +
									`429s ${run.checkInStatuses[429] ?? 0}, RSS ${run.peakRssMB} MB, load ${run.loadAverage1m}, CLI ${run.cliWallMs} ms`,
							);
						}
					}
				}
			}
		}
	} finally {
		for (const sim of Object.values(sims)) await sim.close();
		if (folder && !args.keep) folder.remove();
		if (folder && args.keep) log(`kept ${folder.userFolder}`);
		if (tarball) fs.rmSync(path.dirname(tarball), { recursive: true, force: true });
	}

	const rows = summarize(runs, list, protocols, DEFAULT_CONCURRENCY);
	const targets = protocols.flatMap((protocol) => checkTargets(rows, runs, protocol));
	const loads = runs.map((run) => run.loadAverage1m).filter((load) => load !== undefined && load !== null);
	const report = {
		when: new Date().toISOString(),
		command: `node bench/run.js${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
		quick: args.quick,
		machine: machine(),
		settings: {
			protocols,
			latencyMs: LATENCY_MS,
			gatewayRps: GATEWAY_RPS,
			ourConcurrency: DEFAULT_CONCURRENCY,
			diyBBatching: DIY_B_BATCH,
			checkInResponseStyle: 'rawText',
			repeat: args.quick ? 1 : args.repeat,
			targets: TARGET,
			ideal: `open: items × ${LATENCY_MS} ms ÷ ${DEFAULT_CONCURRENCY}; behind the gateway: items ÷ ${GATEWAY_RPS} req/s`,
		},
		loadAverage1m: loads.length ? { min: Math.min(...loads), max: Math.max(...loads) } : null,
		benchSeconds: round((Date.now() - benchStarted) / 1000, 1),
		rows,
		targets,
		runs,
	};
	fs.mkdirSync(path.dirname(args.out), { recursive: true });
	fs.writeFileSync(args.out, `${JSON.stringify(report, null, 2)}\n`);

	const { machine: m } = report;
	console.log(
		`\nn8n ${m.n8n} on Node ${NODE_VERSION}, ${m.cores} cores, ${m.memoryGB} GB; simulator latency ${LATENCY_MS} ms; ` +
			`this node's concurrency ${DEFAULT_CONCURRENCY}; 1-min load average during the runs ${loads.length ? `${Math.min(...loads)}–${Math.max(...loads)}` : '–'}`,
	);
	for (const protocol of protocols) {
		const own = rows.filter((row) => row.protocol === protocol);
		console.log(`\n${protocol.toUpperCase()}${protocol === protocols[0] && own.some((row) => SENDLESS.has(row.flow)) ? ' (with the references that send nothing)' : ''}\n`);
		console.log(table(own));
		const split = timeSplit(rows, protocol);
		if (split) console.log(`\n${split}`);
		if (process.env.BENCH_MARKDOWN) console.log(`\n${markdownTable(own)}`);
	}
	console.log(
		"\nnode ms: the send node's executionTime in n8n's run data (median when n > 1); CPU ms: n8n's CPU time meanwhile;\n" +
			'1st req: ms from the node\'s start to the first check-in reaching the simulator; ÷ideal: ' + report.settings.ideal,
	);
	// n8n and the simulator alone keep about two processes busy: more than that is someone else.
	if (loads.length && Math.max(...loads) > m.cores + 1) {
		console.log(
			`\nNote: the 1-minute load average reached ${Math.max(...loads)} on ${m.cores} cores: other processes competed ` +
				'for the CPU, so wall times are inflated (CPU ms much less so). Compare runs made at similar load.',
		);
	}
	for (const protocol of protocols) {
		console.log(
			`\nTargets, ${protocol.toUpperCase()}${args.quick ? ' (a smoke: the targets are set for the full scenarios, e.g. 1,000 items behind the gateway)' : ''}:`,
		);
		for (const target of targets.filter((candidate) => candidate.protocol === protocol)) {
			console.log(`  ${target.met ? 'MET    ' : 'NOT MET'}  ${target.name}: ${target.detail}`);
		}
	}
	console.log(`\n${path.relative(process.cwd(), args.out)} written; the bench took ${report.benchSeconds} s`);
}

module.exports = {
	markdownTable,
	table,
	FLOW_LABEL,
	SEND_NODE,
	oursWorkflow,
	diyWorkflow,
	baselineWorkflow,
	echoWorkflow,
	runOnce,
	LATENCY_MS,
	CREDENTIAL_TYPE,
};

if (require.main === module) {
	main().catch((error) => {
		console.error(error.stack ?? error);
		process.exitCode = 1;
	});
}
