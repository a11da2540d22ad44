import type { INodeProperties } from 'n8n-workflow';

import * as getPhoneNumber from './getPhoneNumber.operation';

export { getPhoneNumber };

export const description: INodeProperties[] = [
	{
		displayName: 'Operation',
		name: 'operation',
		type: 'options',
		noDataExpression: true,
		displayOptions: { show: { resource: ['qrCode'] } },
		options: [
			{
				name: 'Get Phone Number From QR Code',
				value: 'getPhoneNumber',
				description: "Exchange a customer's personal QR code for their phone number",
				action: 'Get phone number from a personal QR code',
			},
		],
		default: 'getPhoneNumber',
	},
	...getPhoneNumber.description,
];
