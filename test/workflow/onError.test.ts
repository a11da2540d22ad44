/**
 * The node's Settings → On Error, all three choices, through n8n's engine. With "Continue (using
 * error output)" n8n moves an item to the error output only when it carries its error the way
 * n8n's own nodes do (WorkflowExecute.handleNodeErrorOutput: `item.error`, or `json` holding only
 * `error`, `message` and `details`); anything else stays on the success output.
 */
import type { IDataObject, INode, INodeExecutionData } from 'n8n-workflow';

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

/** A check-in answered 200 at the first attempt. */
const checkedIn = (phoneNumber: string, isMember: boolean) => ({
	checkInId: expect.any(String),
	attempts: 1,
	possibleDuplicate: false,
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

/**
 * A problem of the whole node, not of one item: n8n itself, when a node throws under a Continue
 * setting, passes the input items on as if they had succeeded (WorkflowExecute
 * .handleNodeExecutionError). The node must turn such a problem into one error item per input.
 */
interface WholeNodeFailure {
	what: string;
	/** The credential's fields that differ from the simulator's good ones. */
	credential?: IDataObject;
	parameters?: IDataObject;
	options?: IDataObject;
	error: RegExp;
}

const WHOLE_NODE_FAILURES: WholeNodeFailure[] = [
	{
		what: 'a Client Secret pasted with a line break',
		credential: { clientSecret: 'secret-part-one\nsecret-part-two' },
		error: /^The Vipps MobilePay API credential is not valid: Client Secret contains a line break/,
	},
	{
		what: "an invalid MSN in the credential",
		credential: { merchantSerialNumber: 'MSN-12' },
		error: /^The Vipps MobilePay API credential is not valid: Merchant Serial Number must be 4 to 7 digits/,
	},
	{ what: 'Concurrency 0', options: { concurrency: 0 }, error: /^Concurrency must be a whole number from 1 to \d+; got 0/ },
	{ what: 'Max Requests per Second below 0', options: { maxRequestsPerSecond: -5 }, error: /Max Requests per Second must be 0 or more; got -5/ },
	{ what: 'a Timeout of 50 ms', options: { timeout: 50 }, error: /Timeout must be at least 100 ms; got 50/ },
	{ what: 'a Dry Run expression that gives "maybe"', options: { dryRun: '={{ "maybe" }}' }, error: /^Option "Dry Run": Expected true or false/ },
	{
		what: 'Skip Repeats within 0 minutes',
		options: { skipRepeats: 'minutes', skipRepeatsMinutes: 0 },
		error: /^Skip Repeats Within \(Minutes\) must be more than 0; got 0/,
	},
	{ what: 'an unknown Skip Repeats choice', options: { skipRepeats: 'weekly' }, error: /^Skip Repeats: unknown choice "weekly"/ },
	{ what: 'an unknown operation', parameters: { operation: 'cancel' }, error: /^The operation "cancel" of "checkIn" is not supported/ },
	{
		what: 'a Client Secret with a line break, in Get Phone Number From QR Code',
		credential: { clientSecret: 'secret-part-one\r\nsecret-part-two' },
		parameters: { resource: 'qrCode', operation: 'getPhoneNumber', qrCode: '={{ $json.phone }}' },
		error: /^The Vipps MobilePay API credential is not valid: Client Secret contains a line break/,
	},
];

describe('On Error, for a problem of the whole node (credential, options, operation): one error item per input, nothing sent', () => {
	function runFailing(failure: WholeNodeFailure, onError: INode['onError']): Promise<WorkflowRun> {
		const workflow = checkInWorkflow({ items: ITEMS.slice(0, 2), parameters: failure.parameters, options: failure.options, onError });
		return runWorkflow(workflow, { credentials: [simulatorCredential(simulator, failure.credential)] });
	}

	/** One error item per input item, paired and in input order, each naming the problem. */
	function expectErrorItems(items: INodeExecutionData[], error: RegExp): void {
		expect(pairing(items)).toEqual([{ item: 0 }, { item: 1 }]);
		for (const item of items) expect(item.json.error).toMatch(error);
		expect(items.map((item) => item.json)).not.toContainEqual(expect.objectContaining({ checkInId: expect.anything() }));
	}

	describe.each(WHOLE_NODE_FAILURES)('$what', (failure) => {
		it('Stop Workflow: the execution fails with that error; the node puts out nothing', async () => {
			const run = await runFailing(failure, 'stopWorkflow');

			expect(run.error?.message).toMatch(failure.error);
			expect(run.itemsOf(VIPPS_NODE, 0)).toEqual([]);
			expect(simulator.requests).toEqual([]);
			expectNoSecrets(run);
		});

		it('Continue: every input comes out as an error item on the success output, none as a success', async () => {
			const run = await runFailing(failure, 'continueRegularOutput');

			expect(run.error).toBeUndefined();
			expectErrorItems(run.itemsOf(VIPPS_NODE, 0), failure.error);
			expect(run.itemsOf(VIPPS_NODE, 1)).toEqual([]);
			expect(simulator.requests).toEqual([]);
			expectNoSecrets(run);
		});

		it('Continue (using error output): every input comes out on the error output, the success output stays empty', async () => {
			const run = await runFailing(failure, 'continueErrorOutput');

			expect(run.error).toBeUndefined();
			expect(run.itemsOf(VIPPS_NODE, 0)).toEqual([]);
			const failed = run.itemsOf(VIPPS_NODE, 1);
			expectErrorItems(failed, failure.error);
			// n8n adds the input item's fields to an error item: the user sees which customer it was.
			expect(failed.map((item) => item.json.phone)).toEqual([ITEMS[0].phone, ITEMS[1].phone]);
			expect(simulator.requests).toEqual([]);
			expectNoSecrets(run);
		});
	});
});
