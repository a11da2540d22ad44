/**
 * Delivery inside real n8n: one `n8n execute` of one workflow whose customers meet, per phone
 * number, a check-in the simulator receives but never answers (once, or every time), a redirect
 * to another origin, or nothing at all. Each check-in reaches Vipps at most twice, the output
 * says how many attempts it took and whether it may be a duplicate, and the redirect is an error
 * item: nothing reaches the other origin. The same cases run in-process in
 * test/workflow/delivery.test.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { customerListWorkflow, itemsOf, useSimulatorAndN8n } from './support';

const { stack, itN8n } = useSimulatorAndN8n();

const VIPPS = 'Vipps Check-in';
/** Only the never-answered check-ins time out: an answering simulator answers well within it. */
const TIMEOUT_MS = 5_000;

const HANGS_ONCE = '91111111';
const HANGS_ALWAYS = '92222222';
const REDIRECTED = '93333333';
const PLAIN = '94444444';

let elsewhere: Server;
const receivedElsewhere: string[] = [];

beforeAll(async () => {
	// Another origin on loopback that records whatever reaches it.
	elsewhere = createServer((req, res) => {
		receivedElsewhere.push(`${req.method} ${req.url} ${JSON.stringify(req.headers)}`);
		res.end();
	});
	await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
});

afterAll(async () => {
	elsewhere.closeAllConnections();
	await new Promise((resolve) => elsewhere.close(resolve));
});

const arrivalsFor = (phone: string) =>
	stack.simulator
		.checkInRequests()
		.filter((request) => (request.body as { phoneNumber?: string } | undefined)?.phoneNumber === `47${phone}`)
		.map((request) => request.fault ?? request.status);

describe('delivery, inside real n8n', () => {
	itN8n('a check-in reaches Vipps at most twice and the output says so; a redirect is an error item and nothing reaches the other origin', async () => {
		const { simulator } = stack;
		const elsewhereHost = `127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
		simulator.injectFault({ fault: { kind: 'hang' }, phoneNumber: `47${HANGS_ONCE}` });
		simulator.injectFault({ fault: { kind: 'hang' }, phoneNumber: `47${HANGS_ALWAYS}`, times: Infinity });
		simulator.injectFault({ fault: { kind: 'redirect', status: 307, location: `http://${elsewhereHost}/collect` }, phoneNumber: `47${REDIRECTED}` });

		const customers = [HANGS_ONCE, HANGS_ALWAYS, REDIRECTED, PLAIN].map((phone) => ({ phone, member: true }));
		const workflow = customerListWorkflow(
			'Delivery: timeouts and a redirect',
			customers,
			[{ name: VIPPS, onError: 'continueRegularOutput', options: { timeout: TIMEOUT_MS } }],
			stack.credential,
		);
		const result = await stack.n8n.execute(await stack.n8n.importWorkflow(workflow));

		const output = itemsOf(result, VIPPS);
		expect(output.map((item) => item.pairedItem)).toEqual(customers.map((_, item) => ({ item })));
		const [hangsOnce, hangsAlways, redirected, plain] = output.map((item) => item.json);

		// Timed out once, sent once more: delivered, and it says the customer may have seen it twice.
		expect(hangsOnce).toMatchObject({ checkInId: expect.any(String), phoneNumber: `47${HANGS_ONCE}`, attempts: 2, possibleDuplicate: true });
		expect(arrivalsFor(HANGS_ONCE)).toEqual(['hang', 200]);

		// Never answered: sent twice, no more, and the error says the customer may have seen it.
		expect(hangsAlways.error).toBe(`Vipps did not answer the check-in within ${TIMEOUT_MS} ms, after 2 attempts`);
		expect(JSON.stringify(hangsAlways.details)).toContain('the customer may have seen the check-in');
		expect(arrivalsFor(HANGS_ALWAYS)).toEqual(['hang', 'hang']);

		// Redirected: an error naming the status and the host, nothing sent there, nothing sent again.
		expect(redirected.error).toBe(`${new URL(simulator.baseUrl).host} answered the check-in with a redirect (HTTP 307) to ${elsewhereHost}`);
		expect(JSON.stringify(redirected.details)).toContain("Vipps APIs never redirect: check the credential's Custom Base URL");
		expect(arrivalsFor(REDIRECTED)).toEqual(['redirect']);
		expect(receivedElsewhere).toEqual([]);

		expect(plain).toMatchObject({ checkInId: expect.any(String), attempts: 1, possibleDuplicate: false });
		expect(arrivalsFor(PLAIN)).toEqual([200]);

		// No key and no access token in anything n8n printed or stored for the run.
		const visible = `${result.rawStdout}\n${result.logTail}\n${JSON.stringify(result.runData)}\n${JSON.stringify(result.error)}`;
		for (const secret of [simulator.keys.clientSecret, simulator.keys.subscriptionKey, ...simulator.issuedTokens()]) {
			expect(visible).not.toContain(secret);
		}
	});
});
