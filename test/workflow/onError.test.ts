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

describe('On Error, for an expression that throws for one item only', () => {
	// Item 1 has no shop: `$json.shop.toNumber()` throws for it alone ("toNumber can't be used on undefined value").
	const SHOPS = [
		{ phone: '+47 912 34 567', member: true, shop: '123456' },
		{ phone: '41234567', member: false },
		{ phone: '98765432', member: true, shop: '7654321' },
	];
	const run = (onError: INode['onError']) =>
		runWorkflow(checkInWorkflow({ items: SHOPS, options: { merchantSerialNumber: '={{ $json.shop.toNumber() }}' }, onError }), {
			credentials: [simulatorCredential(simulator)],
		});
	const sentTo = () => simulator.checkInRequests().map((request) => `${(request.body as IDataObject).phoneNumber} ${request.headers['merchant-serial-number']}`);

	it('Stop Workflow: the node stops naming that item, before anything is sent', async () => {
		const result = await run('stopWorkflow');

		expect(result.error?.message).toBe('Option "Merchant Serial Number": toNumber can\'t be used on undefined value');
		expect((result.error as unknown as { context: { itemIndex: number } }).context.itemIndex).toBe(1);
		expect(result.itemsOf(VIPPS_NODE)).toEqual([]);
		expect(simulator.requests).toEqual([]);
	});

	it('Continue: that item is an error item, the others are sent with their own MSN', async () => {
		const result = await run('continueRegularOutput');

		const output = result.itemsOf(VIPPS_NODE);
		expect(pairing(output)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }]);
		expect(output[1].json).toEqual({
			error: 'Option "Merchant Serial Number": toNumber can\'t be used on undefined value',
			details: {
				description: 'Nothing was sent for this item: the expression of Option "Merchant Serial Number" failed for it.',
				attempts: 0,
				possibleDuplicate: false,
			},
		});
		expect(output.map((item) => item.json.merchantSerialNumber ?? null)).toEqual(['123456', null, '7654321']);
		expect(sentTo().sort()).toEqual(['4791234567 123456', '4798765432 7654321']);
	});

	it('Continue (using error output): that item alone on the error output', async () => {
		const result = await run('continueErrorOutput');

		expect(pairing(result.itemsOf(VIPPS_NODE, 0))).toEqual([{ item: 0 }, { item: 2 }]);
		const failed = result.itemsOf(VIPPS_NODE, 1);
		expect(pairing(failed)).toEqual([{ item: 1 }]);
		expect(failed[0].json).toMatchObject({ phone: '41234567', error: expect.stringMatching(/^Option "Merchant Serial Number": /) });
		expect(sentTo().sort()).toEqual(['4791234567 123456', '4798765432 7654321']);
	});
});

describe('an MSN expression that gives nothing for one item', () => {
	// n8n gives `$json.shop.msn.trim()` no error but an empty value for an item without `shop`: sent,
	// that customer would be checked in under the credential's MSN, perhaps at another shop.
	it('fails that item alone, naming the option; the others are sent with their own MSN', async () => {
		const items = [
			{ phone: '91234567', member: true, shop: { msn: ' 123456 ' } },
			{ phone: '41234567', member: true },
		];
		const result = await runWorkflow(
			checkInWorkflow({ items, options: { merchantSerialNumber: '={{ $json.shop.msn.trim() }}' }, onError: 'continueRegularOutput' }),
			{ credentials: [simulatorCredential(simulator)] },
		);

		const output = result.itemsOf(VIPPS_NODE);
		expect(pairing(output)).toEqual([{ item: 0 }, { item: 1 }]);
		expect(output[0].json).toMatchObject({ phoneNumber: '4791234567', merchantSerialNumber: '123456' });
		expect(output[1].json.error).toBe('Option "Merchant Serial Number": its expression gave no value for this item');
		expect(simulator.checkInRequests().map((request) => (request.body as IDataObject).phoneNumber)).toEqual(['4791234567']);
	});
});

describe('On Error: the facts of a failed check-in, as fields a workflow can route on', () => {
	/** Item 0 is refused (400); item 1 gets 503 twice, so it may have reached Vipps twice. */
	function injectFailures(): void {
		simulator.injectFault({
			path: PATHS.checkIn,
			phoneNumber: '4791234567',
			fault: { kind: 'badRequest', invalidParams: [{ name: 'phoneNumber', reason: 'The user is not a Vipps user.' }] },
		});
		simulator.injectFault({ path: PATHS.checkIn, phoneNumber: '4741234567', fault: { kind: 'status', status: 503 }, times: 2 });
	}
	const refused = {
		error: expect.stringMatching(/^Vipps rejected the check-in/),
		details: {
			description: expect.stringContaining('The user is not a Vipps user.'),
			httpCode: '400',
			phoneNumber: '4791234567',
			isMember: true,
			attempts: 1,
			possibleDuplicate: false,
		},
	};
	const mayHaveArrived = {
		error: 'Vipps was unavailable for the check-in (HTTP 503), after 2 attempts',
		details: {
			description: expect.stringContaining('Vipps may have received it all the same'),
			httpCode: '503',
			phoneNumber: '4741234567',
			isMember: false,
			attempts: 2,
			possibleDuplicate: true,
		},
	};

	it('Continue: on the regular output', async () => {
		injectFailures();
		const run = await runWith('continueRegularOutput', ITEMS.slice(0, 2));

		expect(run.itemsOf(VIPPS_NODE, 0)).toEqual([
			{ json: refused, pairedItem: { item: 0 } },
			{ json: mayHaveArrived, pairedItem: { item: 1 } },
		]);
		expectNoSecrets(run);
	});

	it('Continue (using error output): on the error output, beside the input fields n8n adds', async () => {
		injectFailures();
		const run = await runWith('continueErrorOutput', ITEMS.slice(0, 2));

		expect(run.itemsOf(VIPPS_NODE, 0)).toEqual([]);
		expect(run.itemsOf(VIPPS_NODE, 1)).toEqual([
			{ json: { ...ITEMS[0], ...refused }, pairedItem: { item: 0 } },
			{ json: { ...ITEMS[1], ...mayHaveArrived }, pairedItem: { item: 1 } },
		]);
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
	{
		what: 'Concurrency written as an expression (it describes the whole run and takes none)',
		options: { concurrency: '={{ $json.lane }}' },
		error: /^Concurrency must be a whole number from 1 to \d+; got \{\{ \$json\.lane \}\}/,
	},
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
