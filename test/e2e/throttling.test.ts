/**
 * Behind a throttling gateway, inside real n8n: Azure API Management counting fixed one-second
 * windows and answering the surplus 429 at once, before the backend's latency. Default options.
 * Every customer is checked in exactly once, no item fails, and the node learns the gateway's
 * rate from its 429s: counted in requests, refused fewer times than there are customers (the first
 * burst of 128, then paced). A node that learned nothing would send every refused item back each
 * second (over a thousand refusals). The latency is long (1 s) so that, whatever the machine's
 * load, the 429s for the surplus come back before any admitted request's answer.
 */
import { CHECK_IN_ID, ONE_ITEM_PER_CUSTOMER, customerListWorkflow, itemsOf, manyCustomers, useSimulatorAndN8n } from './support';

const { stack, itN8n } = useSimulatorAndN8n();

const LIMIT = 20;
const CUSTOMERS = 300;
const NODE = 'Vipps Check-in';

afterEach(() => {
	stack.simulator.setGatewayLimit(undefined);
	stack.simulator.setLatency(0);
});

describe('behind a gateway whose 429s come at once, inside real n8n', () => {
	itN8n(`${CUSTOMERS} customers at ${LIMIT} requests per second, fixed windows: each checked in once, none failed, refused fewer times than there are customers`, async () => {
		const customers = manyCustomers(CUSTOMERS);
		const id = await stack.n8n.importWorkflow(
			customerListWorkflow('Behind a throttling gateway', customers, [{ name: NODE }], stack.credential),
		);
		stack.simulator.resetLog();
		stack.simulator.setLatency(1_000);
		stack.simulator.setGatewayLimit({ requestsPerSecond: LIMIT, window: 'fixed', throttle: 'instant' });

		const result = await stack.n8n.execute(id);

		expect(result.error).toBeNull();
		const output = itemsOf(result, NODE);
		expect(output.map((item) => item.pairedItem)).toEqual(customers.map((_, item) => ({ item })));
		expect(output.filter((item) => !CHECK_IN_ID.test(String(item.json.checkInId)))).toEqual([]);
		expect(itemsOf(result, ONE_ITEM_PER_CUSTOMER)).toHaveLength(CUSTOMERS);

		const checkIns = stack.simulator.checkInRequests();
		const accepted = checkIns.filter((request) => request.status === 200).map((request) => (request.body as { phoneNumber: string }).phoneNumber);
		expect(accepted.sort()).toEqual(customers.map((customer) => `47${customer.phone}`).sort());
		const refusals = checkIns.filter((request) => request.status === 429).length;
		expect(refusals).toBeGreaterThan(0);
		expect(refusals).toBeLessThan(CUSTOMERS);
		expect(stack.simulator.tokenRequests()).toHaveLength(1);
	});
});
