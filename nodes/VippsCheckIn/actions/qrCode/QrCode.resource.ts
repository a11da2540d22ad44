import type { INodeProperties } from 'n8n-workflow';

import { operationField } from '../common.descriptions';
import * as getPhoneNumber from './getPhoneNumber.operation';

export { getPhoneNumber };

export const description: INodeProperties[] = [
	operationField('qrCode', [
		{
			name: 'Get Phone Number From QR Code',
			value: 'getPhoneNumber',
			description: "Exchange a customer's personal QR code for their phone number",
			action: 'Get phone number from a personal QR code',
		},
	]),
	...getPhoneNumber.description,
];
