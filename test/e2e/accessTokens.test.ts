/**
 * Access tokens inside real n8n, counted by the simulator: each `n8n execute` is a new n8n
 * process with an empty token cache, so every token request the simulator logs during a run
 * belongs to that run. One simulator (and one credential pointing at it) per case.
 */
import type { IDataObject } from 'n8n-workflow';

import { PATHS, type RecordedRequest, type VippsSimulator } from '../../simulator/VippsSimulator';
import { simulatorCredential, startSimulator } from '../workflow/fixtures';
import type { ExecuteResult, ImportedCredential } from './kit';
import { CHECK_IN_ID, E2E_TIMEOUT_MS, N8nUserFolder, customerListWorkflow, itWithN8nLog, itemsOf, manyCustomers, type VippsNodeSettings } from './support';

const VIPPS = 'Vipps Check-in';
/** Long enough to run out in the middle of a ~10 s run, short enough that one renewal covers the rest. */
const SHORT_TOKEN_LIFETIME_SECONDS = 8;

let n8n: N8nUserFolder | undefined;
const simulators: Record<'steady' | 'shortLived' | 'refusing', VippsSimulator> = {} as never;
const credentials: Record<keyof typeof simulators, ImportedCredential> = {} as never;
let importedData: IDataObject[];

const itN8n = itWithN8nLog(() => n8n?.logTail);

beforeAll(async () => {
	simulators.steady = await startSimulator();
	// 1,000 items at concurrency 32 and 300 ms per answer: ~31 rounds, ~9.4 s.
	simulators.shortLived = await startSimulator({ tokenLifetimeSeconds: SHORT_TOKEN_LIFETIME_SECONDS, latencyMs: 300 });
	simulators.refusing = await startSimulator();
	// Tokens are issued fine, but every check-in is answered 401, fresh token or not.
	simulators.refusing.injectFault({ fault: { kind: 'expiredToken' }, path: PATHS.checkIn, times: Infinity });

	n8n = await N8nUserFolder.create();
	const names = Object.keys(simulators) as Array<keyof typeof simulators>;
	const toImport = names.map((name) => {
		const { id: _harnessId, ...keys } = simulatorCredential(simulators[name]);
		return { ...keys, name: `Vipps simulator (${name})` };
	});
	importedData = toImport.map((credential) => credential.data);
	const imported = await n8n.importCredentials(toImport);
	names.forEach((name, index) => (credentials[name] = imported[index]));
}, E2E_TIMEOUT_MS);

afterAll(async () => {
	n8n?.remove();
	await Promise.all(Object.values(simulators).map((simulator) => simulator?.close()));
});

async function run(simulatorName: keyof typeof simulators, customers: IDataObject[], vipps: Omit<VippsNodeSettings, 'name'> = {}): Promise<ExecuteResult> {
	const workflow = customerListWorkflow(`Access tokens: ${simulatorName}`, customers, [{ name: VIPPS, ...vipps }], credentials[simulatorName]);
	const id = await n8n!.importWorkflow(workflow);
	return await n8n!.execute(id);
}

const deliveredPhones = (simulator: VippsSimulator) =>
	simulator
		.checkInRequests()
		.filter((request) => request.status === 200)
		.map((request) => (request.body as { phoneNumber: string }).phoneNumber)
		.sort();

const expectedPhones = (customers: Array<{ phone: string }>) => customers.map((customer) => `47${customer.phone}`).sort();

/** Every input item came out checked in, paired to it, in order. */
function expectAllCheckedIn(result: ExecuteResult, customers: Array<{ phone: string }>): void {
	expect(result.error).toBeNull();
	const output = itemsOf(result, VIPPS);
	expect(output.map((item) => item.pairedItem)).toEqual(customers.map((_, item) => ({ item })));
	expect(output.map((item) => item.json.phoneNumber)).toEqual(customers.map((customer) => `47${customer.phone}`));
	expect(output.filter((item) => !CHECK_IN_ID.test(String(item.json.checkInId)))).toEqual([]);
}

/** No access token (nor key) in the run data, the error, or anything n8n logged. */
function expectNoTokenShown(result: ExecuteResult, simulator: VippsSimulator): void {
	const visible = `${result.rawStdout}\n${result.logTail}\n${JSON.stringify(result.runData)}\n${JSON.stringify(result.error)}`;
	const tokens = simulator.issuedTokens();
	expect(tokens.length).toBeGreaterThan(0);
	for (const secret of [...tokens, simulator.keys.clientSecret, simulator.keys.subscriptionKey]) expect(visible).not.toContain(secret);
}

const statuses = (requests: RecordedRequest[]) => requests.map((request) => request.status);

describe('access tokens inside real n8n', () => {
	itN8n('1,000 items at the default concurrency: exactly one token request and 1,000 check-ins', async () => {
		const simulator = simulators.steady;
		const customers = manyCustomers(1000);
		const result = await run('steady', customers);

		expectAllCheckedIn(result, customers);
		expect(statuses(simulator.tokenRequests())).toEqual([200]);
		expect(simulator.checkInRequests()).toHaveLength(1000);
		expect(deliveredPhones(simulator)).toEqual(expectedPhones(customers));
		expectNoTokenShown(result, simulator);
	});

	itN8n('the token expires mid-run: renewed, at most two token requests, every item checked in once', async () => {
		const simulator = simulators.shortLived;
		const customers = manyCustomers(1000);
		// 32 in flight at 300 ms each: the run lasts about 9.4 s, past the token's 8 s.
		const result = await run('shortLived', customers, { options: { concurrency: 32 } });

		expectAllCheckedIn(result, customers);
		const [firstToken] = simulator.tokenRequests();
		const lastCheckIn = simulator.checkInRequests().at(-1)!;
		// The run did outlast the first token, so this case proves a renewal.
		expect(lastCheckIn.receivedAt - firstToken.receivedAt).toBeGreaterThan(SHORT_TOKEN_LIFETIME_SECONDS * 1000);
		expect(simulator.tokenRequests().length).toBeLessThanOrEqual(2);
		expect(deliveredPhones(simulator)).toEqual(expectedPhones(customers));
		expectNoTokenShown(result, simulator);
	});

	itN8n('every check-in answered 401 even with a fresh token: at most two token requests for the whole run, every item an error item saying so', async () => {
		const simulator = simulators.refusing;
		const customers = manyCustomers(50);
		const result = await run('refusing', customers, { onError: 'continueRegularOutput' });

		expect(result.error).toBeNull();
		const output = itemsOf(result, VIPPS);
		expect(output.map((item) => item.pairedItem)).toEqual(customers.map((_, item) => ({ item })));
		for (const item of output) {
			expect(item.json).not.toHaveProperty('checkInId');
			// The message or its details name the refusal.
			expect(item.json.error).toEqual(expect.any(String));
			expect(JSON.stringify(item.json)).toMatch(/401/);
		}
		expect(simulator.checkInRequests().length).toBeGreaterThanOrEqual(50);
		expect(simulator.tokenRequests().length).toBeLessThanOrEqual(2);
		expectNoTokenShown(result, simulator);
	});

	itN8n("after those runs the credentials hold exactly what the user entered: no access token stored in the credential's fields", async () => {
		const issued = Object.values(simulators).flatMap((simulator) => simulator.issuedTokens());
		// Meaningful only once the runs above have fetched tokens.
		expect(issued.length).toBeGreaterThan(0);

		const stored = await n8n!.exportCredentials();
		const ours = Object.values(credentials).map((credential) => stored.find((candidate) => candidate.id === credential.id));
		expect(ours.map((credential) => credential?.data)).toEqual(importedData);
		const text = JSON.stringify(stored);
		for (const token of issued) expect(text).not.toContain(token);
	});
});
