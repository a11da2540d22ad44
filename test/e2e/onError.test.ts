/**
 * The node's Settings → On Error inside real n8n: one workflow, one `n8n execute`, three copies
 * of the node fed the same three customers (two good mobile numbers and "abc"), one copy per
 * setting. n8n runs the copies top to bottom, so the Stop copy runs last and its failure ends
 * the execution after the two Continue copies have put out their items.
 */
import type { INodeExecutionData } from 'n8n-workflow';

import { simulatorCredential } from '../workflow/fixtures';

import type { RecordedRequest } from '../../simulator/VippsSimulator';
import { CHECK_IN_ID, useSimulatorAndN8n, customerListWorkflow, itemsOf, jsonOf } from './support';


const { stack, itN8n } = useSimulatorAndN8n();

const CUSTOMERS = [
	{ phone: '+47 912 34 567', member: true },
	{ phone: '41234567', member: false },
	{ phone: 'abc', member: true },
];

const CONTINUE = 'On Error: Continue';
const ERROR_OUTPUT = 'On Error: Continue (using error output)';
const STOP = 'On Error: Stop Workflow';

const pairing = (items: INodeExecutionData[]) => items.map((item) => item.pairedItem);
const statuses = (requests: RecordedRequest[]) => requests.map((request) => request.status);

/** A check-in answered 200 at the first attempt. */
const checkedIn = (phoneNumber: string, isMember: boolean) => ({
	checkInId: expect.stringMatching(CHECK_IN_ID),
	attempts: 1,
	possibleDuplicate: false,
	phoneNumber,
	isMember,
	merchantSerialNumber: '123456',
});

const BAD_PHONE = /^Phone Number: .*"abc"/;

describe('On Error, inside real n8n', () => {
	itN8n('Continue puts every item on the success output; Continue (using error output) routes the bad one to the error output; Stop fails the execution naming the item', async () => {
		const workflow = customerListWorkflow(
			'On Error: all three settings',
			CUSTOMERS,
			[
				{ name: CONTINUE, onError: 'continueRegularOutput' },
				{ name: ERROR_OUTPUT, onError: 'continueErrorOutput' },
				{ name: STOP, onError: 'stopWorkflow' },
			],
			stack.credential,
		);
		const id = await stack.n8n.importWorkflow(workflow);
		const result = await stack.n8n.execute(id);

		// Continue: three items, paired and in order; the bad one explains itself.
		const regular = itemsOf(result, CONTINUE, 0);
		expect(pairing(regular)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }]);
		expect(jsonOf(regular.slice(0, 2))).toEqual([checkedIn('4791234567', true), checkedIn('4741234567', false)]);
		expect(regular[2].json.error).toMatch(BAD_PHONE);
		expect(regular[2].json).not.toHaveProperty('checkInId');
		expect(itemsOf(result, CONTINUE, 1)).toEqual([]);

		// Continue (using error output): the good items on output 0, the bad one on output 1 (run.data.resultData.runData[name][0].data.main[1]).
		const success = itemsOf(result, ERROR_OUTPUT, 0);
		expect(pairing(success)).toEqual([{ item: 0 }, { item: 1 }]);
		expect(jsonOf(success)).toEqual([checkedIn('4791234567', true), checkedIn('4741234567', false)]);
		const failed = itemsOf(result, ERROR_OUTPUT, 1);
		expect(pairing(failed)).toEqual([{ item: 2 }]);
		expect(failed[0].json).toMatchObject({ phone: 'abc', error: expect.stringMatching(BAD_PHONE) });

		// Stop: the execution fails with the item's error, and the node puts out nothing.
		expect(result.ok).toBe(false);
		expect(result.error?.message).toMatch(BAD_PHONE);
		expect(result.error).toMatchObject({ node: { name: STOP }, context: { itemIndex: 2 } });
		expect(itemsOf(result, STOP, 0)).toEqual([]);

		// The two Continue copies sent both good numbers; nobody sent "abc".
		const sent = stack.simulator.checkInRequests().map((request) => (request.body as { phoneNumber: string }).phoneNumber);
		expect(sent.filter((phone) => phone === '4741234567').length).toBeGreaterThanOrEqual(2);
		expect(sent.every((phone) => ['4791234567', '4741234567'].includes(phone))).toBe(true);
		expect(statuses(stack.simulator.checkInRequests()).filter((status) => status !== 200)).toEqual([]);

		// No key and no access token in anything n8n printed or stored for the run.
		const visible = `${result.rawStdout}\n${result.logTail}\n${JSON.stringify(result.runData)}\n${JSON.stringify(result.error)}`;
		for (const secret of [stack.simulator.keys.clientSecret, stack.simulator.keys.subscriptionKey, ...stack.simulator.issuedTokens()]) {
			expect(visible).not.toContain(secret);
		}
	});
});

describe('On Error for a problem of the whole node, inside real n8n', () => {
	const BAD_CREDENTIAL = 'Client Secret with a line break: Continue (using error output)';
	const BAD_CONCURRENCY = 'Concurrency 0: Continue (using error output)';
	const UNCLEAR_DRY_RUN = 'Dry Run "maybe": Continue';
	const BAD_WINDOW = 'Skip Repeats within 0 minutes: Continue (using error output)';

	itN8n('a credential or an option the node refuses: every input item comes out as an error item naming it, none as a success, and nothing reaches Vipps', async () => {
		stack.simulator.resetLog();
		const { id: _harnessId, data, ...simulatorKeys } = simulatorCredential(stack.simulator);
		// A line break inside the secret, as when it was copied across a wrapped line (one at either end is trimmed).
		const secret = data.clientSecret as string;
		const [pastedWithNewline] = await stack.n8n.importCredentials([
			{ ...simulatorKeys, name: 'Vipps MobilePay API (secret pasted with a line break)', data: { ...data, clientSecret: `${secret.slice(0, 12)}\n${secret.slice(12)}` } },
		]);
		const workflow = customerListWorkflow(
			'On Error: whole-node failures',
			CUSTOMERS.slice(0, 2),
			[
				{ name: BAD_CREDENTIAL, onError: 'continueErrorOutput' },
				{ name: BAD_CONCURRENCY, onError: 'continueErrorOutput', options: { concurrency: 0 } },
				{ name: UNCLEAR_DRY_RUN, onError: 'continueRegularOutput', options: { dryRun: '={{ "maybe" }}' } },
				{ name: BAD_WINDOW, onError: 'continueErrorOutput', options: { skipRepeats: 'minutes', skipRepeatsMinutes: 0 } },
			],
			stack.credential,
		);
		const badCredentialNode = workflow.nodes.find((node) => node.name === BAD_CREDENTIAL)!;
		badCredentialNode.credentials = { vippsMobilePayApi: { id: pastedWithNewline.id, name: pastedWithNewline.name } };
		const id = await stack.n8n.importWorkflow(workflow);
		const result = await stack.n8n.execute(id);

		expect(result.error).toBeNull();
		const expectErrorItems = (items: INodeExecutionData[], error: RegExp) => {
			expect(pairing(items)).toEqual([{ item: 0 }, { item: 1 }]);
			expect(items.map((item) => item.json.error)).toEqual([expect.stringMatching(error), expect.stringMatching(error)]);
		};
		expectErrorItems(itemsOf(result, BAD_CREDENTIAL, 1), /^The Vipps MobilePay API credential is not valid: Client Secret contains a line break/);
		expect(itemsOf(result, BAD_CREDENTIAL, 0)).toEqual([]);
		expectErrorItems(itemsOf(result, BAD_CONCURRENCY, 1), /^Concurrency must be a whole number from 1 to \d+; got 0/);
		expect(itemsOf(result, BAD_CONCURRENCY, 0)).toEqual([]);
		expectErrorItems(itemsOf(result, UNCLEAR_DRY_RUN, 0), /^Option "Dry Run": Expected true or false/);
		expectErrorItems(itemsOf(result, BAD_WINDOW, 1), /^Skip Repeats Within \(Minutes\) must be more than 0/);
		expect(itemsOf(result, BAD_WINDOW, 0)).toEqual([]);

		expect(stack.simulator.requests).toEqual([]);
		expect(`${result.rawStdout}\n${result.logTail}`).not.toContain(stack.simulator.keys.clientSecret);
	});
});
