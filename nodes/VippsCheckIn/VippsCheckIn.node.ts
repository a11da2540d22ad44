import {
	NodeConnectionTypes,
	type IExecuteFunctions,
	type INodeExecutionData,
	type INodeType,
	type INodeTypeDescription,
} from 'n8n-workflow';

import * as checkIn from './actions/checkIn/CheckIn.resource';
import * as qrCode from './actions/qrCode/QrCode.resource';
import { router } from './actions/router';

export class VippsCheckIn implements INodeType {
	description: INodeTypeDescription = {
		displayName: 'Vipps Check-in',
		name: 'vippsCheckIn',
		icon: { light: 'file:vippsCheckIn.svg', dark: 'file:vippsCheckIn.dark.svg' },
		group: ['output'],
		version: 1,
		subtitle: '={{ $parameter["operation"] === "send" ? "Send loyalty check-in" : "Get phone number from QR code" }}',
		description: "Show a customer's loyalty membership in their Vipps MobilePay app (Vipps Check-in API)",
		defaults: { name: 'Vipps Check-in' },
		usableAsTool: true,
		inputs: [NodeConnectionTypes.Main],
		outputs: [NodeConnectionTypes.Main],
		credentials: [{ name: 'vippsMobilePayApi', required: true }],
		properties: [
			// The node cannot see which environment its credential uses, so the notice is true for all of them.
			{
				displayName:
					"Vipps's test environment (MT) answers every check-in with 500, by design. Check in with Production keys (a check-in moves no money), or try the node with the Dry Run option or a simulator at a Custom Base URL.",
				name: 'productionNotice',
				type: 'notice',
				default: '',
				displayOptions: { show: { resource: ['checkIn'] } },
			},
			{
				displayName: 'Resource',
				name: 'resource',
				type: 'options',
				noDataExpression: true,
				options: [
					{ name: 'Check-In', value: 'checkIn' },
					{ name: 'Personal QR Code', value: 'qrCode' },
				],
				default: 'checkIn',
			},
			...checkIn.description,
			...qrCode.description,
		],
	};

	async execute(this: IExecuteFunctions): Promise<INodeExecutionData[][]> {
		return await router.call(this);
	}
}
