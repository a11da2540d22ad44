/**
 * Every switch read per item, inside real n8n 2.41 (packed package, `n8n execute`, n8n's own
 * expression engine): one workflow, one run, three customers into two copies of the node.
 *
 * - "Dry Run per item" (On Error: Continue), Dry Run `{{ $json.test }}`: the customer marked as a
 *   test is described and never sent; the others are sent.
 * - "MSN per item" (On Error: Continue (using error output)), Merchant Serial Number
 *   `{{ $json.shop.toNumber() }}`: the customer without a shop fails alone, on the error output.
 *   (n8n gives `{{ $json.shop.msn.trim() }}` no error but an empty value for such a customer:
 *   the option is then left out, and the credential's MSN is sent.)
 *
 * Vipps refuses every check-in of the third customer (400), so both copies also put out a refused
 * check-in's error item with its facts: on the regular output of the first, on the error output
 * of the second.
 */
import { PATHS } from '../../simulator/VippsSimulator';
import { CHECK_IN_ID, customerListWorkflow, itemsOf, jsonOf, useSimulatorAndN8n } from './support';

const { stack, itN8n } = useSimulatorAndN8n();

const DRY_RUN = 'Dry Run per item';
const MSN = 'MSN per item';

const CUSTOMERS = [
	{ phone: '91234567', member: true, test: false, shop: '123456' },
	// No shop: `$json.shop.toNumber()` throws for this customer alone.
	{ phone: '41234567', member: false, test: true },
	{ phone: '98765432', member: true, test: false, shop: '7654321' },
];

/** The error item of the refused third customer, as the node puts it out. */
const refused = {
	error: expect.stringMatching(/^Vipps rejected the check-in/),
	details: {
		description: expect.stringContaining('Not a Vipps user'),
		httpCode: '400',
		phoneNumber: '4798765432',
		isMember: true,
		attempts: 1,
		possibleDuplicate: false,
	},
};

describe('every switch read per item, inside real n8n', () => {
	itN8n('a mixed Dry Run batch sends only the non-dry items; a throwing MSN expression fails its item alone; error items carry their facts on either output', async () => {
		stack.simulator.injectFault({
			path: PATHS.checkIn,
			phoneNumber: '4798765432',
			fault: { kind: 'badRequest', invalidParams: [{ name: 'phoneNumber', reason: 'Not a Vipps user' }] },
			times: Infinity,
		});
		const workflow = customerListWorkflow(
			'every switch per item (e2e)',
			CUSTOMERS,
			[
				{ name: DRY_RUN, onError: 'continueRegularOutput', options: { dryRun: '={{ $json.test }}' } },
				{ name: MSN, onError: 'continueErrorOutput', options: { merchantSerialNumber: '={{ $json.shop.toNumber() }}' } },
			],
			stack.credential,
		);
		const result = await stack.n8n.execute(await stack.n8n.importWorkflow(workflow));
		expect(result.error).toBeNull();

		// Dry Run per item: the test customer is described, the others are sent (the third refused).
		expect(jsonOf(itemsOf(result, DRY_RUN, 0))).toEqual([
			expect.objectContaining({ checkInId: expect.stringMatching(CHECK_IN_ID), phoneNumber: '4791234567' }),
			expect.objectContaining({ dryRun: true, phoneNumber: '4741234567' }),
			refused,
		]);

		// MSN per item: the customer without a shop alone on the error output, nothing sent for it.
		expect(jsonOf(itemsOf(result, MSN, 0))).toEqual([
			expect.objectContaining({ checkInId: expect.stringMatching(CHECK_IN_ID), merchantSerialNumber: '123456' }),
		]);
		const failed = itemsOf(result, MSN, 1);
		expect(failed.map((item) => item.pairedItem)).toEqual([{ item: 1 }, { item: 2 }]);
		expect(jsonOf(failed)).toEqual([
			{ ...CUSTOMERS[1], error: expect.stringMatching(/^Option "Merchant Serial Number": .*toNumber/), details: expect.objectContaining({ attempts: 0, possibleDuplicate: false }) },
			{ ...CUSTOMERS[2], ...refused },
		]);

		// The test customer never reached Vipps; each copy sent the first and the third.
		const sent = stack.simulator.checkInRequests().map((request) => `${(request.body as { phoneNumber: string }).phoneNumber} ${request.headers['merchant-serial-number']}`);
		expect(sent.sort()).toEqual(['4791234567 123456', '4791234567 123456', '4798765432 123456', '4798765432 7654321']);
	});
});
