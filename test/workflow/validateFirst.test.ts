/**
 * Validate first: every item is read and checked before the first request of the execution (the
 * token request included). A bad row deep in a batch then either stops the node before anything
 * is sent (Stop Workflow), or becomes an error item while every other row is sent (the Continue
 * settings). Before, the rows ahead of it were already checked in when the node stopped, and a
 * rerun sent them again.
 */
import type { IDataObject, INode, INodeExecutionData } from 'n8n-workflow';

import { runWorkflow } from '../../harness/runWorkflow';
import type { VippsSimulator } from '../../simulator/VippsSimulator';
import { VIPPS_NODE, checkInWorkflow, simulatorCredential, startSimulator } from './fixtures';

let simulator: VippsSimulator;

beforeEach(async () => {
	simulator = await startSimulator();
});

afterEach(async () => {
	await simulator.close();
});

/** `rows` customers with distinct mobile numbers (9xxxxxxx), each carrying its shop's MSN. */
function customers(rows = 1_000): IDataObject[] {
	return Array.from({ length: rows }, (_, row) => ({ phone: `9${String(row).padStart(7, '0')}`, member: true, shop: '123456' }));
}

const withMsnOption = { merchantSerialNumber: '={{ $json.shop }}' };
const pairing = (items: INodeExecutionData[]) => items.map((item) => item.pairedItem);
const sentPhoneNumbers = () => simulator.checkInRequests().map((request) => (request.body as { phoneNumber: string }).phoneNumber);

describe('validate first: a bad row deep in a batch', () => {
	it.each([
		['a landline Phone Number', { phone: '23 45 67 89' }, /^Phone Number: .*starts with 2.*"23 45 67 89"/],
		['an unclear Is Member', { member: 'perhaps' }, /^Is Member: Expected true or false .*"perhaps"/],
		['an invalid Merchant Serial Number option', { shop: 'shop 7' }, /^Option "Merchant Serial Number" must be 4 to 7 digits/],
	])('Stop Workflow, %s at row 600: the node stops naming the row and the field, and nothing at all is sent', async (_what, bad, error) => {
		const items = customers();
		Object.assign(items[600], bad);
		const run = await runWorkflow(checkInWorkflow({ items, options: withMsnOption }), { credentials: [simulatorCredential(simulator)] });

		expect(run.error?.message).toMatch(error);
		expect((run.error as unknown as { context: { itemIndex: number } }).context.itemIndex).toBe(600);
		expect(run.itemsOf(VIPPS_NODE)).toEqual([]);
		// Not one check-in, not even the token request.
		expect(simulator.requests).toEqual([]);
	});

	it('Stop Workflow with two bad rows: the earlier one is named', async () => {
		const items = customers();
		items[900].phone = 'n/a';
		items[600].phone = '12345678';
		const run = await runWorkflow(checkInWorkflow({ items }), { credentials: [simulatorCredential(simulator)] });

		expect((run.error as unknown as { context: { itemIndex: number } }).context.itemIndex).toBe(600);
		expect(simulator.requests).toEqual([]);
	});

	it('Dry Run takes the same path: a bad row stops it before anything is described', async () => {
		const items = customers();
		items[600].phone = '12345678';
		const run = await runWorkflow(checkInWorkflow({ items, options: { dryRun: true } }), { credentials: [simulatorCredential(simulator)] });

		expect((run.error as unknown as { context: { itemIndex: number } }).context.itemIndex).toBe(600);
		expect(run.itemsOf(VIPPS_NODE)).toEqual([]);
		expect(simulator.requests).toEqual([]);
	});

	it.each<[INode['onError'], number]>([
		['continueRegularOutput', 0],
		['continueErrorOutput', 1],
	])('%s: the bad rows become error items (output %i), every other row is sent, all paired and in order', async (onError, errorOutput) => {
		// 200 rows keep the test quick on a busy machine; the rows sent are what matters here.
		const items = customers(200);
		const badRows = [3, 120, 199];
		items[3].phone = 'call me';
		items[120].member = 'perhaps';
		items[199].shop = 'shop 7';
		const run = await runWorkflow(checkInWorkflow({ items, options: withMsnOption, onError }), {
			credentials: [simulatorCredential(simulator)],
		});

		expect(run.error).toBeUndefined();
		const goodRows = items.map((_, row) => row).filter((row) => !badRows.includes(row));
		const output = run.itemsOf(VIPPS_NODE, 0);
		const failed = errorOutput === 0 ? output.filter((item) => item.json.error) : run.itemsOf(VIPPS_NODE, 1);
		const succeeded = output.filter((item) => !item.json.error);

		expect(pairing(failed)).toEqual(badRows.map((item) => ({ item })));
		expect(failed.map((item) => item.json.error)).toEqual([
			expect.stringMatching(/^Phone Number: /),
			expect.stringMatching(/^Is Member: /),
			expect.stringMatching(/^Option "Merchant Serial Number"/),
		]);
		expect(pairing(succeeded)).toEqual(goodRows.map((item) => ({ item })));
		expect(succeeded.map((item) => item.json.phoneNumber)).toEqual(goodRows.map((row) => `479${String(row).padStart(7, '0')}`));
		if (errorOutput === 0) expect(pairing(output)).toEqual(items.map((_, item) => ({ item })));

		expect(sentPhoneNumbers().sort()).toEqual(goodRows.map((row) => `479${String(row).padStart(7, '0')}`));
		expect(simulator.tokenRequests()).toHaveLength(1);
	});
});

describe('validate first: Get Phone Number From QR Code', () => {
	it('Stop Workflow, an empty code at the last row: nothing is exchanged', async () => {
		const codes = ['https://qr.vipps.no/p/one', 'https://qr.vipps.no/p/two', '  '];
		const base = checkInWorkflow({ items: codes.map((qrCode) => ({ qrCode })) });
		const [input, vipps] = base.nodes;
		const workflow = {
			...base,
			nodes: [input, { ...vipps, parameters: { resource: 'qrCode', operation: 'getPhoneNumber', qrCode: '={{ $json.qrCode }}', options: {} } }],
		};
		const run = await runWorkflow(workflow, { credentials: [simulatorCredential(simulator)] });

		expect(run.error?.message).toMatch(/^QR Code: expected the scanned text; got an empty text/);
		expect((run.error as unknown as { context: { itemIndex: number } }).context.itemIndex).toBe(2);
		expect(simulator.requests).toEqual([]);
	});
});
