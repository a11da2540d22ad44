'use strict';

// Issue 19's storm benchmark: the node the way most builders run it, one contact per execution.
// Real n8n (`n8n start`, the server users run), a published workflow "Webhook → Vipps Check-in"
// that answers each call with the node's output (Respond: when last node finishes), called on
// its production webhook URL. N calls of one contact each (each its own phone number) arrive at
// a fixed rate, faster than the gateway in front of the simulator allows but no faster than n8n
// keeps up on the machine (default 150 calls at 15 a second behind 5 requests a second).
//
// Scenarios (ids for --only):
//   storm-open            the storm with no gateway limit: n8n's own cost of the storm
//   storm-fixed           behind the simulator's gateway, fixed one-second windows, 429 at once
//   storm-sliding         behind the simulator's gateway, a sliding one-second window, 429 at once
//   second-batch-fixed    two webhook-triggered batch executions (default 500 items each) one after
//   second-batch-sliding  the other behind the same gateway in the same n8n process: does the
//                         second start at the rate the first learned?
// Flows in the storm scenarios (--flows): `ours` (Webhook → Vipps Check-in) and `diy`
// (Webhook → HTTP Request for the token → HTTP Request for the check-in, Retry On Fail on with
// n8n's defaults: 3 tries, 1 s apart), the flow a builder makes without this package.
//
// Every run gets a fresh n8n process (the same user folder, restarted): the token cache and the
// node's rate control live per process, so each run's token requests are "token requests per
// process", and nothing one run learned leaks into the next.
//
// Per run: calls answered with a check-in id (lost = N − those), the time from the first call
// to the last answer, the gateway's ideal (N ÷ limit), the ratio to max(ideal, the unthrottled
// storm's time of the same protocol), the gateway's 429s (token requests included) as a share
// of N, token requests, what the simulator saw delivered (distinct phone numbers answered 200),
// the answers' latency, n8n's CPU time and the load average.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');

const REPO = path.resolve(__dirname, '..');
const kit = require(path.join(REPO, 'scripts', 'real-n8n', 'n8n.js'));
const diy = require('./diyRequests');

const LATENCY_MS = 50;
const CREDENTIAL_TYPE = 'vippsMobilePayApi';

/** The storm's defaults; --quick (with --storm) uses the small ones, for development. */
const STORM_DEFAULTS = { calls: 150, rate: 15, limit: 5, batchItems: 500, batchLimit: 50, batchPauseMs: 2000 };
const STORM_QUICK = { ...STORM_DEFAULTS, calls: 30, rate: 10, batchItems: 100 };

/** Issue 19's targets for the storm and the second batch. */
const STORM_TARGET = { toReference: 1.3, share429: 0.25, tokensPerProcess: 1, firstBatchToIdeal: 1.3, secondBatchToIdeal: 1.1 };

const STORM_GATEWAYS = {
	fixed: { window: 'fixed', throttle: 'instant', label: 'fixed windows, 429 at once' },
	sliding: { window: 'sliding', throttle: 'instant', label: 'sliding window, 429 at once' },
};

const STORM_FLOWS = ['ours', 'diy'];

function stormScenarios(settings) {
	const gateway = (kind, requestsPerSecond) => ({ requestsPerSecond, window: STORM_GATEWAYS[kind].window, throttle: STORM_GATEWAYS[kind].throttle });
	return [
		{ id: 'storm-open', kind: 'storm', gateway: null, flows: [...STORM_FLOWS] },
		...Object.keys(STORM_GATEWAYS).map((kind) => ({ id: `storm-${kind}`, kind: 'storm', gatewayKind: kind, gateway: gateway(kind, settings.limit), flows: [...STORM_FLOWS] })),
		...Object.keys(STORM_GATEWAYS).map((kind) => ({
			id: `second-batch-${kind}`,
			kind: 'batch',
			gatewayKind: kind,
			gateway: gateway(kind, settings.batchLimit),
			flows: ['ours'],
		})),
	];
}

const STORM_IDS = ['storm-open', ...Object.keys(STORM_GATEWAYS).flatMap((kind) => [`storm-${kind}`, `second-batch-${kind}`])];

// ---------------------------------------------------------------------------------------------
// Workflows (created through n8n's REST API and published, as a builder does in the editor)

let seq = 0;
function node(name, type, typeVersion, parameters, extra = {}) {
	seq++;
	return { id: crypto.randomUUID(), name, type, typeVersion, position: [seq * 220, 0], parameters, ...extra };
}

function chain(name, nodes) {
	const connections = {};
	for (let i = 0; i + 1 < nodes.length; i++) connections[nodes[i].name] = { main: [[{ node: nodes[i + 1].name, type: 'main', index: 0 }]] };
	return { name, nodes, connections, settings: { executionOrder: 'v1' }, active: false };
}

/** Production webhook; answers with the last node's output (first item, or every item for a batch). */
function webhook(webhookPath, responseData = 'firstEntryJson') {
	return node('Webhook', 'n8n-nodes-base.webhook', 2.1, { httpMethod: 'POST', path: webhookPath, responseMode: 'lastNode', responseData, options: {} }, { webhookId: crypto.randomUUID() });
}

function ourNode(nodeType, credential, phoneExpression) {
	return node(
		'Vipps Check-in',
		nodeType,
		1,
		{ resource: 'checkIn', operation: 'send', phoneNumber: phoneExpression, isMember: true, options: {} },
		{ credentials: { [CREDENTIAL_TYPE]: { id: credential.id, name: credential.name } } },
	);
}

function stormOursWorkflow(protocol, nodeType, credential) {
	return chain(`storm: ours (${protocol})`, [webhook(`storm-ours-${protocol}`), ourNode(nodeType, credential, '={{ $json.body.phone }}')]);
}

/** Webhook → HTTP Request (token) → HTTP Request (check-in), both with Retry On Fail on and n8n's defaults. */
function stormDiyWorkflow(protocol, vipps) {
	const retry = { retryOnFail: true };
	const getToken = node('Get token', 'n8n-nodes-base.httpRequest', 4.5, diy.tokenRequest(vipps), retry);
	const jsonBody = '={\n  "phoneNumber": "{{ $(\'Webhook\').item.json.body.phone }}",\n  "isMember": true\n}';
	const checkIn = node('Check-in (HTTP Request)', 'n8n-nodes-base.httpRequest', 4.5, diy.checkInRequest(vipps, jsonBody), retry);
	return chain(`storm: DIY, Retry On Fail (${protocol})`, [webhook(`storm-diy-${protocol}`), getToken, checkIn]);
}

/** A batch started by a webhook call: `{ items, first }` become that many customers, all answered at the end. */
function batchWorkflow(protocol, nodeType, credential) {
	return chain(`second batch: ours (${protocol})`, [
		webhook(`batch-ours-${protocol}`, 'allEntries'),
		node('Customer list', 'n8n-nodes-base.set', 3.4, {
			mode: 'raw',
			jsonOutput: '={{ { customers: Array.from({ length: Number($json.body.items) }, (_, i) => ({ phone: String(Number($json.body.first) + i) })) } }}',
			options: {},
		}),
		node('One item per customer', 'n8n-nodes-base.splitOut', 1, { fieldToSplitOut: 'customers', options: {} }),
		ourNode(nodeType, credential, '={{ $json.phone }}'),
	]);
}

const webhookPathOf = (scenario, flow, protocol) => (scenario.kind === 'batch' ? `batch-ours-${protocol}` : `storm-${flow}-${protocol}`);

// ---------------------------------------------------------------------------------------------
// n8n: one user folder, restarted for every run

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function cpuTicks(pid) {
	try {
		const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
		const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		return Number(fields[11]) + Number(fields[12]);
	} catch {
		return null;
	}
}

/** Waits until n8n has registered the production webhook (publishing goes through an outbox). */
async function waitForWebhook(url, webhookPath, timeoutMs = 60_000) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		try {
			const probe = await fetch(`${url}/webhook/${webhookPath}`, { signal: AbortSignal.timeout(5000) });
			const text = await probe.text();
			// A GET runs nothing: once the POST webhook exists, n8n says "Did you mean to make a POST request?".
			if (probe.status !== 404 || /POST request/.test(text)) return;
		} catch {
			// Not listening yet.
		}
		if (Date.now() > deadline) throw new Error(`the production webhook ${webhookPath} never got registered`);
		await sleep(250);
	}
}

async function setUpStormN8n({ packageDir, nodeType, sims, protocols, scenarios, log }) {
	const tarball = await kit.packPackage(packageDir);
	const folder = await kit.createUserFolder({ tarball }).finally(() => fs.rmSync(path.dirname(tarball), { recursive: true, force: true }));
	try {
		const env = await kit.n8nEnv({
			userFolder: folder.userFolder,
			extra: {
				...(sims.https ? { NODE_EXTRA_CA_CERTS: sims.https.caCertPath } : {}),
				// Not one webhook call waits for a free slot: n8n's own default, said out loud.
				N8N_CONCURRENCY_PRODUCTION_LIMIT: '-1',
			},
		});
		const server = await kit.startN8n(env, { timeoutMs: 180_000 });
		const { cookie } = await kit.setupOwner(server.url);
		const rest = kit.restClient(server.url, cookie);
		const needs = (test) => scenarios.some(test);
		const workflowIds = {};
		for (const protocol of protocols) {
			const vipps = sims[protocol].credentialData();
			const credential = await rest.post('/credentials', { name: `Vipps simulator (${protocol})`, type: CREDENTIAL_TYPE, data: vipps });
			const ref = { id: credential.id, name: credential.name };
			const workflows = [];
			if (needs((s) => s.kind === 'storm' && s.flows.includes('ours'))) workflows.push(stormOursWorkflow(protocol, nodeType, ref));
			if (needs((s) => s.kind === 'storm' && s.flows.includes('diy'))) workflows.push(stormDiyWorkflow(protocol, vipps));
			if (needs((s) => s.kind === 'batch')) workflows.push(batchWorkflow(protocol, nodeType, ref));
			for (const workflow of workflows) {
				const created = await rest.post('/workflows', workflow);
				workflowIds[workflow.nodes[0].parameters.path] = created.id;
				await rest.post(`/workflows/${created.id}/activate`, { versionId: created.versionId });
				log(`storm: published "${workflow.name}" (${created.id})`);
			}
		}
		return { folder, env, server, workflowIds };
	} catch (error) {
		folder.remove();
		throw error;
	}
}

// ---------------------------------------------------------------------------------------------
// One run

/** A GUID anywhere in the answer: this node's `checkInId`, or the DIY flow's text response in `data`. */
function checkInIdOf(body) {
	if (body && typeof body.checkInId === 'string' && body.checkInId) return body.checkInId;
	const text = body && typeof body.data === 'string' ? body.data : null;
	const match = text && /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i.exec(text);
	return match ? match[0] : null;
}

async function post(url, body, timeoutMs) {
	const sentAt = Date.now();
	try {
		const response = await fetch(url, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify(body),
			signal: AbortSignal.timeout(timeoutMs),
		});
		const text = await response.text();
		let parsed;
		try {
			parsed = JSON.parse(text);
		} catch {
			parsed = text;
		}
		return { sentAt, answeredAt: Date.now(), status: response.status, body: parsed };
	} catch (error) {
		return { sentAt, answeredAt: Date.now(), status: null, error: String(error.message ?? error).slice(0, 160) };
	}
}

function statusCounts(requests) {
	const counts = {};
	for (const { status } of requests) counts[status] = (counts[status] ?? 0) + 1;
	return counts;
}

/** Distinct phone numbers the check-in endpoint answered 200, and how many of them it answered 200 more than once. */
function deliveredOf(sim) {
	const counts = new Map();
	for (const request of sim.checkInRequests()) {
		const phone = request.body?.phoneNumber;
		if (request.status === 200 && typeof phone === 'string') counts.set(phone, (counts.get(phone) ?? 0) + 1);
	}
	return { delivered: counts.size, deliveredTwice: [...counts.values()].filter((n) => n > 1).length };
}

function percentile(sorted, p) {
	if (!sorted.length) return null;
	return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** What the gateway and the simulator saw during one run. */
function simulatorFigures(sim) {
	const all = sim.requests.filter((request) => request.method === 'POST');
	const tokens = sim.tokenRequests();
	const checkIns = sim.checkInRequests();
	return {
		tokenRequests: tokens.length,
		checkInRequests: checkIns.length,
		checkInStatuses: statusCounts(checkIns),
		tokenStatuses: statusCounts(tokens),
		refusals429: all.filter((request) => request.status === 429).length,
		...deliveredOf(sim),
	};
}

/** N calls of one contact each, call i sent at i ÷ rate seconds (absolute times: a late call does not push the others). */
async function fireStorm({ url, settings, timeoutMs }) {
	const start = Date.now();
	const calls = [];
	for (let i = 0; i < settings.calls; i++) {
		const due = start + (i * 1000) / settings.rate;
		const wait = due - Date.now();
		if (wait > 0) await sleep(wait);
		// Norwegian mobile numbers 47 41 00 00 00, 47 41 00 00 01, …: each call its own contact.
		const phone = `47${41_000_000 + i}`;
		calls.push(post(url, { phone }, timeoutMs).then((answer) => ({ phone, ...answer })));
	}
	return Promise.all(calls);
}

async function stormRun({ server, sim, scenario, flow, protocol, settings }) {
	sim.resetLog();
	sim.setGatewayLimit(scenario.gateway ?? undefined);
	const url = `${server.url}/webhook/${webhookPathOf(scenario, flow, protocol)}`;
	const idealMs = scenario.gateway ? (settings.calls / scenario.gateway.requestsPerSecond) * 1000 : null;
	const loadAverage1m = round(os.loadavg()[0], 2);
	const cpuBefore = cpuTicks(server.pid);
	// Generous: a call waits at most this long for its answer (the ideal at the limit, and more).
	const timeoutMs = Math.max(120_000, 4 * (idealMs ?? 0));
	const answers = await fireStorm({ url, settings, timeoutMs });
	const cpuAfter = cpuTicks(server.pid);
	const firstCall = Math.min(...answers.map((a) => a.sentAt));
	const lastCall = Math.max(...answers.map((a) => a.sentAt));
	const lastAnswer = Math.max(...answers.map((a) => a.answeredAt));
	const answered = answers.filter((a) => a.status === 200 && checkInIdOf(a.body));
	const latencies = answers.map((a) => a.answeredAt - a.sentAt).sort((x, y) => x - y);
	const sim_ = simulatorFigures(sim);
	const failures = answers.filter((a) => !answered.includes(a));
	return {
		protocol,
		scenario: scenario.id,
		kind: 'storm',
		flow,
		gateway: scenario.gateway,
		calls: settings.calls,
		rate: settings.rate,
		answered: answered.length,
		lost: settings.calls - answered.length,
		answerStatuses: statusCounts(answers),
		exampleFailure: failures.length ? JSON.stringify(failures[0].error ?? failures[0].body).slice(0, 200) : null,
		spanMs: lastAnswer - firstCall,
		sendSpanMs: lastCall - firstCall,
		idealMs,
		latencyMs: { p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95), max: latencies.at(-1) ?? null },
		...sim_,
		share429: round(sim_.refusals429 / settings.calls, 3),
		n8nCpuMs: cpuBefore !== null && cpuAfter !== null ? (cpuAfter - cpuBefore) * 10 : null,
		loadAverage1m,
	};
}

/** The newest execution of the batch workflow since `since`: the send node's own time from n8n's run data. */
async function batchNodeTime(env, workflowId, since, deadlineMs = 20_000) {
	const deadline = Date.now() + deadlineMs;
	for (;;) {
		const execution = await kit.readExecution(env, workflowId, since).catch(() => null);
		const task = execution?.resultData?.runData?.['Vipps Check-in']?.[0];
		const error = execution?.resultData?.error?.message ?? null;
		if (task && execution.status !== 'running' && execution.status !== 'new') return { nodeTimeMs: task.executionTime, status: execution.status, error };
		if (Date.now() > deadline) return { nodeTimeMs: null, status: execution?.status ?? null, error };
		await sleep(500);
	}
}

/** Two batches one after the other behind the same gateway, in the same (fresh) n8n process. */
async function batchRun({ server, env, workflowId, sim, scenario, protocol, settings }) {
	sim.setGatewayLimit(scenario.gateway);
	const url = `${server.url}/webhook/${webhookPathOf(scenario, 'ours', protocol)}`;
	const idealMs = (settings.batchItems / scenario.gateway.requestsPerSecond) * 1000;
	const batches = [];
	for (const [index, first] of [
		// Norwegian mobile numbers 47 45 00 00 00, … and 47 46 00 00 00, …: no contact twice.
		[1, 4745_000_000],
		[2, 4746_000_000],
	]) {
		// The second batch comes once the one-second windows the first one used are over, so its ideal
		// (items ÷ limit) is within its reach; what the first batch learned is all it brings along.
		if (index === 2) await sleep(settings.batchPauseMs);
		sim.resetLog();
		const loadAverage1m = round(os.loadavg()[0], 2);
		const since = new Date().toISOString().replace('T', ' ').slice(0, 23);
		const cpuBefore = cpuTicks(server.pid);
		const answer = await post(url, { items: settings.batchItems, first: String(first) }, Math.max(300_000, 6 * idealMs));
		const cpuAfter = cpuTicks(server.pid);
		const items = Array.isArray(answer.body) ? answer.body : answer.body && typeof answer.body === 'object' ? [answer.body] : [];
		const { nodeTimeMs, status, error } = await batchNodeTime(env, workflowId, since);
		const sim_ = simulatorFigures(sim);
		batches.push({
			protocol,
			scenario: scenario.id,
			kind: 'batch',
			flow: 'ours',
			batch: index,
			gateway: scenario.gateway,
			items: settings.batchItems,
			answerStatus: answer.status,
			answered: items.filter((item) => checkInIdOf(item)).length,
			executionStatus: status,
			callMs: answer.answeredAt - answer.sentAt,
			nodeTimeMs,
			idealMs,
			ratioToIdeal: round((nodeTimeMs ?? answer.answeredAt - answer.sentAt) / idealMs),
			...sim_,
			share429: round(sim_.refusals429 / settings.batchItems, 3),
			n8nCpuMs: cpuBefore !== null && cpuAfter !== null ? (cpuAfter - cpuBefore) * 10 : null,
			loadAverage1m,
			exampleFailure: answer.status === 200 ? null : (error ?? JSON.stringify(answer.error ?? answer.body)).slice(0, 200),
		});
	}
	return batches;
}

// ---------------------------------------------------------------------------------------------
// The whole storm

function round(value, digits = 2) {
	if (value === null || value === undefined || !Number.isFinite(value)) return null;
	const factor = 10 ** digits;
	return Math.round(value * factor) / factor;
}

/**
 * Runs the selected storm scenarios for each protocol: a fresh n8n process per run (each flow
 * of each storm scenario, each second-batch pair), protocols interleaved per scenario.
 */
async function runStorm({ packageDir, nodeType, protocols, scenarios, settings, log, VippsSimulator }) {
	const sims = {};
	const runs = [];
	let setUp = null;
	try {
		for (const protocol of protocols) {
			sims[protocol] = await VippsSimulator.start({ latencyMs: LATENCY_MS, checkInResponseStyle: 'rawText', https: protocol === 'https' });
			log(`storm: ${protocol} simulator on ${sims[protocol].baseUrl}, ${LATENCY_MS} ms latency`);
		}
		const started = Date.now();
		setUp = await setUpStormN8n({ packageDir, nodeType, sims, protocols, scenarios, log });
		log(`storm: n8n user folder ${setUp.folder.userFolder} ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);
		let server = setUp.server;
		let fresh = true;
		for (const scenario of scenarios) {
			for (const protocol of protocols) {
				for (const flow of scenario.flows) {
					const label = `storm: ${protocol} ${scenario.id} ${flow}`;
					try {
						// A fresh process per run (the first run takes the one that set things up).
						if (!fresh) {
							await server.stop();
							server = await kit.startN8n(setUp.env, { timeoutMs: 180_000 });
							setUp.server = server;
						}
						fresh = false;
						await waitForWebhook(server.url, webhookPathOf(scenario, flow, protocol));
						if (scenario.kind === 'batch') {
							const batches = await batchRun({ server, env: setUp.env, workflowId: setUp.workflowIds[webhookPathOf(scenario, flow, protocol)], sim: sims[protocol], scenario, protocol, settings });
							runs.push(...batches);
							for (const b of batches) {
								log(
									`${label} batch ${b.batch}: ${b.answered}/${b.items} answered, delivered ${b.delivered}, node ${b.nodeTimeMs} ms (call ${b.callMs} ms), ` +
										`ideal ${b.idealMs} ms = ${b.ratioToIdeal}×, 429s ${b.refusals429}, tokens ${b.tokenRequests}, load ${b.loadAverage1m}` +
										(b.exampleFailure ? `; ${b.exampleFailure}` : ''),
								);
							}
						} else {
							const result = await stormRun({ server, sim: sims[protocol], scenario, flow, protocol, settings });
							runs.push(result);
							log(
								`${label}: ${result.answered}/${result.calls} answered (lost ${result.lost}), first call → last answer ${result.spanMs} ms ` +
									`(calls sent over ${result.sendSpanMs} ms), 429s ${result.refusals429}, tokens ${result.tokenRequests}, delivered ${result.delivered}, ` +
									`n8n CPU ${result.n8nCpuMs} ms, load ${result.loadAverage1m}` +
									(result.exampleFailure ? `; e.g. ${result.exampleFailure}` : ''),
							);
						}
					} catch (error) {
						const failed = String(error.message ?? error).split('\n')[0].slice(0, 160);
						runs.push({ protocol, scenario: scenario.id, kind: scenario.kind, flow, failed });
						log(`${label}: the run itself failed: ${failed}`);
					}
				}
			}
		}
	} finally {
		if (setUp) {
			await setUp.server.stop().catch(() => {});
			if (settings.keep) log(`storm: kept ${setUp.folder.userFolder}`);
			else setUp.folder.remove();
		}
		for (const sim of Object.values(sims)) await sim.close();
	}
	for (const run of runs) {
		if (run.kind !== 'storm' || run.failed) continue;
		const open = runs.find((other) => other.scenario === 'storm-open' && other.flow === run.flow && other.protocol === run.protocol && !other.failed);
		// Ours is the reference for n8n's own cost; a flow without an open run of its own is held to ours.
		const reference = open ?? runs.find((other) => other.scenario === 'storm-open' && other.flow === 'ours' && other.protocol === run.protocol && !other.failed);
		run.unthrottledMs = reference?.spanMs ?? null;
		// The open storm is the reference itself: no ratio.
		if (!run.gateway) continue;
		run.referenceMs = Math.max(run.idealMs ?? 0, run.unthrottledMs ?? 0) || null;
		// A run that lost calls did not do the job: its time is no measure (the batch bench's rule for DIY A).
		run.ratioToReference = run.referenceMs && run.lost === 0 ? round(run.spanMs / run.referenceMs) : null;
	}
	return { settings: { ...settings, latencyMs: LATENCY_MS, gateways: STORM_GATEWAYS, targets: STORM_TARGET }, runs, targets: stormTargets(runs, protocols) };
}

function stormTargets(runs, protocols) {
	const targets = [];
	for (const protocol of protocols) {
		const add = (name, met, detail) => targets.push({ protocol, name, met: Boolean(met), detail });
		for (const run of runs.filter((r) => r.protocol === protocol && r.kind === 'storm' && r.flow === 'ours')) {
			const where = run.gateway ? `behind ${run.gateway.requestsPerSecond} req/s, ${STORM_GATEWAYS[Object.keys(STORM_GATEWAYS).find((k) => STORM_GATEWAYS[k].window === run.gateway.window)].label}` : 'no gateway limit';
			const head = `storm ${run.calls ?? ''} calls at ${run.rate ?? ''}/s, ${where}`;
			if (run.failed) {
				add(`${head}: the run`, false, `the run itself failed: ${run.failed}`);
				continue;
			}
			const diy = runs.find((r) => r.protocol === protocol && r.scenario === run.scenario && r.flow === 'diy' && !r.failed);
			const diyNote = diy ? ` (DIY: ${diy.answered} answered, lost ${diy.lost}, ${diy.spanMs} ms, 429s ${diy.refusals429}, tokens ${diy.tokenRequests})` : '';
			add(
				`${head}: 0 lost`,
				run.lost === 0 && run.deliveredTwice === 0,
				`${run.answered}/${run.calls} answered with a check-in id, ${run.delivered} delivered, ${run.deliveredTwice} of them twice${diyNote}`,
			);
			if (run.gateway) {
				add(
					`${head}: first call → last answer ≤ ${STORM_TARGET.toReference}× max(ideal, unthrottled)`,
					run.ratioToReference !== null && run.ratioToReference <= STORM_TARGET.toReference,
					`${run.spanMs} ms vs max(ideal ${run.idealMs} ms, unthrottled ${run.unthrottledMs ?? '–'} ms) = ${run.ratioToReference ?? '–'}×` +
						(run.lost ? ` (${run.lost} calls lost: no ratio)` : ''),
				);
				add(
					`${head}: 429s ≤ ${STORM_TARGET.share429 * 100} % of the calls`,
					run.share429 <= STORM_TARGET.share429,
					`${run.refusals429} 429s for ${run.calls} calls = ${round(run.share429 * 100, 1)} %`,
				);
			}
			add(`${head}: one token request per process`, run.tokenRequests === STORM_TARGET.tokensPerProcess, `${run.tokenRequests} token request(s)`);
		}
		for (const scenario of [...new Set(runs.filter((r) => r.protocol === protocol && r.kind === 'batch').map((r) => r.scenario))]) {
			const pair = runs.filter((r) => r.protocol === protocol && r.scenario === scenario);
			const failed = pair.find((r) => r.failed);
			if (failed) {
				add(`${scenario}: the run`, false, `the run itself failed: ${failed.failed}`);
				continue;
			}
			add(
				`${scenario}: one token request for both batches (one process)`,
				pair.reduce((sum, b) => sum + b.tokenRequests, 0) === STORM_TARGET.tokensPerProcess,
				pair.map((b) => `batch ${b.batch}: ${b.tokenRequests}`).join(', '),
			);
			for (const b of pair) {
				const limit = b.batch === 1 ? STORM_TARGET.firstBatchToIdeal : STORM_TARGET.secondBatchToIdeal;
				add(
					`${scenario}: batch ${b.batch} of ${b.items} delivered in ≤ ${limit}× the ideal`,
					b.delivered === b.items && b.answered === b.items && b.ratioToIdeal !== null && b.ratioToIdeal <= limit,
					`${b.delivered}/${b.items} delivered, ${b.answered} answered; node ${b.nodeTimeMs} ms (call ${b.callMs} ms) vs ideal ${b.idealMs} ms = ${b.ratioToIdeal}×; ` +
						`429s ${b.refusals429}, tokens ${b.tokenRequests}`,
				);
			}
		}
	}
	return targets;
}

// ---------------------------------------------------------------------------------------------
// Tables

const FLOW_LABEL = { ours: 'this node', diy: 'DIY: HTTP Request ×2, Retry On Fail' };

const STORM_COLUMNS = [
	['scenario', 13, (r) => r.scenario],
	['flow', 35, (r) => FLOW_LABEL[r.flow]],
	['answered', 9, (r) => (r.failed ? 'bench' : `${r.answered}/${r.calls}`), true],
	['lost', 4, (r) => r.lost, true],
	['calls sent over ms', 18, (r) => r.sendSpanMs, true],
	['first→last ms', 13, (r) => r.spanMs, true],
	['ideal ms', 8, (r) => r.idealMs, true],
	['÷max(ideal, open)', 17, (r) => r.ratioToReference, true],
	['429s', 5, (r) => r.refusals429, true],
	['429s ÷ N', 8, (r) => (r.share429 === undefined || r.share429 === null ? null : `${round(r.share429 * 100, 1)} %`), true],
	['tokens', 6, (r) => r.tokenRequests, true],
	['delivered', 9, (r) => r.delivered, true],
	['twice', 5, (r) => r.deliveredTwice, true],
	['p50/p95 ms', 11, (r) => (r.latencyMs ? `${r.latencyMs.p50}/${r.latencyMs.p95}` : null), true],
	['n8n CPU ms', 10, (r) => r.n8nCpuMs, true],
	['load', 4, (r) => r.loadAverage1m, true],
];

const BATCH_COLUMNS = [
	['scenario', 20, (r) => r.scenario],
	['batch', 5, (r) => r.batch, true],
	['answered', 9, (r) => (r.failed ? 'bench' : `${r.answered}/${r.items}`), true],
	['delivered', 9, (r) => r.delivered, true],
	['node ms', 7, (r) => r.nodeTimeMs, true],
	['call ms', 7, (r) => r.callMs, true],
	['ideal ms', 8, (r) => r.idealMs, true],
	['÷ideal', 6, (r) => r.ratioToIdeal, true],
	['429s', 5, (r) => r.refusals429, true],
	['tokens', 6, (r) => r.tokenRequests, true],
	['n8n CPU ms', 10, (r) => r.n8nCpuMs, true],
	['load', 4, (r) => r.loadAverage1m, true],
];

function pad(text, width, right = false) {
	const value = text === null || text === undefined ? '–' : String(text);
	return right ? value.padStart(width) : value.padEnd(width);
}

function textTable(rows, cols) {
	const head = cols.map(([title, width, , right]) => pad(title, width, right)).join(' | ');
	const rule = cols.map(([, width]) => '-'.repeat(width)).join('-|-');
	return [head, rule, ...rows.map((row) => cols.map(([, width, get, right]) => pad(get(row), width, right)).join(' | '))].join('\n');
}

function markdownTable(rows, cols) {
	const head = `| ${cols.map(([title]) => title).join(' | ')} |`;
	const rule = `|${cols.map(([, , , right]) => (right ? '---:' : '---')).join('|')}|`;
	return [head, rule, ...rows.map((row) => `| ${cols.map(([, , get]) => get(row) ?? '–').join(' | ')} |`)].join('\n');
}

/** Whether n8n kept up with the arrival rate: the open storm's last answer soon after its last call. */
function keptUpLines(storm, protocols) {
	const lines = [];
	for (const protocol of protocols) {
		for (const run of storm.runs.filter((r) => r.protocol === protocol && r.scenario === 'storm-open' && !r.failed)) {
			const behind = run.spanMs - run.sendSpanMs;
			const kept = behind <= 2000;
			lines.push(
				`${protocol.toUpperCase()} ${FLOW_LABEL[run.flow]}, no limit: the last answer came ${behind} ms after the last call` +
					(kept ? ': n8n kept up with the arrival rate.' : `: n8n fell behind ${run.rate} calls a second on this machine; a lower --storm-rate measures the node, not the machine.`),
			);
		}
	}
	return lines;
}

function settingsLine(storm) {
	const s = storm.settings;
	return (
		`Storm: ${s.calls} production webhook calls of one contact each at ${s.rate}/s into a published Webhook → flow in \`n8n start\`, ` +
		`behind ${s.limit} req/s (429 at once) or no limit; second batch: two webhook-started batches of ${s.batchItems} items behind ${s.batchLimit} req/s ` +
		`in one n8n process, the second ${s.batchPauseMs} ms after the first's answer; a fresh n8n process per run; ${s.latencyMs} ms latency.`
	);
}

/** The storm's part of the Markdown report, per protocol. */
function stormMarkdown(storm, protocols) {
	const lines = [settingsLine(storm)];
	for (const protocol of protocols) {
		const rows = storm.runs.filter((r) => r.protocol === protocol);
		const storms = rows.filter((r) => r.kind === 'storm');
		const batches = rows.filter((r) => r.kind === 'batch');
		if (storms.length) lines.push('', `### Storm, ${protocol.toUpperCase()}`, '', markdownTable(storms, STORM_COLUMNS));
		if (batches.length) lines.push('', `### Second batch, ${protocol.toUpperCase()}`, '', markdownTable(batches, BATCH_COLUMNS));
	}
	const keptUp = keptUpLines(storm, protocols);
	if (keptUp.length) lines.push('', ...keptUp.map((line) => `- ${line}`));
	return lines.join('\n');
}

function stormText(storm, protocols) {
	const lines = [settingsLine(storm)];
	for (const protocol of protocols) {
		const rows = storm.runs.filter((r) => r.protocol === protocol);
		const storms = rows.filter((r) => r.kind === 'storm');
		const batches = rows.filter((r) => r.kind === 'batch');
		if (storms.length) lines.push('', `STORM, ${protocol.toUpperCase()}`, '', textTable(storms, STORM_COLUMNS));
		if (batches.length) lines.push('', `SECOND BATCH, ${protocol.toUpperCase()}`, '', textTable(batches, BATCH_COLUMNS));
	}
	const keptUp = keptUpLines(storm, protocols);
	if (keptUp.length) lines.push('', ...keptUp);
	return lines.join('\n');
}

module.exports = {
	STORM_DEFAULTS,
	STORM_QUICK,
	STORM_IDS,
	STORM_FLOWS,
	STORM_TARGET,
	stormScenarios,
	runStorm,
	stormMarkdown,
	stormText,
};
