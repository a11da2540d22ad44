import type { INodeProperties } from 'n8n-workflow';

import * as send from './send.operation';

export { send };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['checkIn'] } },
		options: [
			{
				name: 'Send Loyalty Check-In',
				value: 'send',
				description: "Show the customer's loyalty membership in their Vipps app",
				action: 'Send a loyalty check in',
			},
		],
		default: 'send',
	},
	...send.description,
];
