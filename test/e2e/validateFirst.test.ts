/**
 * Validate first, inside real n8n 2.41 (packed package, `n8n execute`): a customer list of 1,000
 * with a landline number at row 600, into a Send Loyalty Check-in left at On Error → Stop Workflow.
 * The node checks every row before its first request: the execution fails naming row 600, and
 * Vipps receives nothing, not even a token request. (Before, rows 0–599 were checked in first,
 * and a rerun of the failed execution sent them again.)
 */
import { customerListWorkflow, itemsOf, manyCustomers, useSimulatorAndN8n } from './support';

const { stack, itN8n } = useSimulatorAndN8n();

const NODE = 'Vipps Check-in';

describe('validate first, inside real n8n', () => {
	itN8n('Stop Workflow, a landline number at row 600 of 1,000: the execution fails naming the row and the field, and nothing is sent', async () => {
		const customers = manyCustomers(1_000);
		customers[600].phone = '23 45 67 89';
		const id = await stack.n8n.importWorkflow(customerListWorkflow('validate first (e2e)', customers, [{ name: NODE }], stack.credential));
		const result = await stack.n8n.execute(id);

		expect(result.ok).toBe(false);
		expect(result.error?.message).toMatch(/^Phone Number: Vipps needs a Norwegian mobile number.*"23 45 67 89"/);
		expect(result.error).toMatchObject({ node: { name: NODE }, context: { itemIndex: 600 } });
		expect(itemsOf(result, NODE)).toEqual([]);
		expect(stack.simulator.requests).toEqual([]);
	});
});
