#!/usr/bin/env node
'use strict';

// Issue #11, point 3: n8n's own expiring-credential pattern, measured in real n8n 2.41.1.
// n8n ships a credential of that kind, Metabase API (`metabaseApi`: a hidden expirable
// `sessionToken`; `preAuthentication` POSTs {url}/api/session and reads `{ id }`; `authenticate`
// sends the header X-Metabase-Session). n8n's HTTP Request node (4.2, Authentication "Predefined
// Credential Type") uses it for every item, against a fake Metabase on loopback:
//   POST /api/session  issues a new token (counted)
//   POST /check        200 for a token it issued; in the "refused" case 401, in the "throttled"
//                      case 429, whatever the token
// both answered after 50 ms, like the bench's Vipps simulator.
//
//   npm run bench:expirable     (= node bench/expirable-pattern.js; about 2 minutes, no build needed)
//   node bench/expirable-pattern.js --keep    keep the n8n user folder and print its path
//
// Each run is one `n8n execute` (a new n8n process, as in queue mode or after a restart):
//   fresh        1,000 items, the credential's sessionToken empty (3 runs, reset in between)
//   held         1,000 items, the credential holding the token the first fresh run stored
//   refused      50 items, every /check answered 401 (the token held)
//   throttled    50 items, every /check answered 429 (the token held)
//   fresh, paced 1,000 items, fresh, batching 32 items per 50 ms (3 runs, its own credential)
//   no credential  reference: the same node without a credential, a valid token sent as a
//                  plain header: what the credential's path costs per item (node ms)
// The other cases use batching 32 items per 0 ms, which is no limit: the HTTP Request node only
// sleeps between batches when the interval is > 0 ("0 for disabled") and never waits for
// answers, so what bounds the requests in flight is n8n building them one item at a time. The
// server reports the peak it saw (token and /check requests together).
//
// The HTTP Request node calls n8n-core's `requestWithAuthentication`, which renews the token after
// any failed request ("throttled"); `httpRequestWithAuthentication`, what a node of ours would
// call, renews after a 401 only. Both run the same CredentialsHelper.preAuthentication: a token
// request and a credential write for every request that finds the token empty or was refused,
// with nothing shared between concurrent requests.
//
// Counted: token requests and /check requests by the fake server; n8n's database writes of each
// credential by an AFTER UPDATE trigger on credentials_entity (bench/credential-writes.js); error
// items and the HTTP Request node's time from n8n's run data.
// This package's own token cache in the same three cases is asserted by
// test/e2e/accessTokens.test.ts (1 token request for 1,000 items; at most 2 when every check-in
// is refused with 401; nothing stored in the credential): not repeated here.

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const crypto = require('node:crypto');

const REPO = path.resolve(__dirname, '..');
const kit = require(path.join(REPO, 'scripts', 'real-n8n', 'n8n.js'));
const { run: runProcess } = require(path.join(REPO, 'scripts', 'real-n8n', 'proc.js'));
const { N8N_VERSION, NODE_VERSION } = require(path.join(REPO, 'scripts', 'real-n8n', 'install.js'));

const LATENCY_MS = 50;
const OUR_CONCURRENCY = 32;
const OUT = path.join(__dirname, 'results', 'expirable-pattern.json');
const HTTP_NODE = 'Check (HTTP Request)';

/** Runs of the fresh cases, each on the credential reset to an empty sessionToken: they race. */
const FRESH_RUNS = 3;

const CASE = {
	fresh: { workflow: 'unpaced', items: 1000, check: 'accept', fresh: true, label: '1,000 items, fresh credential' },
	held: { workflow: 'unpaced', items: 1000, check: 'accept', fresh: false, label: '1,000 items, token held (next execution)' },
	refused: { workflow: 'unpaced', items: 50, check: 'refuse401', fresh: false, label: '50 items, every /check 401' },
	throttled: { workflow: 'unpaced', items: 50, check: 'refuse429', fresh: false, label: '50 items, every /check 429' },
	'fresh, paced': { workflow: 'paced', items: 1000, check: 'accept', fresh: true, label: '1,000 items, fresh, 32 per 50 ms' },
	'no credential': { workflow: 'header', items: 1000, check: 'accept', fresh: false, label: 'reference: token in a plain header' },
};
/** `held`, `refused` and `throttled` use the token the first `fresh` run stored. */
const SCHEDULE = [
	'fresh',
	'held',
	'refused',
	'throttled',
	...Array(FRESH_RUNS - 1).fill('fresh'),
	...Array(FRESH_RUNS).fill('fresh, paced'),
	'no credential',
];

const BATCHING = {
	unpaced: { batchSize: OUR_CONCURRENCY, batchInterval: 0 },
	paced: { batchSize: OUR_CONCURRENCY, batchInterval: LATENCY_MS },
	header: { batchSize: OUR_CONCURRENCY, batchInterval: 0 },
};

function log(message) {
	process.stderr.write(`[bench:expirable] ${message}\n`);
}

// ---------------------------------------------------------------------------------------------
// The fake Metabase

function startFakeMetabase() {
	const issued = new Set();
	const state = { check: 'accept', tokenRequests: 0, checks: {}, inFlight: 0, peakInFlight: 0 };
	const answer = (response, status, body) => {
		response.writeHead(status, { 'content-type': 'application/json' });
		response.end(JSON.stringify(body));
	};
	const server = http.createServer((request, response) => {
		state.inFlight++;
		state.peakInFlight = Math.max(state.peakInFlight, state.inFlight);
		response.once('close', () => state.inFlight--);
		request.resume();
		request.once('end', () =>
			setTimeout(() => {
				if (request.method === 'POST' && request.url === '/api/session') {
					state.tokenRequests++;
					const id = crypto.randomUUID();
					issued.add(id);
					return answer(response, 200, { id });
				}
				if (request.method === 'POST' && request.url === '/check') {
					let status = issued.has(request.headers['x-metabase-session']) ? 200 : 401;
					if (state.check === 'refuse401') status = 401;
					if (state.check === 'refuse429') status = 429;
					state.checks[status] = (state.checks[status] ?? 0) + 1;
					return answer(response, status, status === 200 ? { ok: true } : { message: 'refused' });
				}
				answer(response, 404, { message: 'not found' });
			}, LATENCY_MS),
		);
	});
	return new Promise((resolve) => {
		server.listen(0, '127.0.0.1', () => {
			resolve({
				url: `http://127.0.0.1:${server.address().port}`,
				reset(check) {
					Object.assign(state, { check, tokenRequests: 0, checks: {}, peakInFlight: 0 });
				},
				counts: () => ({ tokenRequests: state.tokenRequests, checks: { ...state.checks }, peakInFlight: state.peakInFlight }),
				/** A token issued outside the count: the reference workflow sends it as a plain header. */
				issueToken() {
					const id = crypto.randomUUID();
					issued.add(id);
					return id;
				},
				close: () => new Promise((done) => server.close(done)),
			});
		});
	});
}

// ---------------------------------------------------------------------------------------------
// The workflow: Manual Trigger → Set (BENCH_ITEMS customers) → Split Out → HTTP Request

/** With `credential`, the node authenticates through it; with `sessionToken`, it sends that header itself. */
function workflow(name, fakeUrl, { credential, sessionToken }, batching) {
	let seq = 0;
	const node = (nodeName, type, typeVersion, parameters, extra = {}) => ({
		id: `00000000-0000-4000-8000-${String(++seq).padStart(12, '0')}`,
		name: nodeName,
		type,
		typeVersion,
		position: [seq * 220, 0],
		parameters,
		...extra,
	});
	const nodes = [
		node('Start', 'n8n-nodes-base.manualTrigger', 1, {}),
		node('Customer list', 'n8n-nodes-base.set', 3.4, {
			mode: 'raw',
			jsonOutput: '={{ { customers: Array.from({ length: Number($env.BENCH_ITEMS) }, (_, i) => ({ phone: String(4790000000 + i) })) } }}',
			options: {},
		}),
		node('One item per customer', 'n8n-nodes-base.splitOut', 1, { fieldToSplitOut: 'customers', options: {} }),
		node(
			HTTP_NODE,
			'n8n-nodes-base.httpRequest',
			4.2,
			{
				method: 'POST',
				url: `${fakeUrl}/check`,
				...(credential
					? { authentication: 'predefinedCredentialType', nodeCredentialType: 'metabaseApi' }
					: {
							authentication: 'none',
							sendHeaders: true,
							specifyHeaders: 'keypair',
							headerParameters: { parameters: [{ name: 'X-Metabase-Session', value: sessionToken }] },
						}),
				sendBody: true,
				contentType: 'json',
				specifyBody: 'json',
				jsonBody: '={ "phone": "{{ $json.phone }}" }',
				options: { batching: { batch: batching } },
			},
			{
				...(credential ? { credentials: { metabaseApi: { id: credential.id, name: credential.name } } } : {}),
				onError: 'continueRegularOutput',
			},
		),
	];
	const connections = {};
	for (let i = 0; i + 1 < nodes.length; i++) connections[nodes[i].name] = { main: [[{ node: nodes[i + 1].name, type: 'main', index: 0 }]] };
	return { name, nodes, connections, settings: { executionOrder: 'v1' } };
}

// ---------------------------------------------------------------------------------------------
// Credential writes, counted in n8n's database

async function credentialWrites(env, command) {
	const { nodeBin, n8nDir } = await kit.ensureN8n();
	const dbFile = path.join(env.N8N_USER_FOLDER, '.n8n', 'database.sqlite');
	const { code, stdout, stderr } = await runProcess(nodeBin, [path.join(__dirname, 'credential-writes.js'), n8nDir, dbFile, command]);
	if (code !== 0) throw new Error(`credential-writes.js ${command} failed:\n${stderr}`);
	return JSON.parse(stdout);
}

// ---------------------------------------------------------------------------------------------
// Report

const COLUMNS = [
	['case', 40, (r) => r.label],
	['run', 3, (r) => r.run, true],
	['items', 5, (r) => r.items, true],
	['token requests', 14, (r) => r.tokenRequests, true],
	['credential writes', 17, (r) => r.credentialWrites, true],
	['/check requests', 15, (r) => r.checkRequests, true],
	['/check statuses', 15, (r) => Object.entries(r.checkStatuses).map(([status, n]) => `${status}×${n}`).join(' ')],
	['error items', 11, (r) => r.errorItems, true],
	['peak in flight', 14, (r) => r.peakInFlight, true],
	['node ms', 7, (r) => r.nodeTimeMs, true],
];

function table(rows) {
	const cell = (value, width, right) => {
		const text = value === null || value === undefined ? '–' : String(value);
		return right ? text.padStart(width) : text.padEnd(width);
	};
	const head = COLUMNS.map(([title, width, , right]) => cell(title, width, right)).join(' | ');
	const rule = COLUMNS.map(([, width]) => '-'.repeat(width)).join('-|-');
	return [head, rule, ...rows.map((row) => COLUMNS.map(([, width, get, right]) => cell(get(row), width, right)).join(' | '))].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
	const keep = process.argv.includes('--keep');
	const started = Date.now();
	await kit.ensureN8n();
	const fake = await startFakeMetabase();
	log(`fake Metabase on ${fake.url}, ${LATENCY_MS} ms latency`);
	const folder = await kit.createUserFolder();
	const rows = [];
	try {
		// $env.BENCH_ITEMS sizes the item list per run without re-importing workflows.
		const env = await kit.n8nEnv({ userFolder: folder.userFolder, extra: { N8N_BLOCK_ENV_ACCESS_IN_NODE: 'false' } });
		const data = { url: fake.url, username: 'bench@example.com', password: 'bench-password', sessionToken: '' };
		const credentials = {};
		[credentials.unpaced, credentials.paced] = await kit.importCredentials(env, [
			{ name: 'Fake Metabase (unpaced)', type: 'metabaseApi', data },
			{ name: 'Fake Metabase (paced)', type: 'metabaseApi', data },
		]);
		const auth = { unpaced: { credential: credentials.unpaced }, paced: { credential: credentials.paced }, header: { sessionToken: fake.issueToken() } };
		const workflowIds = {};
		for (const kind of Object.keys(auth)) {
			const { batchSize, batchInterval } = BATCHING[kind];
			const name = `expirable: ${kind}, batching ${batchSize} / ${batchInterval} ms`;
			workflowIds[kind] = await kit.importWorkflow(env, workflow(name, fake.url, auth[kind], BATCHING[kind]));
		}
		await credentialWrites(env, 'install');
		log(`imported 2 credentials and 3 workflows (${((Date.now() - started) / 1000).toFixed(0)} s so far)`);

		const used = new Set();
		for (const caseId of SCHEDULE) {
			const testCase = CASE[caseId];
			const credential = credentials[testCase.workflow] ?? null;
			if (testCase.fresh && used.has(credential.id)) {
				// Back to an empty sessionToken (n8n's import upserts by id); this write is not the run's.
				await kit.importCredentials(env, [{ ...credential, data }]);
				await credentialWrites(env, 'take');
			}
			if (credential) used.add(credential.id);
			fake.reset(testCase.check);
			const result = await kit.executeWorkflow({ ...env, BENCH_ITEMS: String(testCase.items) }, workflowIds[testCase.workflow], {
				timeoutMs: 120_000,
			});
			const counts = fake.counts();
			const writes = await credentialWrites(env, 'take');
			const taskData = result.runData?.[HTTP_NODE]?.[0] ?? null;
			const output = taskData?.data?.main?.[0] ?? [];
			const row = {
				case: caseId,
				run: rows.filter((earlier) => earlier.case === caseId).length + 1,
				label: testCase.label,
				items: testCase.items,
				batching: BATCHING[testCase.workflow],
				tokenRequests: counts.tokenRequests,
				credentialWrites: credential ? (writes[credential.id] ?? 0) : null,
				checkRequests: Object.values(counts.checks).reduce((sum, n) => sum + n, 0),
				checkStatuses: counts.checks,
				outputItems: output.length,
				errorItems: output.filter((item) => item.json?.error !== undefined).length,
				peakInFlight: counts.peakInFlight,
				nodeTimeMs: taskData?.executionTime ?? null,
				workflowError: result.error ? String(result.error.message ?? result.error).split('\n')[0] : null,
			};
			rows.push(row);
			log(
				`${caseId} #${row.run}: ${row.tokenRequests} token requests, ${row.credentialWrites} credential writes, ` +
					`/check ${JSON.stringify(row.checkStatuses)}, ${row.errorItems} error items of ${row.outputItems}, ` +
					`peak ${row.peakInFlight} in flight, node ${row.nodeTimeMs} ms` +
					(row.workflowError ? `, workflow error: ${row.workflowError}` : ''),
			);
			if (row.outputItems !== testCase.items) log(`${caseId}: expected ${testCase.items} output items\n${result.logTail}`);
		}
	} finally {
		await fake.close();
		if (keep) log(`kept ${folder.userFolder}`);
		else folder.remove();
	}

	const report = {
		when: new Date().toISOString(),
		command: 'node bench/expirable-pattern.js',
		n8n: N8N_VERSION,
		n8nNode: `v${NODE_VERSION}`,
		credentialType: 'metabaseApi (n8n-nodes-base, hidden expirable sessionToken + preAuthentication + authenticate)',
		node: "n8n-nodes-base.httpRequest 4.2, Authentication 'Predefined Credential Type', On Error: Continue (regular output)",
		latencyMs: LATENCY_MS,
		wallSeconds: Math.round((Date.now() - started) / 1000),
		summary: Object.fromEntries(
			Object.keys(CASE).map((caseId) => {
				const runs = rows.filter((row) => row.case === caseId);
				const each = (field) => runs.map((row) => row[field]);
				const summary = { label: CASE[caseId].label, runs: runs.length, tokenRequests: each('tokenRequests') };
				return [caseId, { ...summary, credentialWrites: each('credentialWrites'), nodeTimeMs: each('nodeTimeMs') }];
			}),
		),
		notes: [
			'Every run is a new `n8n execute` process. fresh, held, refused and throttled: HTTP Request batching 32 items / 0 ms, ' +
				'which n8n treats as no batching; the requests in flight are bounded only by n8n building them one item at a time.',
			'throttled: the HTTP Request node uses requestWithAuthentication, which renews after any error; ' +
				'httpRequestWithAuthentication renews after 401 only.',
			'credentialWrites: UPDATEs of the credential row in n8n\'s SQLite database, counted by a trigger the bench adds.',
			'no credential: the same node sending a valid token as a plain header: what the credential path costs per item.',
		],
		runs: rows,
		thisPackage:
			'test/e2e/accessTokens.test.ts (real n8n 2.41.1): 1,000 items → exactly 1 token request; token expiring mid-run → ≤ 2; ' +
			'every check-in 401 (50 items) → ≤ 2 token requests for the execution; the credential keeps only what the user entered',
	};
	fs.mkdirSync(path.dirname(OUT), { recursive: true });
	fs.writeFileSync(OUT, `${JSON.stringify(report, null, 2)}\n`);
	process.stdout.write(`\n${table(rows)}\n\nwritten to ${path.relative(REPO, OUT)} (${report.wallSeconds} s)\n`);
	if (rows.some((row) => row.outputItems !== row.items)) process.exitCode = 1;
}

main().catch((error) => {
	log(error.stack ?? String(error));
	process.exitCode = 1;
});
