/**
 * The node's Settings → On Error, all three choices, through n8n's engine. With "Continue (using
 * error output)" n8n moves an item to the error output only when it carries its error the way
 * n8n's own nodes do (WorkflowExecute.handleNodeErrorOutput: `item.error`, or `json` holding only
 * `error`, `message` and `details`); anything else stays on the success output.
 */
import type { INode, INodeExecutionData } from 'n8n-workflow';

import { runWorkflow, type WorkflowRun } from '../../harness/runWorkflow';
import { PATHS, type VippsSimulator } from '../../simulator/VippsSimulator';
import { VIPPS_NODE, checkInWorkflow, everythingVisible, secretsOf, simulatorCredential, startSimulator } from './fixtures';

/** Two good mobile numbers and one that is not a number at all. */
const ITEMS = [
	{ phone: '+47 912 34 567', member: true },
	{ phone: '41234567', member: false },
	{ phone: 'abc', member: true },
];

let simulator: VippsSimulator;

beforeEach(async () => {
	simulator = await startSimulator();
});

afterEach(async () => {
	await simulator.close();
});

async function runWith(onError: INode['onError'], items = ITEMS): Promise<WorkflowRun> {
	return await runWorkflow(checkInWorkflow({ items, onError }), { credentials: [simulatorCredential(simulator)] });
}

const pairing = (items: INodeExecutionData[]) => items.map((item) => item.pairedItem);

const checkedIn = (phoneNumber: string, isMember: boolean) => ({
	checkInId: expect.any(String),
	phoneNumber,
	isMember,
	merchantSerialNumber: '123456',
});

/** Neither a key nor an access token anywhere in what the run left behind. */
function expectNoSecrets(run: WorkflowRun): void {
	const visible = everythingVisible(run);
	for (const secret of [...secretsOf(simulator), ...simulator.issuedTokens()]) expect(visible).not.toContain(secret);
}

describe('On Error', () => {
	it('Stop Workflow (the default): the execution fails, naming the item and the field; the node puts out nothing', async () => {
		const run = await runWith('stopWorkflow');

		expect(run.error?.message).toMatch(/^Phone Number: .*"abc"/);
		expect((run.error as unknown as { context: { itemIndex: number } }).context.itemIndex).toBe(2);
		expect(run.itemsOf(VIPPS_NODE, 0)).toEqual([]);
		expect(run.itemsOf(VIPPS_NODE, 1)).toEqual([]);
		expectNoSecrets(run);
	});

	it('Continue: every item on the success output, paired and in order, the bad one as an error item', async () => {
		const run = await runWith('continueRegularOutput');

		expect(run.error).toBeUndefined();
		const output = run.itemsOf(VIPPS_NODE, 0);
		expect(pairing(output)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }]);
		expect(output.slice(0, 2).map((item) => item.json)).toEqual([checkedIn('4791234567', true), checkedIn('4741234567', false)]);
		expect(output[2].json.error).toMatch(/^Phone Number: .*"abc"/);
		expect(output[2].json).not.toHaveProperty('checkInId');
		expect(run.itemsOf(VIPPS_NODE, 1)).toEqual([]);
		expect(simulator.checkInRequests()).toHaveLength(2);
		expectNoSecrets(run);
	});

	it('Continue (using error output): the good items on the success output, the bad one on the error output, each paired to its input', async () => {
		const run = await runWith('continueErrorOutput');

		expect(run.error).toBeUndefined();
		const success = run.itemsOf(VIPPS_NODE, 0);
		expect(pairing(success)).toEqual([{ item: 0 }, { item: 1 }]);
		expect(success.map((item) => item.json)).toEqual([checkedIn('4791234567', true), checkedIn('4741234567', false)]);

		const failed = run.itemsOf(VIPPS_NODE, 1);
		expect(pairing(failed)).toEqual([{ item: 2 }]);
		// n8n adds the input item's fields to an error item: the user sees which customer failed.
		expect(failed[0].json).toMatchObject({ phone: 'abc', error: expect.stringMatching(/^Phone Number: .*"abc"/) });
		expect(simulator.checkInRequests()).toHaveLength(2);
		expectNoSecrets(run);
	});

	it('Continue (using error output): a check-in Vipps refuses goes to the error output too, with its reason', async () => {
		simulator.injectFault({
			path: PATHS.checkIn,
			phoneNumber: '4741234567',
			fault: { kind: 'badRequest', invalidParams: [{ name: 'phoneNumber', reason: 'The user is not a Vipps user.' }] },
		});
		const run = await runWith('continueErrorOutput', ITEMS.slice(0, 2));

		expect(run.error).toBeUndefined();
		const success = run.itemsOf(VIPPS_NODE, 0);
		expect(pairing(success)).toEqual([{ item: 0 }]);
		expect(success[0].json).toEqual(checkedIn('4791234567', true));

		const failed = run.itemsOf(VIPPS_NODE, 1);
		expect(pairing(failed)).toEqual([{ item: 1 }]);
		expect(failed[0].json.error).toMatch(/^Vipps rejected the check-in/);
		expect(JSON.stringify(failed[0].json)).toContain('The user is not a Vipps user.');
		expectNoSecrets(run);
	});
});
