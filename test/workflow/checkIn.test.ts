/**
 * The node as a user runs it: workflow JSON through n8n's engine, real HTTP over loopback to
 * the local simulator, every request checked against the official OpenAPI contract.
 */
import { runWorkflow, startWorkflow } from '../../harness/runWorkflow';
import { validateAgainstContract } from '../../simulator/contract';
import { PATHS, type VippsSimulator } from '../../simulator/VippsSimulator';
import {
	INPUT_NODE,
	VIPPS_NODE,
	checkInWorkflow,
	everythingVisible,
	secretsOf,
	simulatorCredential,
	startSimulator,
} from './fixtures';

let simulator: VippsSimulator;

beforeEach(async () => {
	simulator = await startSimulator();
});

afterEach(async () => {
	await simulator.close();
});

function expectContractCompliance() {
	for (const request of simulator.requests) {
		expect({ path: request.path, ...validateAgainstContract(request) }).toEqual({ path: request.path, valid: true, errors: [] });
	}
}

describe('mapping fields from an earlier node', () => {
	it('sends the phone number and membership that expressions read from the previous node', async () => {
		const workflow = checkInWorkflow({
			items: [{ contact: { mobile: '+47 912 34 567', tier: 'gold' } }],
			parameters: {
				phoneNumber: `={{ $('${INPUT_NODE}').item.json.contact.mobile }}`,
				isMember: '={{ $json.contact.tier === "gold" }}',
			},
		});
		const run = await runWorkflow(workflow, { credentials: [simulatorCredential(simulator)] });

		expect(run.error).toBeUndefined();
		const [item] = run.itemsOf(VIPPS_NODE);
		expect(item.json).toEqual({
			checkInId: expect.stringMatching(/^[0-9a-f-]{36}$/),
			attempts: 1,
			possibleDuplicate: false,
			phoneNumber: '4791234567',
			isMember: true,
			merchantSerialNumber: '123456',
		});
		expect(item.pairedItem).toEqual({ item: 0 });
		expect(simulator.checkInRequests().map((r) => r.body)).toEqual([{ phoneNumber: '4791234567', isMember: true }]);
		expectContractCompliance();
	});

	it("carries the Vipps-System-* headers and the MSN, and leaves the User-Agent to n8n's outbound layer", async () => {
		await runWorkflow(checkInWorkflow({ items: [{ phone: '91234567', member: true }] }), {
			credentials: [simulatorCredential(simulator)],
		});
		const { version } = require('../../package.json') as { version: string };
		for (const request of simulator.requests) {
			expect(request.headers).toMatchObject({
				'merchant-serial-number': '123456',
				'vipps-system-name': 'n8n',
				'vipps-system-version': expect.stringMatching(/^\d+\.\d+/),
				'vipps-system-plugin-name': 'n8n-nodes-vipps-checkin',
				'vipps-system-plugin-version': version,
				// n8n's default (or the administrator's global User-Agent): the Vipps-System-* headers name the package.
				'user-agent': 'n8n',
			});
		}
	});

	it('sends the per-item Merchant Serial Number option instead of the credential\'s', async () => {
		const run = await runWorkflow(
			checkInWorkflow({
				items: [{ phone: '91234567', member: true, shop: '7654321' }],
				options: { merchantSerialNumber: '={{ $json.shop }}' },
			}),
			{ credentials: [simulatorCredential(simulator)] },
		);
		expect(run.itemsOf(VIPPS_NODE)[0].json.merchantSerialNumber).toBe('7654321');
		expect(simulator.requests.map((r) => r.headers['merchant-serial-number'])).toEqual(['7654321', '7654321']);
	});

	it('leaves the Merchant-Serial-Number header out when none is configured', async () => {
		const run = await runWorkflow(checkInWorkflow({ items: [{ phone: '91234567', member: true }] }), {
			credentials: [simulatorCredential(simulator, { merchantSerialNumber: '' })],
		});
		expect(run.itemsOf(VIPPS_NODE)[0].json.merchantSerialNumber).toBeNull();
		for (const request of simulator.requests) expect(request.headers).not.toHaveProperty('merchant-serial-number');
		expectContractCompliance();
	});
});

describe('messy and invalid input', () => {
	const batch = [
		{ phone: '+47 912 34 567', member: true },
		{ phone: 'call me maybe', member: true },
		{ phone: '0047 98765432', member: 'nei' },
		{ phone: 4791112222, member: 1 },
		{ phone: '+46 70 123 45 67', member: true },
		{ phone: '(+47) 400-00-000', member: 'yes' },
		{ phone: '91234567', member: 'perhaps' },
	];

	it('with Continue On Fail: sends the valid items and pairs an error item to each invalid one, in order', async () => {
		const run = await runWorkflow(checkInWorkflow({ items: batch, continueOnFail: true }), {
			credentials: [simulatorCredential(simulator)],
		});
		const items = run.itemsOf(VIPPS_NODE);
		expect(items.map((item) => item.pairedItem)).toEqual(batch.map((_, item) => ({ item })));
		expect(items.map((item) => item.json.phoneNumber ?? null)).toEqual([
			'4791234567',
			null,
			'4798765432',
			'4791112222',
			null,
			'4740000000',
			null,
		]);
		expect(items[1].json.error).toMatch(/^Phone Number: .*"call me maybe".*letters/);
		expect(items[4].json.error).toMatch(/^Phone Number: .*Norwegian.*\+47/);
		expect(items[6].json.error).toMatch(/^Is Member: .*"perhaps"/);
		expect(items[2].json.isMember).toBe(false);
		expect(simulator.checkInRequests().map((r) => (r.body as { phoneNumber: string }).phoneNumber).sort()).toEqual(
			['4740000000', '4791112222', '4791234567', '4798765432'].sort(),
		);
		expectContractCompliance();
	});

	it('sends only mobile numbers: landline, service and other-script numbers become error items naming why, in order', async () => {
		const phones = ['91234567', '12345678', '+47 23456789', '41234567', '0047 51234567', 4781234567, '１２３４５６７８', '98765432'];
		const run = await runWorkflow(checkInWorkflow({ items: phones.map((phone) => ({ phone, member: true })), continueOnFail: true }), {
			credentials: [simulatorCredential(simulator)],
		});
		const items = run.itemsOf(VIPPS_NODE);
		expect(items.map((item) => item.pairedItem)).toEqual(phones.map((_, item) => ({ item })));
		expect(items.map((item) => item.json.phoneNumber ?? item.json.error)).toEqual([
			'4791234567',
			'Phone Number: Vipps needs a Norwegian mobile number, 8 digits starting with 4 or 9; this one starts with 1, so it looks like a landline or service number; got the text "12345678" (8 digits)',
			'Phone Number: Vipps needs a Norwegian mobile number, 8 digits starting with 4 or 9; this one starts with 2, so it looks like a landline or service number; got the text "+47 23456789" (10 digits)',
			'4741234567',
			'Phone Number: Vipps needs a Norwegian mobile number, 8 digits starting with 4 or 9; this one starts with 5, so it looks like a landline or service number; got the text "0047 51234567" (12 digits)',
			'Phone Number: Vipps needs a Norwegian mobile number, 8 digits starting with 4 or 9; this one starts with 8, so it looks like a landline or service number; got the number 4781234567',
			'Phone Number: Expected the digits 0–9; got the text "１２３４５６７８" (8 digits in another script (full-width))',
			'4798765432',
		]);
		expect((items[1].json.details as { description: string }).description).toMatch(/^Nothing was sent for this item/);
		expect(simulator.checkInRequests().map((r) => (r.body as { phoneNumber: string }).phoneNumber).sort()).toEqual(
			['4741234567', '4791234567', '4798765432'],
		);
		expectContractCompliance();
	});

	it('without Continue On Fail: stops at the bad item, names it and the field, and sends nothing at all', async () => {
		const run = await runWorkflow(checkInWorkflow({ items: batch }), { credentials: [simulatorCredential(simulator)] });
		expect(run.error?.message).toMatch(/^Phone Number: .*"call me maybe"/);
		expect((run.error as unknown as { context: { itemIndex: number } }).context.itemIndex).toBe(1);
		// Every item is checked before the first request: not even the valid item before it went out.
		expect(simulator.requests).toHaveLength(0);
	});

	it('bad input sends nothing for it: a batch whose first item is bad sends no request at all', async () => {
		const run = await runWorkflow(checkInWorkflow({ items: batch.slice(1) }), { credentials: [simulatorCredential(simulator)] });
		expect((run.error as unknown as { context: { itemIndex: number } }).context.itemIndex).toBe(0);
		expect(simulator.requests).toHaveLength(0);
	});
});

describe('access tokens', () => {
	it('fetches one token for many items and reuses it in the next execution', async () => {
		const items = Array.from({ length: 50 }, (_, i) => ({ phone: `9${String(i).padStart(7, '0')}`, member: true }));
		const credentials = [simulatorCredential(simulator)];
		const first = await runWorkflow(checkInWorkflow({ items }), { credentials });
		const second = await runWorkflow(checkInWorkflow({ items: items.slice(0, 5) }), { credentials });

		expect(first.itemsOf(VIPPS_NODE)).toHaveLength(50);
		expect(second.itemsOf(VIPPS_NODE)).toHaveLength(5);
		expect(simulator.tokenRequests()).toHaveLength(1);
		expect(simulator.checkInRequests()).toHaveLength(55);
	});

	describe('by the clock', () => {
		// Only Date is faked: the node's expiry arithmetic moves, real I/O and timers do not.
		beforeEach(() => {
			jest.useFakeTimers({
				doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'],
			});
		});
		afterEach(() => jest.useRealTimers());

		const oneItem = checkInWorkflow({ items: [{ phone: '91234567', member: true }] });

		it('renews in the background shortly before expiry, while the current token is still used', async () => {
			const credentials = [simulatorCredential(simulator)];
			await runWorkflow(oneItem, { credentials });
			jest.setSystemTime(Date.now() + 3600_000 - 120_000);
			const run = await runWorkflow(oneItem, { credentials });

			expect(run.error).toBeUndefined();
			expect(simulator.tokenRequests()).toHaveLength(2);
			const [first, second] = simulator.checkInRequests();
			// The renewal ran beside the check-in, which did not wait for it.
			expect(second.seq).toBeLessThan(simulator.tokenRequests()[1].seq + 2);
			expect(first.status).toBe(200);
		});

		it('fetches a new token before sending once the old one is about to expire', async () => {
			const credentials = [simulatorCredential(simulator)];
			await runWorkflow(oneItem, { credentials });
			jest.setSystemTime(Date.now() + 3600_000 - 10_000);
			const run = await runWorkflow(oneItem, { credentials });

			expect(run.error).toBeUndefined();
			expect(simulator.requests.map((r) => `${r.path} ${r.status}`)).toEqual([
				'/accesstoken/get 200',
				'/point-of-sale/v1/loyalty-check-in 200',
				'/accesstoken/get 200',
				'/point-of-sale/v1/loyalty-check-in 200',
			]);
		});
	});

	it('a check-in answered 401 drops the token, fetches a fresh one once and retries once', async () => {
		simulator.injectFault({ fault: { kind: 'expiredToken' }, path: '/point-of-sale/v1/loyalty-check-in', times: 1 });
		const run = await runWorkflow(checkInWorkflow({ items: [{ phone: '91234567', member: true }] }), {
			credentials: [simulatorCredential(simulator)],
		});
		expect(run.error).toBeUndefined();
		expect(run.itemsOf(VIPPS_NODE)[0].json.checkInId).toEqual(expect.any(String));
		expect(simulator.requests.map((r) => `${r.path} ${r.status}`)).toEqual([
			'/accesstoken/get 200',
			'/point-of-sale/v1/loyalty-check-in 401',
			'/accesstoken/get 200',
			'/point-of-sale/v1/loyalty-check-in 200',
		]);
	});

	it('tokens revoked in the middle of a run: one new token, nothing lost', async () => {
		const items = Array.from({ length: 40 }, (_, i) => ({ phone: `4${String(i).padStart(7, '0')}`, member: true }));
		let checkIns = 0;
		const revoking = await startSimulator({
			onRequest: (request) => {
				if (request.path.endsWith('loyalty-check-in') && request.status === 200 && ++checkIns === 10) {
					revoking.expireAllTokens();
				}
			},
		});
		try {
			const run = await runWorkflow(checkInWorkflow({ items, options: { concurrency: 4 } }), {
				credentials: [simulatorCredential(revoking)],
			});
			expect(run.error).toBeUndefined();
			expect(run.itemsOf(VIPPS_NODE).map((item) => item.json.phoneNumber)).toEqual(items.map((i) => `47${i.phone}`));
			expect(revoking.tokenRequests()).toHaveLength(2);
			const delivered = new Set(
				revoking
					.checkInRequests()
					.filter((r) => r.status === 200)
					.map((r) => (r.body as { phoneNumber: string }).phoneNumber),
			);
			expect(delivered.size).toBe(40);
		} finally {
			await revoking.close();
		}
	});

	it('wrong keys with many items cost one token request, and every item says what is wrong', async () => {
		const items = Array.from({ length: 300 }, () => ({ phone: '91234567', member: true }));
		const run = await runWorkflow(checkInWorkflow({ items, continueOnFail: true }), {
			credentials: [simulatorCredential(simulator, { clientSecret: 'a-wrong-secret-value' })],
		});
		const outputs = run.itemsOf(VIPPS_NODE);
		expect(outputs).toHaveLength(300);
		for (const item of outputs) expect(item.json.error).toBe('Vipps rejected the Client Secret');
		expect(simulator.tokenRequests()).toHaveLength(1);
		expect(simulator.checkInRequests()).toHaveLength(0);
		expect(everythingVisible(run)).not.toContain('a-wrong-secret-value');
	});
});

describe('errors a user can act on', () => {
	it('stops at the first failing item and says which one, without Continue On Fail', async () => {
		simulator.injectFault({ fault: { kind: 'status', status: 500 }, phoneNumber: '4790000002' });
		const items = ['90000000', '90000001', '90000002', '90000003'].map((phone) => ({ phone, member: true }));
		const run = await runWorkflow(checkInWorkflow({ items, options: { concurrency: 1 } }), {
			credentials: [simulatorCredential(simulator)],
		});
		expect(run.error?.message).toBe('Vipps could not process the check-in (HTTP 500)');
		expect((run.error as unknown as { context: { itemIndex: number } }).context.itemIndex).toBe(2);
		// Concurrency 1: the item after the failure was never sent.
		expect(simulator.checkInRequests().map((r) => (r.body as { phoneNumber: string }).phoneNumber)).toEqual([
			'4790000000',
			'4790000001',
			'4790000002',
		]);
	});

	it('at a higher concurrency, starts nothing new after a failure, lets the items under way finish, and names the earliest', async () => {
		const slow = await startSimulator({ latencyMs: 20 });
		try {
			slow.injectFault({ fault: { kind: 'status', status: 500 }, phoneNumber: '4790000005' });
			const items = Array.from({ length: 20 }, (_, i) => ({ phone: `9${String(i).padStart(7, '0')}`, member: true }));
			const run = await runWorkflow(checkInWorkflow({ items, options: { concurrency: 4 } }), {
				credentials: [simulatorCredential(slow)],
			});
			expect((run.error as unknown as { context: { itemIndex: number } }).context.itemIndex).toBe(5);
			const sent = slow.checkInRequests().map((r) => Number((r.body as { phoneNumber: string }).phoneNumber.slice(-2)));
			// Items start in order and none is skipped: what was sent is 0…k, k ≥ 5. Which items after 5 were
			// already under way when its 500 came back depends on timing, so only "not all" is asserted.
			expect([...sent].sort((a, b) => a - b)).toEqual(Array.from({ length: sent.length }, (_, i) => i));
			expect(sent.length).toBeGreaterThanOrEqual(6);
			expect(sent.length).toBeLessThan(items.length);
		} finally {
			await slow.close();
		}
	});

	it('Stop Workflow after a refused check-in says how many check-ins were delivered before the stop (those under way included), and how to see which', async () => {
		simulator.injectFault({ fault: { kind: 'badRequest', invalidParams: [{ name: 'phoneNumber', reason: 'Not a Vipps user' }] }, path: PATHS.checkIn, phoneNumber: '4790000005' });
		const items = Array.from({ length: 300 }, (_, i) => ({ phone: `9${String(i).padStart(7, '0')}`, member: true }));
		const run = await runWorkflow(checkInWorkflow({ items }), { credentials: [simulatorCredential(simulator)] });

		expect(run.error?.message).toBe('Vipps rejected the check-in: One or more validation errors occurred.');
		expect((run.error as unknown as { context: { itemIndex: number } }).context.itemIndex).toBe(5);
		// Every item started before the stop has ended by now: what Vipps answered 2xx is what went out.
		const delivered = simulator.checkInRequests().filter((request) => request.status >= 200 && request.status < 300).length;
		expect(delivered).toBeGreaterThanOrEqual(5);
		expect((run.error as unknown as { description: string }).description).toBe(
			`phoneNumber: Not a Vipps user ${delivered} check-ins were delivered to Vipps before the node stopped (the items sent before this one, and those already under way). To see which, set Settings → On Error to "Continue": every item then comes out, sent or failed. With the option Skip Repeats on, running the items again does not send those twice.`,
		);
	});

	it('never shows a secret or an access token in outputs or errors', async () => {
		simulator.injectFault({ fault: { kind: 'status', status: 500 }, phoneNumber: '4790000001' });
		const items = [
			{ phone: '90000000', member: true },
			{ phone: '90000001', member: true },
			{ phone: 'bad', member: true },
		];
		const run = await runWorkflow(checkInWorkflow({ items, continueOnFail: true, options: { concurrency: 1 } }), {
			credentials: [simulatorCredential(simulator)],
		});
		const visible = everythingVisible(run);
		expect(run.itemsOf(VIPPS_NODE)[1].json.error).toBe('Vipps could not process the check-in (HTTP 500)');
		for (const secret of [...secretsOf(simulator), ...simulator.issuedTokens()]) expect(visible).not.toContain(secret);
	});
});

describe('dry run', () => {
	it('validates and normalises every item, sends nothing, and shows the request without secrets', async () => {
		const run = await runWorkflow(
			checkInWorkflow({
				items: [
					{ phone: '+47 912 34 567', member: true },
					{ phone: 'nope', member: true },
				],
				options: { dryRun: true },
				continueOnFail: true,
			}),
			{ credentials: [simulatorCredential(simulator)] },
		);
		const [ok, bad] = run.itemsOf(VIPPS_NODE);
		expect(ok.json).toEqual({
			dryRun: true,
			phoneNumber: '4791234567',
			isMember: true,
			merchantSerialNumber: '123456',
			request: {
				method: 'POST',
				url: `${simulator.baseUrl}/point-of-sale/v1/loyalty-check-in`,
				headers: expect.objectContaining({
					Authorization: 'Bearer [redacted]',
					'Ocp-Apim-Subscription-Key': '[redacted]',
					'Merchant-Serial-Number': '123456',
					'Vipps-System-Name': 'n8n',
				}),
				body: { phoneNumber: '4791234567', isMember: true },
			},
		});
		expect(bad.json.error).toMatch(/^Phone Number/);
		expect(simulator.requests).toHaveLength(0);
		for (const secret of secretsOf(simulator)) expect(everythingVisible(run)).not.toContain(secret);
	});

	it.each([
		['the word "yes"', '={{ "yes" }}'],
		['the number 1', '={{ 1 }}'],
	])('Dry Run from an expression giving %s for every item: nothing is sent, not even the token request', async (_label, dryRun) => {
		const items = [
			{ phone: '91234567', member: true },
			{ phone: '41234567', member: false },
		];
		const run = await runWorkflow(checkInWorkflow({ items, options: { dryRun } }), { credentials: [simulatorCredential(simulator)] });

		expect(run.error).toBeUndefined();
		expect(run.itemsOf(VIPPS_NODE).map((item) => item.json)).toEqual([
			expect.objectContaining({ dryRun: true, phoneNumber: '4791234567', isMember: true }),
			expect.objectContaining({ dryRun: true, phoneNumber: '4741234567', isMember: false }),
		]);
		expect(simulator.requests).toHaveLength(0);
	});

	it('Dry Run is read per item: only the items whose expression gives no are sent, whatever the others say', async () => {
		const items = [
			{ phone: '91234567', member: true, test: false },
			{ phone: '41234567', member: false, test: 'ja' },
			{ phone: '98765432', member: true, test: 0 },
			{ phone: '45678901', member: true, test: true },
		];
		const run = await runWorkflow(checkInWorkflow({ items, options: { dryRun: '={{ $json.test }}' } }), {
			credentials: [simulatorCredential(simulator)],
		});

		expect(run.error).toBeUndefined();
		const output = run.itemsOf(VIPPS_NODE);
		expect(output.map((item) => item.pairedItem)).toEqual(items.map((_, item) => ({ item })));
		expect(output.map((item) => item.json)).toEqual([
			expect.objectContaining({ checkInId: expect.any(String), phoneNumber: '4791234567' }),
			expect.objectContaining({ dryRun: true, phoneNumber: '4741234567' }),
			expect.objectContaining({ checkInId: expect.any(String), phoneNumber: '4798765432' }),
			expect.objectContaining({ dryRun: true, phoneNumber: '4745678901' }),
		]);
		expect(simulator.checkInRequests().map((r) => (r.body as { phoneNumber: string }).phoneNumber).sort()).toEqual(['4791234567', '4798765432']);
	});

	it('Dry Run from an expression giving "no" sends for real', async () => {
		const run = await runWorkflow(checkInWorkflow({ items: [{ phone: '91234567', member: true }], options: { dryRun: '={{ "no" }}' } }), {
			credentials: [simulatorCredential(simulator)],
		});

		expect(run.itemsOf(VIPPS_NODE)[0].json.checkInId).toEqual(expect.any(String));
		expect(simulator.checkInRequests()).toHaveLength(1);
	});

	it('an unclear Dry Run ("maybe") fails that item only: with Continue On Fail it is an error item saying so, the others go on', async () => {
		const items = [
			{ phone: '91234567', member: true, test: 'maybe' },
			{ phone: '41234567', member: true, test: false },
		];
		const run = await runWorkflow(checkInWorkflow({ items, options: { dryRun: '={{ $json.test }}' }, continueOnFail: true }), {
			credentials: [simulatorCredential(simulator)],
		});

		expect(run.error).toBeUndefined();
		const [unclear, sent] = run.itemsOf(VIPPS_NODE);
		expect(unclear).toEqual({
			json: {
				error: 'Option "Dry Run": Expected true or false (or yes/no, ja/nei, 1/0); got the text "maybe" (no digits, with letters or other characters)',
				details: { description: expect.stringMatching(/^Nothing was sent for this item\./), attempts: 0, possibleDuplicate: false },
			},
			pairedItem: { item: 0 },
		});
		expect(sent.json).toEqual(expect.objectContaining({ checkInId: expect.any(String), phoneNumber: '4741234567' }));
		expect(simulator.checkInRequests()).toHaveLength(1);
	});
});

describe('cancelling the execution', () => {
	it('aborts requests in flight and starts no new ones', async () => {
		let arrived!: () => void;
		const twoRequestsArrived = new Promise<void>((resolve) => (arrived = resolve));
		const hanging = await startSimulator({
			onRequest: (request) => {
				if (request.path.endsWith('loyalty-check-in') && hanging.checkInRequests().length === 2) arrived();
			},
		});
		hanging.injectFault({ fault: { kind: 'hang' }, path: '/point-of-sale/v1/loyalty-check-in', times: Infinity });
		try {
			const items = Array.from({ length: 20 }, () => ({ phone: '91234567', member: true }));
			const running = startWorkflow(checkInWorkflow({ items, options: { concurrency: 2 } }), {
				credentials: [simulatorCredential(hanging)],
			});
			await twoRequestsArrived;
			running.cancel();
			const run = await running.result;

			expect(run.run.status).toBe('canceled');
			expect(run.itemsOf(VIPPS_NODE)).toHaveLength(0);
			expect(hanging.checkInRequests()).toHaveLength(2);
		} finally {
			await hanging.close();
		}
	});
});
