/**
 * One contact per execution, inside a running n8n (`n8n start`): a published Webhook → Vipps
 * Check-in workflow called at its production URL, many calls at once, as a form, a CRM or a till
 * makes them. Each call is its own execution; what the node learns about the gateway is shared by
 * all of them in the n8n process.
 *
 * Counted in requests, with bounds far from what timing can move: executions that each learned on
 * their own would send every refused check-in back into the full gateway each second (the issue's
 * probe: 6.8 refusals per check-in), while shared pacing refuses the first burst and then keeps
 * under the limit.
 */
import { PATHS } from '../../simulator/VippsSimulator';
import { simulatorCredential } from '../workflow/fixtures';
import { kit, type RunningN8n } from './kit';
import { CHECK_IN_ID, E2E_TIMEOUT_MS, N8nUserFolder, itWithN8nLog, publishWorkflow, useSimulatorAndN8n, type WorkflowJson } from './support';

const { stack } = useSimulatorAndN8n();
const PATH = 'till-event';
const CALLS = 40;

let folder: N8nUserFolder | undefined;
let server: RunningN8n | undefined;
const itServer = itWithN8nLog(() => server?.logTail());

function webhookToCheckIn(credentialId: string): WorkflowJson {
	return {
		name: 'One contact per call',
		nodes: [
			{
				id: 'webhook',
				name: 'Till event',
				type: 'n8n-nodes-base.webhook',
				typeVersion: 2,
				position: [0, 0],
				webhookId: 'b7f2c1de-4c8a-4f7e-9a51-0e1f2a3b4c5d',
				parameters: { httpMethod: 'POST', path: PATH, responseMode: 'lastNode', responseData: 'firstEntryJson', options: {} },
			},
			{
				id: 'vipps',
				name: 'Vipps Check-in',
				type: 'n8n-nodes-vipps-checkin.vippsCheckIn',
				typeVersion: 1,
				position: [220, 0],
				onError: 'continueRegularOutput',
				parameters: { resource: 'checkIn', operation: 'send', phoneNumber: '={{ $json.body.phone }}', isMember: true, options: {} },
				credentials: { vippsMobilePayApi: { id: credentialId, name: 'Vipps MobilePay API (simulator)' } },
			},
		],
		connections: { 'Till event': { main: [[{ node: 'Vipps Check-in', type: 'main', index: 0 }]] } },
	};
}

/** `count` calls at once, each with its own mobile number; resolves with each answer's JSON. */
async function callsAtOnce(count: number, prefix: string): Promise<Array<Record<string, unknown>>> {
	const phones = Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(8 - prefix.length, '0')}`);
	return await Promise.all(
		phones.map(async (phone) => {
			const response = await fetch(`${server!.url}/webhook/${PATH}`, {
				method: 'POST',
				headers: { 'content-type': 'application/json' },
				body: JSON.stringify({ phone }),
			});
			return (await response.json()) as Record<string, unknown>;
		}),
	);
}

beforeAll(async () => {
	folder = await N8nUserFolder.create();
	server = await kit.startN8n(folder.env);
	const { cookie } = await kit.setupOwner(server.url);
	const rest = kit.restClient(server.url, cookie);
	const { id: _harnessId, ...credential } = simulatorCredential(stack.simulator);
	const { id } = await rest.post<{ id: string }>('/credentials', { ...credential, name: 'Vipps MobilePay API (simulator)' });
	await publishWorkflow(server.url, rest, webhookToCheckIn(id), PATH);
}, E2E_TIMEOUT_MS);

afterAll(async () => {
	await server?.stop();
	folder?.remove();
}, E2E_TIMEOUT_MS);

afterEach(() => {
	stack.simulator.setGatewayLimit(undefined);
	stack.simulator.clearFaults();
});

describe('one contact per execution, in a running n8n', () => {
	itServer(`${CALLS} calls at once behind 5 requests per second: each checked in once, fewer refusals than calls, one token`, async () => {
		stack.simulator.resetLog();
		stack.simulator.setGatewayLimit({ requestsPerSecond: 5, window: 'fixed', throttle: 'instant' });

		const answers = await callsAtOnce(CALLS, '9');

		expect(answers.filter((answer) => !CHECK_IN_ID.test(String(answer.checkInId)))).toEqual([]);
		const checkIns = stack.simulator.checkInRequests();
		const accepted = checkIns.filter((request) => request.status === 200);
		expect(accepted).toHaveLength(CALLS);
		const refusals = checkIns.filter((request) => request.status === 429).length;
		expect(refusals).toBeLessThan(CALLS);
		expect(stack.simulator.tokenRequests()).toHaveLength(1);
	});

	itServer('a closed gateway (Retry-After: 3600): every call answered with the time it reopens, at most one request each', async () => {
		stack.simulator.resetLog();
		stack.simulator.injectFault({ fault: { kind: 'status', status: 429, retryAfterSeconds: 3600 }, path: PATHS.checkIn, times: Infinity });

		const answers = await callsAtOnce(20, '4');

		for (const answer of answers) {
			expect(answer.error).toMatch(/^Vipps's gateway takes requests again at \S+Z: it refused the check-in until then/);
			expect(answer.details).toMatchObject({ retryAt: expect.any(String), possibleDuplicate: false });
		}
		const perPhone = new Map<string, number>();
		for (const request of stack.simulator.checkInRequests()) {
			const phone = (request.body as { phoneNumber: string }).phoneNumber;
			perPhone.set(phone, (perPhone.get(phone) ?? 0) + 1);
		}
		expect(Math.max(0, ...perPhone.values())).toBeLessThanOrEqual(1);
	});
});
