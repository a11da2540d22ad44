/**
 * The input rules inside real n8n 2.41 (packed package, `n8n execute`), in ONE execution: a
 * customer list with a mobile and a landline number goes to a Send Loyalty Check-in and, beside
 * it, to a Dry Run given as an expression. The landline is refused with the reason and never
 * reaches Vipps; the dry run sends nothing.
 */
import type { INode } from 'n8n-workflow';

import { PATHS } from '../../simulator/VippsSimulator';
import { CHECK_IN_ID, useSimulatorAndN8n, VIPPS_NODE_TYPE, itemsOf, jsonOf, type WorkflowJson } from './support';


const { stack, itN8n } = useSimulatorAndN8n();

const CUSTOMERS = [
	{ name: 'Kari Nordmann', phone: '+47 912 34 567' },
	{ name: 'Oslo office', phone: '23 45 67 89' },
];

function vippsNode(name: string, y: number, options: INode['parameters']): INode {
	return {
		id: name,
		name,
		type: VIPPS_NODE_TYPE,
		typeVersion: 1,
		position: [660, y],
		parameters: { resource: 'checkIn', operation: 'send', phoneNumber: '={{ $json.phone }}', isMember: true, options },
		credentials: { vippsMobilePayApi: { id: stack.credential.id, name: stack.credential.name } },
		onError: 'continueRegularOutput',
	};
}

function inputRulesWorkflow(): WorkflowJson {
	const nodes: INode[] = [
		{ id: 'start', name: 'Start', type: 'n8n-nodes-base.manualTrigger', typeVersion: 1, position: [0, 0], parameters: {} },
		{
			id: 'list',
			name: 'Customer list',
			type: 'n8n-nodes-base.set',
			typeVersion: 3.5,
			position: [220, 0],
			parameters: { mode: 'raw', jsonOutput: JSON.stringify({ customers: CUSTOMERS }), options: {} },
		},
		{
			id: 'split',
			name: 'One item per customer',
			type: 'n8n-nodes-base.splitOut',
			typeVersion: 1,
			position: [440, 0],
			parameters: { fieldToSplitOut: 'customers', options: {} },
		},
		vippsNode('Vipps Check-in', 0, {}),
		vippsNode('Dry run by expression', 200, { dryRun: '={{ "yes" }}' }),
	];
	const to = (...names: string[]) => ({ main: [names.map((node) => ({ node, type: 'main' as const, index: 0 }))] });
	return {
		name: 'input rules (e2e)',
		nodes,
		connections: {
			Start: to('Customer list'),
			'Customer list': to('One item per customer'),
			'One item per customer': to('Vipps Check-in', 'Dry run by expression'),
		},
	};
}

describe('input rules, executed by `n8n execute`', () => {
	itN8n('a landline number is refused with the reason and nothing reaches Vipps for it; a Dry Run given as "yes" sends nothing', async () => {
		const id = await stack.n8n.importWorkflow(inputRulesWorkflow());
		const result = await stack.n8n.execute(id);

		expect(result.error).toBeNull();
		const sent = itemsOf(result, 'Vipps Check-in');
		expect(sent.map((item) => item.pairedItem)).toEqual([{ item: 0 }, { item: 1 }]);
		expect(jsonOf(sent)).toEqual([
			expect.objectContaining({ checkInId: expect.stringMatching(CHECK_IN_ID), phoneNumber: '4791234567', isMember: true, merchantSerialNumber: '123456' }),
			{
				error:
					'Phone Number: Vipps needs a Norwegian mobile number, 8 digits starting with 4 or 9; this one starts with 2, so it looks like a landline or service number; got the text "23 45 67 89" (8 digits)',
				details: { description: expect.stringMatching(/^Nothing was sent for this item\./), attempts: 0, possibleDuplicate: false },
			},
		]);
		const dryRun = jsonOf(itemsOf(result, 'Dry run by expression'));
		expect(dryRun.map((item) => item.dryRun ?? item.error)).toEqual([true, expect.stringMatching(/^Phone Number: Vipps needs a Norwegian mobile number/)]);

		// One token and one check-in, for the mobile number only.
		expect(stack.simulator.requests.map((request) => `${request.status} ${request.path}`)).toEqual([`200 ${PATHS.accessToken}`, `200 ${PATHS.checkIn}`]);
		expect(stack.simulator.checkInRequests().map((request) => request.body)).toEqual([{ phoneNumber: '4791234567', isMember: true }]);
	});
});
