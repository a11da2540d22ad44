import type { INodeProperties } from 'n8n-workflow';

import { operationField } from '../common.descriptions';
import * as send from './send.operation';

export { send };

export const description: INodeProperties[] = [
	operationField('checkIn', [
		{
			name: 'Send Loyalty Check-In',
			value: 'send',
			description: "Show the customer's loyalty membership in their Vipps app",
			action: 'Send a loyalty check in',
		},
	]),
	...send.description,
];
